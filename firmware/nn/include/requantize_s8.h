/* QUANTIZE int8 -> int8 (a change of scale/zero point), TFLite reference Requantize. */
#ifndef TK_REQUANTIZE_S8_H
#define TK_REQUANTIZE_S8_H

#include "tk_types.h"

/** Requantization parameters (multiplier of input_scale / output_scale). */
typedef struct {
    int32_t input_zero_point;   /**< in [-128, 127] */
    int32_t output_zero_point;  /**< in [-128, 127] */
    int32_t multiplier;         /**< Q31 multiplier */
    int32_t shift;              /**< its exponent, in [-31, 30] */
} tk_requantize_params;

/**
 * output[i] = clamp(requant(input[i] - input_zero_point) + output_zero_point).
 *
 * @param params  in: zero points and multiplier
 * @param size    in: number of elements, >= 0
 * @param input   in: int8 [size]
 * @param output  out: int8 [size]
 * @return TK_OK or TK_ERR_ARG
 */
tk_status tk_requantize_s8(const tk_requantize_params *params, int32_t size,
                           const int8_t *input, int8_t *output);

#endif /* TK_REQUANTIZE_S8_H */
