/*
 * The tinykd binary protocol front-end (protocol.h): boot banner + BOOT frame, then HELLO,
 * INFER, RESET and PROFILE requests. Malformed input gets an ERROR frame and the parser hunts
 * for the next frame; nothing the host sends can stop the loop.
 */
#include <string.h>

#include "board.h"
#include "frontend.h"
#include "inference.h"
#include "model.h"
#include "protocol.h"

#define RX_CAP (TINYKD_INPUT_BYTES > 64 ? TINYKD_INPUT_BYTES : 64)
#if RX_CAP > 65535
#error "the model input does not fit a protocol frame (64 KiB payload limit)"
#endif

/* Request payloads (the model input) are received straight into this buffer. */
static uint8_t rx_payload[RX_CAP] BOARD_SRAM2_BSS;
static int8_t model_output[TINYKD_OUTPUT_BYTES] BOARD_SRAM2_BSS;

/* Frames are written in pieces so the output tensor is never copied. */
static uint16_t frame_crc;

static void frame_begin(uint8_t type, uint8_t seq, uint16_t len)
{
    uint8_t header[TKP_HEADER_BYTES];
    frame_crc = tkp_header(header, type, seq, len);
    board_uart_write(header, sizeof header);
}

static void frame_part(const void *data, uint16_t len)
{
    frame_crc = tkp_crc16(frame_crc, data, len);
    board_uart_write(data, len);
}

static void frame_end(void)
{
    uint8_t crc[TKP_CRC_BYTES];
    tkp_put_u16(crc, frame_crc);
    board_uart_write(crc, sizeof crc);
}

static void send_error(uint8_t code, uint8_t type, uint8_t seq)
{
    const uint8_t payload[3] = {code, type, seq};
    frame_begin(TKP_ERROR, seq, sizeof payload);
    frame_part(payload, sizeof payload);
    frame_end();
}

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

/* HELLO payload, version 1 (offsets in bytes; see src/tinykd/device/protocol.py HELLO_FORMAT):
 *   0 u16 protocol version      2 u8 timer (0 DWT, 1 SysTick)  3 u8 flags (bit0: PROFILE)
 *   4 u32 core clock Hz         8 u32 arena bytes             12 u32 input bytes
 *  16 u32 output bytes         20 u32 MACs per inference      24 u16 layers
 *  26 u16 max request payload  28 u8 input rank               29 u8 output rank
 *  30 u16[4] input shape       38 u16[4] output shape
 *  46 f32 input scale          50 i32 input zero point
 *  54 f32 output scale         58 i32 output zero point
 *  62 char[64] sha256 of the deployed .tflite (lower-case hex)
 * 126 u32 UART bytes dropped since boot
 * 130 board name (ASCII, rest of the payload) */
#define HELLO_FIXED_BYTES 130u

static void send_hello(uint8_t seq)
{
    static const int32_t in_shape[] = TINYKD_INPUT_SHAPE;
    static const int32_t out_shape[] = TINYKD_OUTPUT_SHAPE;
    static const char sha[] = TINYKD_MODEL_SHA256;
    static const char board[] = BOARD_NAME;
    _Static_assert(sizeof sha == 65, "TINYKD_MODEL_SHA256 must be 64 hex characters");
    _Static_assert(TINYKD_INPUT_RANK <= 4 && TINYKD_OUTPUT_RANK <= 4, "tensor rank above 4");

    uint8_t p[HELLO_FIXED_BYTES];
    tkp_put_u16(p + 0, TKP_VERSION);
    p[2] = (uint8_t)board_timer();
    p[3] = inference_profiled_layers() ? 1u : 0u;
    tkp_put_u32(p + 4, board_core_hz());
    tkp_put_u32(p + 8, TINYKD_ARENA_BYTES);
    tkp_put_u32(p + 12, TINYKD_INPUT_BYTES);
    tkp_put_u32(p + 16, TINYKD_OUTPUT_BYTES);
    tkp_put_u32(p + 20, (uint32_t)TINYKD_MACS);
    tkp_put_u16(p + 24, TINYKD_NUM_LAYERS);
    tkp_put_u16(p + 26, RX_CAP);
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

    frame_begin(TKP_HELLO | TKP_RESPONSE, seq, (uint16_t)(sizeof p + sizeof board - 1));
    frame_part(p, sizeof p);
    frame_part(board, sizeof board - 1);
    frame_end();
}

static void send_infer(uint8_t seq)
{
    uint32_t ticks = 0;
    int status = inference_run((const int8_t *)rx_payload, model_output, &ticks);
    if (status != 0) {
        send_error(TKP_ERR_MODEL, TKP_INFER, seq);
        return;
    }
    uint8_t head[4];
    tkp_put_u32(head, ticks);
    frame_begin(TKP_INFER | TKP_RESPONSE, seq, (uint16_t)(sizeof head + TINYKD_OUTPUT_BYTES));
    frame_part(head, sizeof head);
    frame_part(model_output, TINYKD_OUTPUT_BYTES);
    frame_end();
}

static void send_profile(uint8_t seq)
{
    uint32_t n = inference_profiled_layers();
    if (n == 0) {
        send_error(TKP_ERR_UNSUPPORTED, TKP_PROFILE, seq);
        return;
    }
    uint8_t field[4];
    frame_begin(TKP_PROFILE | TKP_RESPONSE, seq, (uint16_t)(2u + 4u * n));
    tkp_put_u16(field, (uint16_t)n);
    frame_part(field, 2);
    for (uint32_t i = 0; i < n; i++) {
        tkp_put_u32(field, inference_layer_ticks(i));
        frame_part(field, 4);
    }
    frame_end();
}

static void banner(void)
{
    static const char text[] = "\r\n" TINYKD_FIRMWARE_NAME " " TINYKD_FIRMWARE_VERSION
                               " protocol tinykd/1 board " BOARD_NAME " model " TINYKD_MODEL_SHA256
                               "\r\n";
    board_uart_write((const uint8_t *)text, sizeof text - 1);
    const char *timer = board_timer() == BOARD_TIMER_DWT ? "timer dwt-cyccnt\r\n" : "timer systick\r\n";
    board_uart_write((const uint8_t *)timer, (size_t)strlen(timer));
    uint8_t version[2];
    tkp_put_u16(version, TKP_VERSION);
    frame_begin(TKP_BOOT, 0, sizeof version);
    frame_part(version, sizeof version);
    frame_end();
}

/* Returns nonzero when the chip should be reset. */
static int handle_frame(const struct tkp_parser *p)
{
    switch (p->type) {
    case TKP_HELLO:
        if (p->len != 0) {
            break;
        }
        send_hello(p->seq);
        return 0;
    case TKP_INFER:
        if (p->len != TINYKD_INPUT_BYTES) {
            break;
        }
        send_infer(p->seq);
        return 0;
    case TKP_RESET:
        if (p->len != 0) {
            break;
        }
        frame_begin(TKP_RESET | TKP_RESPONSE, p->seq, 0);
        frame_end();
        return 1;
    case TKP_PROFILE:
        if (p->len != 0) {
            break;
        }
        send_profile(p->seq);
        return 0;
    default:
        send_error(TKP_ERR_TYPE, p->type, p->seq);
        return 0;
    }
    send_error(TKP_ERR_LENGTH, p->type, p->seq);
    return 0;
}

void frontend_run(void)
{
    static struct tkp_parser parser;
    const uint32_t timeout_ticks = board_core_hz() / 1000u * TKP_TRUNCATION_TIMEOUT_MS;
    uint32_t last_byte = board_ticks();

    tkp_parser_init(&parser, rx_payload, RX_CAP);
    banner();
    for (;;) {
        uint8_t byte;
        if (!board_uart_read(&byte)) {
            if (tkp_parser_busy(&parser) && board_ticks() - last_byte > timeout_ticks) {
                if (tkp_parser_expire(&parser) == TKP_EV_TRUNCATED) {
                    send_error(TKP_ERR_TRUNCATED, parser.type, parser.seq);
                }
            }
            board_idle();
            continue;
        }
        last_byte = board_ticks();
        switch (tkp_parser_feed(&parser, byte)) {
        case TKP_EV_FRAME:
            if (handle_frame(&parser)) {
                return;
            }
            break;
        case TKP_EV_BAD_CRC:
            send_error(TKP_ERR_CRC, parser.type, parser.seq);
            break;
        case TKP_EV_BAD_LENGTH:
            send_error(TKP_ERR_LENGTH, parser.type, parser.seq);
            break;
        default:
            break;
        }
    }
}
