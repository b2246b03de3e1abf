/* MAX_POOL_2D int8, Cortex-M4 DSP variant */
#ifndef TK_MAX_POOL2D_S8_CM4_H
#define TK_MAX_POOL2D_S8_CM4_H

#include "tk_types.h"

/**
 * Same result, bit for bit, as tk_max_pool2d_s8 (max_pool2d_s8.h, the specification):
 * four channels per word, the window's maximum and the activation clamp taken with
 * SSUB8 + SEL (two instructions per four values), a channel tail of C % 4 one by one.
 * Accepts every layer the reference kernel accepts; no scratch.
 *
 * @param params       in: window, strides, padding, activation clamp
 * @param input_dims   in: [N, H_in, W_in, C]
 * @param input        in: int8 [N, H_in, W_in, C] (any alignment)
 * @param output_dims  in: [N, H_out, W_out, C]
 * @param output       out: int8 [N, H_out, W_out, C] (any alignment)
 * @return TK_OK, TK_ERR_SHAPE or TK_ERR_ARG
 */
tk_status tk_max_pool2d_s8_cm4(const tk_pool_params *params,
                               const tk_dims *input_dims, const int8_t *input,
                               const tk_dims *output_dims, int8_t *output);

#endif /* include guard */
