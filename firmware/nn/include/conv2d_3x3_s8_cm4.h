/* CONV_2D int8, Cortex-M4 DSP variant: 3x3 kernels, dilation 1 */
#ifndef TK_CONV2D_3X3_S8_CM4_H
#define TK_CONV2D_3X3_S8_CM4_H

#include "conv2d_pack_s8_cm4.h"
#include "tk_types.h"

/**
 * Same result, bit for bit, as tk_conv2d_s8 (conv2d_s8.h, the specification), computed
 * without im2col: a window of the three expanded input rows under the output row, each
 * input row expanded once, in which every pixel pair finds its column as one contiguous run
 * (see the .c file); SMLAD on int16 pairs in blocks of 2 output channels x 2 output pixels
 * (on the M4 the block loop is assembly), from the packed filter in flash.
 *
 * Accepts: K_h == K_w == 3, dilation 1, C_in % 4 == 0, any stride and padding.
 * Layers outside this set return TK_ERR_SHAPE (the exporter never selects them).
 *
 * @param params       in: offsets, strides, padding, dilation, activation clamp (tk_types.h)
 * @param quant        in: per-output-channel multipliers/shifts, [C_out] each
 * @param input_dims   in: [N, H_in, W_in, C_in]
 * @param input        in: int8 [N, H_in, W_in, C_in]
 * @param filter_dims  in: [C_out, K_h, K_w, C_in] (no groups)
 * @param packed_filter in: the int8 filter [C_out, 3, 3, C_in] (weight zero point 0) as
 *                     tk_conv2d_3x3_pack_s8_cm4() packs it (conv2d_pack_s8_cm4.h)
 * @param bias         in: int32 [C_out], or NULL
 * @param output_dims  in: [N, H_out, W_out, C_out]
 * @param output       out: int8 [N, H_out, W_out, C_out]
 * @param scratch      in: tk_conv2d_3x3_s8_cm4_scratch_size() bytes, 4-byte aligned, not NULL
 * @return TK_OK, TK_ERR_SHAPE if the dimensions disagree or are outside the accepted set,
 *         TK_ERR_ARG for bad params or a missing/misaligned scratch
 */
tk_status tk_conv2d_3x3_s8_cm4(const tk_conv_params *params, const tk_channel_quant *quant,
                       const tk_dims *input_dims, const int8_t *input,
                       const tk_dims *filter_dims, const int32_t *packed_filter,
                       const int32_t *bias,
                       const tk_dims *output_dims, int8_t *output,
                       void *scratch);

/**
 * tk_conv2d_3x3_s8_cm4 on the int8 filter layout: `packed_filter` as tk_conv2d_3x3_pack8_s8_cm4()
 * packs it (conv2d_pack_s8_cm4.h), half the flash, widened with SXTB16 into the scratch once
 * per output row and chunk of channels. Same parameters and result; scratch:
 * tk_conv2d_3x3_s8_w8_cm4_scratch_size().
 */
tk_status tk_conv2d_3x3_s8_w8_cm4(const tk_conv_params *params, const tk_channel_quant *quant,
                       const tk_dims *input_dims, const int8_t *input,
                       const tk_dims *filter_dims, const int32_t *packed_filter,
                       const int32_t *bias,
                       const tk_dims *output_dims, int8_t *output,
                       void *scratch);

/**
 * Scratch bytes tk_conv2d_3x3_s8_cm4 needs (same parameters): 24 * C_out
 * (requantization table) + 3 * 4 * C_in * E (the window: three rows of E entries, E =
 * 2 * (ceil(W_out / 2) - 1) * stride_w + 3) + 2 * C_out rounded up to a multiple of 4 (the
 * odd-width tail).
 */
int32_t tk_conv2d_3x3_s8_cm4_scratch_size(const tk_conv_params *params, const tk_dims *input_dims,
                                  const tk_dims *filter_dims, const tk_dims *output_dims);

/**
 * Scratch bytes tk_conv2d_3x3_s8_w8_cm4 needs: tk_conv2d_3x3_s8_cm4_scratch_size() + the
 * widened filter of one chunk, 9 * 2 * C_in (C_in rounded up to 4) bytes per channel for
 * CB = min(C_out, max(2, even part of 8192 / that)) channels.
 */
int32_t tk_conv2d_3x3_s8_w8_cm4_scratch_size(const tk_conv_params *params, const tk_dims *input_dims,
                                     const tk_dims *filter_dims, const tk_dims *output_dims);

#endif /* include guard */
