/* Reference FULLY_CONNECTED int8, as TFLite's reference_integer_ops::FullyConnected. */
#include "fully_connected_s8.h"

#include <stddef.h>

#include "tk_requant.h"

int32_t tk_fully_connected_s8_scratch_size(int32_t rows, int32_t depth, int32_t units)
{
    (void)rows;
    (void)depth;
    (void)units;
    return 0;
}

tk_status tk_fully_connected_s8(const tk_fc_params *params, const tk_channel_quant *quant,
                                int32_t rows, int32_t depth, int32_t units,
                                const int8_t *input, const int8_t *filter, const int32_t *bias,
                                int8_t *output, void *scratch)
{
    (void)scratch;
    if (rows < 1 || depth < 1 || units < 1 || params->act_min > params->act_max) {
        return TK_ERR_ARG;
    }
    for (int32_t r = 0; r < rows; ++r) {
        const int8_t *in_row = input + r * depth;
        for (int32_t o = 0; o < units; ++o) {
            const int8_t *f_row = filter + o * depth;
            int32_t acc = 0;
            for (int32_t d = 0; d < depth; ++d) {
                acc += ((int32_t)f_row[d] + params->filter_offset) *
                       ((int32_t)in_row[d] + params->input_offset);
            }
            if (bias != NULL) {
                acc += bias[o];
            }
            acc = tk_mul_by_quantized_multiplier(acc, quant->multiplier[o], quant->shift[o]);
            acc += params->output_offset;
            output[r * units + o] = (int8_t)tk_clamp(acc, params->act_min, params->act_max);
        }
    }
    return TK_OK;
}
