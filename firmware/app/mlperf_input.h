/*
 * ic01 input mapping: the benchmark sends 3072 uint8 RGB pixels (height, width, channel); the
 * model takes int8. tinykd's models see pixels as p / 255 (tinykd.data.store), so the int8
 * value is the model's own quantization of p / 255:
 *
 *     q = clamp(zero_point + round(p * pixel_to_real / scale), -128, 127)
 *
 * with round half away from zero in single precision, as TFLite's QUANTIZE does. For the
 * parameters the converter picks for [0, 1] inputs (scale 1/255, zero point -128) - and for
 * models on raw pixels (scale 1, zero point -128) - that is exactly q = p - 128, the mapping
 * of the reference submissions; the table then reports MLPERF_MAP_SUBTRACT_128. Any other
 * input quantization is honoured through the same table (MLPERF_MAP_QUANTIZE).
 */
#ifndef TINYKD_MLPERF_INPUT_H
#define TINYKD_MLPERF_INPUT_H

#include <stddef.h>
#include <stdint.h>

typedef enum mlperf_input_map {
    MLPERF_MAP_SUBTRACT_128 = 0, /* q = p - 128 for every pixel value                 */
    MLPERF_MAP_QUANTIZE = 1      /* q = the model's quantization of p * pixel_to_real */
} mlperf_input_map_t;

/*
 * Fill table[p] (p = 0..255) with the int8 input value for pixel value p.
 *   pixel_to_real  in   the real value of one pixel step (1/255 for tinykd's models), > 0
 *   scale          in   the model input's quantization scale, > 0
 *   zero_point     in   the model input's zero point, -128..127
 *   table          out  256 int8 values
 * Returns which mapping the table amounts to.
 */
mlperf_input_map_t mlperf_input_table(float pixel_to_real, float scale, int32_t zero_point,
                                      int8_t table[256]);

/* out[i] = table[pixels[i]] for i in 0..n; pixels and out may not overlap. */
void mlperf_input_apply(const int8_t table[256], const uint8_t *pixels, int8_t *out, size_t n);

#endif /* TINYKD_MLPERF_INPUT_H */
