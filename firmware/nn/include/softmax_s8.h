/* SOFTMAX int8 -> int8, TFLite Micro's reference fixed-point path (gemmlowp exp). */
#ifndef TK_SOFTMAX_S8_H
#define TK_SOFTMAX_S8_H

#include "tk_types.h"

/** SOFTMAX parameters, computed at export as TFLite's CalculateSoftmaxParams. */
typedef struct {
    int32_t input_multiplier;  /**< Q31 multiplier of beta * input_scale * 2^26 */
    int32_t input_left_shift;  /**< its (non-negative) exponent */
    int32_t diff_min;          /**< inputs this far (or more) below the row max give output -128; <= 0 */
} tk_softmax_params;

/**
 * Softmax over the last dimension. The output is quantized with scale 1/256 and
 * zero point -128, as TFLite requires for int8 softmax.
 *
 * @param params  in: input scaling and cut-off
 * @param rows    in: product of all but the last dimension, >= 1
 * @param depth   in: size of the last dimension, >= 1
 * @param input   in: int8 [rows, depth]
 * @param output  out: int8 [rows, depth]
 * @return TK_OK or TK_ERR_ARG
 */
tk_status tk_softmax_s8(const tk_softmax_params *params, int32_t rows, int32_t depth,
                        const int8_t *input, int8_t *output);

#endif /* TK_SOFTMAX_S8_H */
