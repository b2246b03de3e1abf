/* Reference MEAN int8: the two paths TFLite Micro's EvalIntegerMean takes. */
#include "mean_s8.h"

#include "tk_requant.h"

tk_status tk_mean_s8(const tk_mean_params *params, const tk_dims *input_dims,
                     const int8_t *input, int8_t *output)
{
    const int32_t ext[4] = {input_dims->n, input_dims->h, input_dims->w, input_dims->c};
    int32_t out_ext[4];
    int32_t red_ext[4];
    int32_t count = 1;
    if (params->axis_mask == 0 || params->axis_mask > 0xFu) {
        return TK_ERR_ARG;
    }
    for (int k = 0; k < 4; ++k) {
        const int reduced = (params->axis_mask >> k) & 1u;
        out_ext[k] = reduced ? 1 : ext[k];
        red_ext[k] = reduced ? ext[k] : 1;
        count *= red_ext[k];
    }
    if (count < 1) {
        return TK_ERR_ARG;
    }
    const int32_t stride[4] = {ext[1] * ext[2] * ext[3], ext[2] * ext[3], ext[3], 1};
    int32_t o = 0;
    for (int32_t a = 0; a < out_ext[0]; ++a) {
        for (int32_t b = 0; b < out_ext[1]; ++b) {
            for (int32_t c = 0; c < out_ext[2]; ++c) {
                for (int32_t d = 0; d < out_ext[3]; ++d) {
                    int32_t sum = 0;
                    for (int32_t ra = 0; ra < red_ext[0]; ++ra) {
                        for (int32_t rb = 0; rb < red_ext[1]; ++rb) {
                            for (int32_t rc = 0; rc < red_ext[2]; ++rc) {
                                for (int32_t rd = 0; rd < red_ext[3]; ++rd) {
                                    sum += input[(a + ra) * stride[0] + (b + rb) * stride[1] +
                                                 (c + rc) * stride[2] + (d + rd) * stride[3]];
                                }
                            }
                        }
                    }
                    int32_t out;
                    if (params->mode == TK_MEAN_DIVIDE) {
                        out = sum / count;
                    } else {
                        const int32_t shifted = sum - params->input_zero_point * count;
                        out = tk_mul_by_quantized_multiplier(shifted, params->multiplier, params->shift) +
                              params->output_zero_point;
                        out = tk_clamp(out, -128, 127);
                    }
                    output[o++] = (int8_t)out;
                }
            }
        }
    }
    return TK_OK;
}
