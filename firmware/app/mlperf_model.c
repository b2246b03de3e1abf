/* The exported model behind the MLPerf protocol hooks; see mlperf_model.h. */
#include "mlperf_model.h"

#include <string.h>

#include "mlperf_protocol.h"
#include "model.h"

/* The model's pixel scaling x = (pixel - mean[c]) / std[c] (params student.input): one value for
 * every channel or one per channel, the same count in both. The build stage passes them as
 * INPUT_MEAN / INPUT_STD to the Makefile; the default is tinykd's pixels / 255. */
#ifndef MLPERF_INPUT_MEAN
#define MLPERF_INPUT_MEAN 0.0
#endif
#ifndef MLPERF_INPUT_STD
#define MLPERF_INPUT_STD 255.0
#endif
static const float pixel_mean[] = {MLPERF_INPUT_MEAN};
static const float pixel_std[] = {MLPERF_INPUT_STD};
#define PIXEL_CHANNELS (sizeof pixel_mean / sizeof pixel_mean[0])
_Static_assert(sizeof pixel_mean == sizeof pixel_std, "MLPERF_INPUT_MEAN and MLPERF_INPUT_STD need as many values");
_Static_assert(TINYKD_INPUT_BYTES % PIXEL_CHANNELS == 0, "the input is not a whole number of pixels");

_Static_assert(TINYKD_INPUT_BYTES <= MLPERF_DB_CAPACITY,
               "the model's input is larger than the MLPerf db buffer (MLPERF_DB_CAPACITY)");
_Static_assert(TINYKD_OUTPUT_BYTES <= MLPERF_MAX_RESULTS,
               "the model has more outputs than m-results prints (MLPERF_MAX_RESULTS)");

static int8_t input[TINYKD_INPUT_BYTES] __attribute__((aligned(16)));
static int8_t output[TINYKD_OUTPUT_BYTES] __attribute__((aligned(16)));
static int8_t pixel_table[PIXEL_CHANNELS][256];

mlperf_input_map_t mlperf_model_init(void)
{
    return mlperf_input_table(pixel_mean, pixel_std, PIXEL_CHANNELS, TINYKD_INPUT_SCALE, TINYKD_INPUT_ZERO_POINT,
                              pixel_table);
}

uint32_t mlperf_model_input_hash(void)
{
    return mlperf_input_table_hash((const int8_t (*)[256])pixel_table, PIXEL_CHANNELS);
}

const char *mlperf_model_load(void *ctx, const uint8_t *pixels, size_t n)
{
    (void)ctx;
    if (n != TINYKD_INPUT_BYTES) {
        return "input size differs from the model's";
    }
    mlperf_input_apply((const int8_t (*)[256])pixel_table, PIXEL_CHANNELS, pixels, input, n);
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
