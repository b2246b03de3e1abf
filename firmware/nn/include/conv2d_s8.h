/* CONV_2D, int8 activations and weights, int32 bias (TFLite int8 reference). */
#ifndef TK_CONV2D_S8_H
#define TK_CONV2D_S8_H

#include "tk_types.h"

/**
 * 2-D convolution: output[b, y, x, o] = clamp(requant_o(bias[o] +
 *     sum_{ky, kx, i} filter[o, ky, kx, i] * (input[b, y*sh - ph + ky*dh, x*sw - pw + kx*dw, g*Ci + i]
 *     + input_offset)) + output_offset), positions outside the input contributing nothing.
 * Grouped convolution is supported: groups = input_dims->c / filter_dims->c, output
 * channel o belongs to group o / (C_out / groups).
 *
 * @param params       in: offsets, strides, padding, dilation, activation clamp (tk_types.h)
 * @param quant        in: per-output-channel multipliers/shifts, [C_out] each
 * @param input_dims   in: [N, H_in, W_in, C_in]
 * @param input        in: int8 [N, H_in, W_in, C_in]
 * @param filter_dims  in: [C_out, K_h, K_w, C_in / groups]
 * @param filter       in: int8 [C_out, K_h, K_w, C_in / groups], weight zero point 0
 * @param bias         in: int32 [C_out] in units of input_scale * filter_scale[o], or NULL
 * @param output_dims  in: [N, H_out, W_out, C_out]
 * @param output       out: int8 [N, H_out, W_out, C_out]
 * @param scratch      in: tk_conv2d_s8_scratch_size() bytes, 4-byte aligned (NULL if 0)
 * @return TK_OK, TK_ERR_SHAPE if the dimensions disagree, TK_ERR_ARG for bad params
 */
tk_status tk_conv2d_s8(const tk_conv_params *params, const tk_channel_quant *quant,
                       const tk_dims *input_dims, const int8_t *input,
                       const tk_dims *filter_dims, const int8_t *filter,
                       const int32_t *bias,
                       const tk_dims *output_dims, int8_t *output,
                       void *scratch);

/**
 * Bytes of scratch tk_conv2d_s8 needs for this layer (0 for the reference kernel). Same
 * parameters as tk_conv2d_s8; every CONV_2D variant's companion takes them (the layout of
 * an optimized variant's scratch can depend on stride or padding, as in CMSIS-NN's
 * arm_convolve_wrapper_s8_get_buffer_size).
 */
int32_t tk_conv2d_s8_scratch_size(const tk_conv_params *params, const tk_dims *input_dims,
                                  const tk_dims *filter_dims, const tk_dims *output_dims);

#endif /* TK_CONV2D_S8_H */
