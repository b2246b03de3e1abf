/* CONV_2D followed by the residual ADD that consumes it, as one call (int8, TFLite int8
 * reference arithmetic for both). */
#ifndef TK_CONV2D_ADD_S8_H
#define TK_CONV2D_ADD_S8_H

#include "add_s8.h"
#include "tk_types.h"

/** The residual ADD fused into a convolution, and how the call is cut into row chunks. */
typedef struct {
    tk_add_params add;        /**< the ADD's parameters (add_s8.h) */
    int32_t conv_is_input1;   /**< 1: the convolution's output is the ADD's input 1, 0: its input 2 */
    int32_t rows;             /**< output rows convolved per chunk, >= 1 (sets the chunk buffer) */
} tk_residual;

/**
 * output = ADD(conv(input), shortcut), bit for bit what tk_conv2d_s8 then tk_add_s8 give
 * (the convolution's own requantization and clamp, then the ADD's): the convolution runs
 * `rows` output rows at a time into a chunk buffer at the start of `scratch`, and the ADD
 * turns each chunk and the shortcut's matching rows into output rows. The intermediate
 * tensor never exists whole, and `output` may be `shortcut` itself (each element of the
 * shortcut is read before the output element at the same place is written): the arena
 * planner then gives the sum the shortcut's memory.
 *
 * @param params .. scratch  as tk_conv2d_s8 (conv2d_s8.h); scratch holds
 *                           tk_conv2d_add_s8_scratch_size() bytes, 4-byte aligned, not NULL
 * @param residual  in: the ADD's parameters, the operand order, the chunk height
 * @param shortcut  in: int8 [N, H_out, W_out, C_out], the ADD's other operand; may equal output
 * @return TK_OK, TK_ERR_SHAPE / TK_ERR_ARG as tk_conv2d_s8 and tk_add_s8, TK_ERR_ARG for
 *         rows < 1 or a missing/misaligned scratch
 */
tk_status tk_conv2d_add_s8(const tk_conv_params *params, const tk_channel_quant *quant,
                           const tk_dims *input_dims, const int8_t *input,
                           const tk_dims *filter_dims, const int8_t *filter,
                           const int32_t *bias,
                           const tk_dims *output_dims, int8_t *output,
                           void *scratch, const tk_residual *residual, const int8_t *shortcut);

/** Chunk buffer bytes at the start of the scratch: rows * W_out * C_out rounded up to 4;
 * the convolution's own scratch (tk_conv2d_s8_scratch_size(), 0) follows it. */
int32_t tk_conv2d_add_s8_chunk_size(const tk_residual *residual, const tk_dims *output_dims);

#endif /* TK_CONV2D_ADD_S8_H */
