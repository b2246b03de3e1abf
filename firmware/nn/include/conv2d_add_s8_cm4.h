/* CONV_2D + residual ADD int8, Cortex-M4 variant: a Cortex-M4 convolution band by band,
 * the tabulated ADD (add_s8_cm4.h) on each band. */
#ifndef TK_CONV2D_ADD_S8_CM4_H
#define TK_CONV2D_ADD_S8_CM4_H

#include "conv2d_add_s8.h"
#include "tk_types.h"

/** The signature every Cortex-M4 convolution shares (conv2d_s8_cm4.h and its 1x1 / 3x3 paths). */
typedef tk_status (*tk_conv_cm4_fn)(const tk_conv_params *params, const tk_channel_quant *quant,
                                    const tk_dims *input_dims, const int8_t *input,
                                    const tk_dims *filter_dims, const int32_t *packed_filter,
                                    const int32_t *bias, const tk_dims *output_dims, int8_t *output,
                                    void *scratch);

/**
 * Same result, bit for bit, as tk_conv2d_add_s8 (conv2d_add_s8.h, the specification), with
 * `conv` (one of the Cortex-M4 convolutions, taking its packed filter) for the convolution
 * and the ADD's input tables built once per call (2 KB of stack). `output` may be `shortcut`.
 *
 * @param conv      in: the convolution variant the exporter chose for this layer's shape
 * @param params .. scratch  as `conv`; scratch holds tk_conv2d_add_s8_chunk_size() bytes
 *                  (the band buffer) followed by `conv`'s own scratch, 4-byte aligned
 * @param residual  in: the ADD's parameters, the operand order, the band height
 * @param shortcut  in: int8 [N, H_out, W_out, C_out], may equal output
 * @return TK_OK, or what `conv` / tk_add_s8 return for bad arguments
 */
tk_status tk_conv2d_add_s8_cm4(tk_conv_cm4_fn conv, const tk_conv_params *params, const tk_channel_quant *quant,
                               const tk_dims *input_dims, const int8_t *input,
                               const tk_dims *filter_dims, const int32_t *packed_filter,
                               const int32_t *bias,
                               const tk_dims *output_dims, int8_t *output,
                               void *scratch, const tk_residual *residual, const int8_t *shortcut);

#endif /* TK_CONV2D_ADD_S8_CM4_H */
