/* DEPTHWISE_CONV_2D int8, Cortex-M4 DSP variant (depth multiplier 1). */
#ifndef TK_DEPTHWISE_CONV2D_S8_CM4_H
#define TK_DEPTHWISE_CONV2D_S8_CM4_H

#include "tk_types.h"

/**
 * Same result, bit for bit, as tk_depthwise_conv2d_s8 (depthwise_conv2d_s8.h, the
 * specification). Four channels per step: one LDR brings 4 input bytes and one 4 weights,
 * SXTAB16/SXTB16 split them into int16 pairs (input offset added on the way) and
 * SMLABB/SMLATT accumulate each channel; the kernel window is clipped to the image once
 * per output pixel instead of testing every tap; requantization once per output.
 *
 * Accepts: depth_multiplier == 1 (C_out == C_in), any kernel, stride, padding, dilation.
 * Other layers return TK_ERR_SHAPE (the exporter never selects them).
 *
 * @param params       in: offsets, strides, padding, dilation, depth multiplier (1), clamp
 * @param quant        in: per-output-channel multipliers/shifts, [C] each
 * @param input_dims   in: [N, H_in, W_in, C]
 * @param input        in: int8 [N, H_in, W_in, C]
 * @param filter_dims  in: [1, K_h, K_w, C]
 * @param filter       in: int8 [1, K_h, K_w, C], weight zero point 0
 * @param bias         in: int32 [C], or NULL
 * @param output_dims  in: [N, H_out, W_out, C]
 * @param output       out: int8 [N, H_out, W_out, C]
 * @param scratch      in: tk_depthwise_conv2d_s8_cm4_scratch_size() bytes, 4-byte aligned
 * @return TK_OK, TK_ERR_SHAPE or TK_ERR_ARG (bad params, missing or misaligned scratch)
 */
tk_status tk_depthwise_conv2d_s8_cm4(const tk_dw_conv_params *params, const tk_channel_quant *quant,
                                     const tk_dims *input_dims, const int8_t *input,
                                     const tk_dims *filter_dims, const int8_t *filter,
                                     const int32_t *bias,
                                     const tk_dims *output_dims, int8_t *output,
                                     void *scratch);

/** Scratch bytes: 24 * C (per-channel requantization table). */
int32_t tk_depthwise_conv2d_s8_cm4_scratch_size(const tk_dims *input_dims, const tk_dims *filter_dims,
                                                const tk_dims *output_dims);

#endif /* TK_DEPTHWISE_CONV2D_S8_CM4_H */
