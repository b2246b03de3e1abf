/* ADD of two int8 tensors of the same shape, each with its own scale (TFLite int8 reference). */
#ifndef TK_ADD_S8_H
#define TK_ADD_S8_H

#include "tk_types.h"

/** ADD parameters, computed at export as TFLite's PrepareAdd does. */
typedef struct {
    int32_t input1_offset;      /**< -(input 1 zero point) */
    int32_t input2_offset;      /**< -(input 2 zero point) */
    int32_t output_offset;      /**< output zero point */
    int32_t left_shift;         /**< headroom shift applied to both inputs (20 for int8) */
    int32_t input1_multiplier;  /**< Q31 multiplier of input 1 (scale1 / (2 * max scale)) */
    int32_t input1_shift;       /**< its exponent, <= 0 */
    int32_t input2_multiplier;  /**< Q31 multiplier of input 2 */
    int32_t input2_shift;       /**< its exponent, <= 0 */
    int32_t output_multiplier;  /**< Q31 multiplier of the sum */
    int32_t output_shift;       /**< its exponent, <= 0 */
    int32_t act_min;            /**< lower clamp of the output, >= -128 */
    int32_t act_max;            /**< upper clamp of the output, <= 127 */
} tk_add_params;

/**
 * output[i] = clamp(requant_out(requant_1((in1[i] + off1) << ls) + requant_2((in2[i % size2] + off2) << ls))
 *     + output_offset) for i in [0, size). size2 == size for same-shape tensors; a smaller
 * input2 whose shape is the trailing dimensions of input1's (e.g. a [C] bias added to
 * [N, H, W, C]) repeats with period size2.
 *
 * @param params  in: offsets, multipliers, clamp
 * @param size    in: number of elements of input1 and output, >= 0
 * @param input1  in: int8 [size]
 * @param size2   in: number of elements of input2, >= 1, divides size
 * @param input2  in: int8 [size2]
 * @param output  out: int8 [size]
 * @return TK_OK or TK_ERR_ARG
 */
tk_status tk_add_s8(const tk_add_params *params, int32_t size, const int8_t *input1,
                    int32_t size2, const int8_t *input2, int8_t *output);

#endif /* TK_ADD_S8_H */
