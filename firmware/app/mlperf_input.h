/*
 * ic01 input mapping: the benchmark sends uint8 pixels (height, width, channel); the model takes
 * int8. Each model takes its pixels as x = (pixel - mean[c]) / std[c] per channel c (params
 * student.input; tinykd's default mean 0, std 255 is pixels / 255), and the int8 value is the
 * model's own quantization of x. The firmware computes it once per channel and pixel value into
 * a table, with the host's arithmetic step for step (tinykd.data.scaling.quantize_pixels, which
 * quantizes the images `evaluate` sends to the normal firmware):
 *
 *     x = (float)p - mean[c];  x = x / std[c];  v = x / scale + (float)zero_point
 *     q = clamp(round half to even(v), -128, 127)
 *
 * every operation in single precision. For the parameters the converter picks for [0, 1] inputs
 * (scale 1/255, zero point -128), and for models on raw pixels (scale 1, zero point -128), that
 * is exactly q = p - 128 on every channel, the mapping of the reference submissions; the table
 * then reports MLPERF_MAP_SUBTRACT_128. Any other scaling or quantization is honoured through
 * the same table (MLPERF_MAP_QUANTIZE).
 */
#ifndef TINYKD_MLPERF_INPUT_H
#define TINYKD_MLPERF_INPUT_H

#include <stddef.h>
#include <stdint.h>

typedef enum mlperf_input_map {
    MLPERF_MAP_SUBTRACT_128 = 0, /* q = p - 128 for every pixel value and channel       */
    MLPERF_MAP_QUANTIZE = 1      /* q = the model's quantization of (p - mean) / std    */
} mlperf_input_map_t;

/*
 * Fill table[c][p] (c = 0..channels-1, p = 0..255) with the int8 input value of pixel value p
 * in channel c.
 *   mean, std      in   `channels` values each, in pixel units; std > 0
 *   channels       in   1 (one table for every channel) or the input's channel count, >= 1
 *   scale          in   the model input's quantization scale, > 0
 *   zero_point     in   the model input's zero point, -128..127
 *   table          out  channels x 256 int8 values
 * Returns which mapping the tables amount to.
 */
mlperf_input_map_t mlperf_input_table(const float *mean, const float *std, size_t channels, float scale,
                                      int32_t zero_point, int8_t (*table)[256]);

/* out[i] = table[i % channels][pixels[i]] for i in 0..n (pixels in channel-last order);
 * pixels and out may not overlap. */
void mlperf_input_apply(const int8_t (*table)[256], size_t channels, const uint8_t *pixels, int8_t *out,
                        size_t n);

/* FNV-1a (32-bit) of the tables' bytes, channel by channel: reported by `info` as input-table=,
 * so the host can check that its reference quantizes pixels exactly as the board does. */
uint32_t mlperf_input_table_hash(const int8_t (*table)[256], size_t channels);

#endif /* TINYKD_MLPERF_INPUT_H */
