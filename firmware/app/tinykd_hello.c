#include "tinykd_hello.h"

#include <string.h>

#include "inference.h"
#include "model.h"
#include "protocol.h"

static void put_f32(uint8_t *out, float v)
{
    uint32_t bits;
    memcpy(&bits, &v, sizeof bits);
    tkp_put_u32(out, bits);
}

static void put_shape(uint8_t *out, const int32_t *dims, unsigned rank)
{
    for (unsigned i = 0; i < 4; i++) {
        tkp_put_u16(out + 2 * i, (uint16_t)(i < rank ? dims[i] : 0));
    }
}

void tinykd_hello(uint8_t out[TINYKD_HELLO_BYTES], uint16_t max_request)
{
    static const int32_t in_shape[] = TINYKD_INPUT_SHAPE;
    static const int32_t out_shape[] = TINYKD_OUTPUT_SHAPE;
    static const char sha[] = TINYKD_MODEL_SHA256;
    static const char board[] = BOARD_NAME;
    _Static_assert(sizeof sha == 65, "TINYKD_MODEL_SHA256 must be 64 hex characters");
    _Static_assert(TINYKD_INPUT_RANK <= 4 && TINYKD_OUTPUT_RANK <= 4, "tensor rank above 4");

    uint8_t *p = out;
    tkp_put_u16(p + 0, TKP_VERSION);
    p[2] = (uint8_t)board_timer();
    p[3] = (uint8_t)((inference_profiled_layers() ? TINYKD_HELLO_PROFILE : 0u) |
                     (inference_model_check() != 0 ? TINYKD_HELLO_MODEL_CHECK_FAILED : 0u));
    tkp_put_u32(p + 4, board_core_hz());
    tkp_put_u32(p + 8, TINYKD_ARENA_BYTES);
    tkp_put_u32(p + 12, TINYKD_INPUT_BYTES);
    tkp_put_u32(p + 16, TINYKD_OUTPUT_BYTES);
    tkp_put_u32(p + 20, (uint32_t)TINYKD_MACS);
    tkp_put_u16(p + 24, TINYKD_NUM_LAYERS);
    tkp_put_u16(p + 26, max_request);
    p[28] = TINYKD_INPUT_RANK;
    p[29] = TINYKD_OUTPUT_RANK;
    put_shape(p + 30, in_shape, TINYKD_INPUT_RANK);
    put_shape(p + 38, out_shape, TINYKD_OUTPUT_RANK);
    put_f32(p + 46, TINYKD_INPUT_SCALE);
    tkp_put_u32(p + 50, (uint32_t)(int32_t)(TINYKD_INPUT_ZERO_POINT));
    put_f32(p + 54, TINYKD_OUTPUT_SCALE);
    tkp_put_u32(p + 58, (uint32_t)(int32_t)(TINYKD_OUTPUT_ZERO_POINT));
    memcpy(p + 62, sha, 64);
    tkp_put_u32(p + 126, board_uart_overruns());
    memcpy(p + TINYKD_HELLO_FIXED_BYTES, board, sizeof board - 1u);
}
