/* FULLY_CONNECTED int8, Cortex-M4 DSP variant. */
#ifndef TK_FULLY_CONNECTED_S8_CM4_H
#define TK_FULLY_CONNECTED_S8_CM4_H

#include "tk_types.h"

/**
 * Same result, bit for bit, as tk_fully_connected_s8 (fully_connected_s8.h, the
 * specification). Each input row is expanded once into int16 pairs with the input offset
 * added (scratch); weights are expanded on the fly with SXTB16 and two output units
 * share every loaded input pair (4 SMLAD per 4 depth elements and 2 units);
 * requantization once per output.
 *
 * Accepts: filter_offset == 0 (TFLite int8 weights are symmetric); TK_ERR_ARG otherwise.
 *
 * @param params       in: offsets (filter_offset 0) and activation clamp
 * @param quant        in: multipliers/shifts, [units] each
 * @param rows         in: number of input rows (batch), >= 1
 * @param depth        in: input features per row, >= 1
 * @param units        in: output features per row, >= 1
 * @param input        in: int8 [rows, depth]
 * @param filter       in: int8 [units, depth]
 * @param bias         in: int32 [units], or NULL
 * @param output       out: int8 [rows, units]
 * @param scratch      in: tk_fully_connected_s8_cm4_scratch_size() bytes, 4-byte aligned
 * @return TK_OK or TK_ERR_ARG
 */
tk_status tk_fully_connected_s8_cm4(const tk_fc_params *params, const tk_channel_quant *quant,
                                    int32_t rows, int32_t depth, int32_t units,
                                    const int8_t *input, const int8_t *filter, const int32_t *bias,
                                    int8_t *output, void *scratch);

/** Scratch bytes: 24 * units (requantization table) + 2 * depth rounded up to 4 (one expanded row). */
int32_t tk_fully_connected_s8_cm4_scratch_size(int32_t rows, int32_t depth, int32_t units);

#endif /* TK_FULLY_CONNECTED_S8_CM4_H */
