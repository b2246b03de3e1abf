/* Reference ADD int8 (same shapes), as TFLite's reference_integer_ops::AddElementwise. */
#include "add_s8.h"

#include "tk_requant.h"

tk_status tk_add_s8(const tk_add_params *params, int32_t size, const int8_t *input1,
                    int32_t size2, const int8_t *input2, int8_t *output)
{
    if (size < 0 || size2 < 1 || size % size2 != 0 || params->left_shift < 0 || params->left_shift > 30 ||
        params->act_min > params->act_max) {
        return TK_ERR_ARG;
    }
    for (int32_t i = 0, j = 0; i < size; ++i, j = (j + 1 == size2) ? 0 : j + 1) {
        const int32_t v1 = (params->input1_offset + input1[i]) * (1 << params->left_shift);
        const int32_t v2 = (params->input2_offset + input2[j]) * (1 << params->left_shift);
        const int32_t s1 = tk_mul_by_quantized_multiplier(v1, params->input1_multiplier, params->input1_shift);
        const int32_t s2 = tk_mul_by_quantized_multiplier(v2, params->input2_multiplier, params->input2_shift);
        const int32_t raw = tk_mul_by_quantized_multiplier(s1 + s2, params->output_multiplier, params->output_shift) +
                            params->output_offset;
        output[i] = (int8_t)tk_clamp(raw, params->act_min, params->act_max);
    }
    return TK_OK;
}
