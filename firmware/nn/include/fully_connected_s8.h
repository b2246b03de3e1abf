/* FULLY_CONNECTED, int8 (TFLite int8 reference), per-tensor or per-channel weights. */
#ifndef TK_FULLY_CONNECTED_S8_H
#define TK_FULLY_CONNECTED_S8_H

#include "tk_types.h"

/**
 * output[r, o] = clamp(requant_o(bias[o] + sum_d (filter[o, d] + filter_offset)
 *     * (input[r, d] + input_offset)) + output_offset) for every row r.
 *
 * @param params       in: offsets and activation clamp
 * @param quant        in: multipliers/shifts, [units] each (all equal for per-tensor weights)
 * @param rows         in: number of input rows (batch), >= 1
 * @param depth        in: input features per row (accumulation depth), >= 1
 * @param units        in: output features per row, >= 1
 * @param input        in: int8 [rows, depth]
 * @param filter       in: int8 [units, depth]
 * @param bias         in: int32 [units], or NULL
 * @param output       out: int8 [rows, units]
 * @param scratch      in: tk_fully_connected_s8_scratch_size() bytes (NULL if 0)
 * @return TK_OK or TK_ERR_ARG
 */
tk_status tk_fully_connected_s8(const tk_fc_params *params, const tk_channel_quant *quant,
                                int32_t rows, int32_t depth, int32_t units,
                                const int8_t *input, const int8_t *filter, const int32_t *bias,
                                int8_t *output, void *scratch);

/** Scratch bytes tk_fully_connected_s8 needs (0 for the reference kernel). */
int32_t tk_fully_connected_s8_scratch_size(int32_t rows, int32_t depth, int32_t units);

#endif /* TK_FULLY_CONNECTED_S8_H */
