/* The exported model behind the MLPerf protocol hooks; see mlperf_model.h. */
#include "mlperf_model.h"

#include <string.h>

#include "mlperf_protocol.h"
#include "model.h"

/* Pixels per benchmark input divide into the real range [0, 1] (tinykd.data.store.normalize);
 * override with -DMLPERF_PIXEL_TO_REAL=1.0f for a model trained on raw 0..255 pixels. */
#ifndef MLPERF_PIXEL_TO_REAL
#define MLPERF_PIXEL_TO_REAL (1.0f / 255.0f)
#endif

_Static_assert(TINYKD_INPUT_BYTES <= MLPERF_DB_CAPACITY,
               "the model's input is larger than the MLPerf db buffer (MLPERF_DB_CAPACITY)");
_Static_assert(TINYKD_OUTPUT_BYTES <= MLPERF_MAX_RESULTS,
               "the model has more outputs than m-results prints (MLPERF_MAX_RESULTS)");

static int8_t input[TINYKD_INPUT_BYTES] __attribute__((aligned(16)));
static int8_t output[TINYKD_OUTPUT_BYTES] __attribute__((aligned(16)));
static int8_t pixel_table[256];

mlperf_input_map_t mlperf_model_init(void)
{
    return mlperf_input_table(MLPERF_PIXEL_TO_REAL, TINYKD_INPUT_SCALE, TINYKD_INPUT_ZERO_POINT,
                              pixel_table);
}

const char *mlperf_model_load(void *ctx, const uint8_t *pixels, size_t n)
{
    (void)ctx;
    if (n != TINYKD_INPUT_BYTES) {
        return "input size differs from the model's";
    }
    mlperf_input_apply(pixel_table, pixels, input, n);
    return NULL;
}

const char *mlperf_model_infer(void *ctx)
{
    (void)ctx;
    return tinykd_model_invoke(input, output) == 0 ? NULL : "tinykd_model_invoke failed";
}

size_t mlperf_model_output(void *ctx, int8_t *out, size_t max)
{
    (void)ctx;
    size_t n = TINYKD_OUTPUT_BYTES < max ? TINYKD_OUTPUT_BYTES : max;
    memcpy(out, output, n);
    return n;
}

float mlperf_model_dequantize(void *ctx, int8_t q)
{
    (void)ctx;
    /* Like the reference submissions: (q - zero_point) * scale in single precision. */
    return (float)((int32_t)q - (int32_t)(TINYKD_OUTPUT_ZERO_POINT)) * (TINYKD_OUTPUT_SCALE);
}

size_t mlperf_model_input_bytes(void) { return TINYKD_INPUT_BYTES; }

const char *mlperf_model_id(void)
{
    static const int in_shape[] = TINYKD_INPUT_SHAPE;
    int ic01 = TINYKD_INPUT_BYTES == 3072 && TINYKD_OUTPUT_BYTES == 10 &&
               sizeof in_shape / sizeof in_shape[0] == 4 && in_shape[1] == 32 &&
               in_shape[2] == 32 && in_shape[3] == 3;
    return ic01 ? "ic01" : "tinykd";
}
