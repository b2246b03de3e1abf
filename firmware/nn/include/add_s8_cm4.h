/* ADD int8, Cortex-M4 variant: per-input lookup tables + SMMULR requantization. */
#ifndef TK_ADD_S8_CM4_H
#define TK_ADD_S8_CM4_H

#include "add_s8.h"

/**
 * Same result, bit for bit, as tk_add_s8 (add_s8.h, the specification). An int8 input has
 * only 256 values, so each input's rescaling requant_k((x + off_k) << left_shift) is
 * tabulated once per call (2 x 256 int32 on the stack, 2 KB) with the reference arithmetic;
 * each element is then two table loads, an add and the output requantization in its SMMULR
 * form (see src/cm4/tk_cm4_requant.h), used when the tables' range proves it exact, the
 * reference arithmetic otherwise.
 *
 * Accepts every layer tk_add_s8 accepts (same parameters, same checks, same broadcast).
 *
 * @param params  in: offsets, multipliers, clamp (add_s8.h)
 * @param size    in: number of elements of input1 and output, >= 0
 * @param input1  in: int8 [size]
 * @param size2   in: number of elements of input2, >= 1, divides size
 * @param input2  in: int8 [size2]
 * @param output  out: int8 [size]
 * @return TK_OK or TK_ERR_ARG
 */
tk_status tk_add_s8_cm4(const tk_add_params *params, int32_t size, const int8_t *input1,
                        int32_t size2, const int8_t *input2, int8_t *output);

#endif /* TK_ADD_S8_CM4_H */
