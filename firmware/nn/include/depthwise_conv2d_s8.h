/* DEPTHWISE_CONV_2D, int8, any depth multiplier (TFLite int8 reference). */
#ifndef TK_DEPTHWISE_CONV2D_S8_H
#define TK_DEPTHWISE_CONV2D_S8_H

#include "tk_types.h"

/**
 * Depthwise convolution: output channel o = i * depth_multiplier + m filters input
 * channel i only: output[b, y, x, o] = clamp(requant_o(bias[o] + sum_{ky, kx}
 *     filter[0, ky, kx, o] * (input[b, y*sh - ph + ky*dh, x*sw - pw + kx*dw, i] + input_offset))
 *     + output_offset).
 *
 * @param params       in: offsets, strides, padding, dilation, depth multiplier, clamp
 * @param quant        in: per-output-channel multipliers/shifts, [C_out] each
 * @param input_dims   in: [N, H_in, W_in, C_in]
 * @param input        in: int8 [N, H_in, W_in, C_in]
 * @param filter_dims  in: [1, K_h, K_w, C_out], C_out = C_in * depth_multiplier
 * @param filter       in: int8 [1, K_h, K_w, C_out], weight zero point 0
 * @param bias         in: int32 [C_out], or NULL
 * @param output_dims  in: [N, H_out, W_out, C_out]
 * @param output       out: int8 [N, H_out, W_out, C_out]
 * @param scratch      in: tk_depthwise_conv2d_s8_scratch_size() bytes (NULL if 0)
 * @return TK_OK, TK_ERR_SHAPE or TK_ERR_ARG
 */
tk_status tk_depthwise_conv2d_s8(const tk_dw_conv_params *params, const tk_channel_quant *quant,
                                 const tk_dims *input_dims, const int8_t *input,
                                 const tk_dims *filter_dims, const int8_t *filter,
                                 const int32_t *bias,
                                 const tk_dims *output_dims, int8_t *output,
                                 void *scratch);

/** Scratch bytes tk_depthwise_conv2d_s8 needs (0 for the reference kernel). */
int32_t tk_depthwise_conv2d_s8_scratch_size(const tk_dims *input_dims, const tk_dims *filter_dims,
                                            const tk_dims *output_dims);

#endif /* TK_DEPTHWISE_CONV2D_S8_H */
