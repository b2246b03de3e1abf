/* Reference QUANTIZE int8 -> int8, as TFLite's reference_ops::Requantize. */
#include "requantize_s8.h"

#include "tk_requant.h"

tk_status tk_requantize_s8(const tk_requantize_params *params, int32_t size,
                           const int8_t *input, int8_t *output)
{
    if (size < 0) {
        return TK_ERR_ARG;
    }
    for (int32_t i = 0; i < size; ++i) {
        const int32_t v = tk_mul_by_quantized_multiplier((int32_t)input[i] - params->input_zero_point,
                                                         params->multiplier, params->shift) +
                          params->output_zero_point;
        output[i] = (int8_t)tk_clamp(v, -128, 127);
    }
    return TK_OK;
}
