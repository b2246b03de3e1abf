/* MAX_POOL_2D, int8 (TFLite int8 reference). */
#ifndef TK_MAX_POOL2D_S8_H
#define TK_MAX_POOL2D_S8_H

#include "tk_types.h"

/**
 * output[b, y, x, c] = clamp(max over the window rows y*sh - ph .. + filter_h and
 * columns x*sw - pw .. + filter_w that lie inside the input of input[b, ., ., c]).
 * Input and output share scale and zero point.
 *
 * @param params       in: window, strides, padding, activation clamp
 * @param input_dims   in: [N, H_in, W_in, C]
 * @param input        in: int8 [N, H_in, W_in, C]
 * @param output_dims  in: [N, H_out, W_out, C]
 * @param output       out: int8 [N, H_out, W_out, C]
 * @return TK_OK, TK_ERR_SHAPE or TK_ERR_ARG
 */
tk_status tk_max_pool2d_s8(const tk_pool_params *params,
                           const tk_dims *input_dims, const int8_t *input,
                           const tk_dims *output_dims, int8_t *output);

#endif /* TK_MAX_POOL2D_S8_H */
