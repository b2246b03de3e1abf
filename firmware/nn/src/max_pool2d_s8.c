/* Reference MAX_POOL_2D int8, as TFLite's reference_integer_ops::MaxPool. */
#include "max_pool2d_s8.h"

#include "tk_requant.h"

tk_status tk_max_pool2d_s8(const tk_pool_params *params,
                           const tk_dims *input_dims, const int8_t *input,
                           const tk_dims *output_dims, int8_t *output)
{
    const int32_t in_h = input_dims->h, in_w = input_dims->w, ch = input_dims->c;
    const int32_t out_h = output_dims->h, out_w = output_dims->w;
    if (params->stride_h < 1 || params->stride_w < 1 || params->filter_h < 1 ||
        params->filter_w < 1 || params->act_min > params->act_max) {
        return TK_ERR_ARG;
    }
    if (output_dims->c != ch || output_dims->n != input_dims->n) {
        return TK_ERR_SHAPE;
    }
    for (int32_t b = 0; b < input_dims->n; ++b) {
        for (int32_t oy = 0; oy < out_h; ++oy) {
            const int32_t y0 = oy * params->stride_h - params->pad_h;
            const int32_t fy_start = y0 < 0 ? -y0 : 0;
            const int32_t fy_end = params->filter_h < in_h - y0 ? params->filter_h : in_h - y0;
            for (int32_t ox = 0; ox < out_w; ++ox) {
                const int32_t x0 = ox * params->stride_w - params->pad_w;
                const int32_t fx_start = x0 < 0 ? -x0 : 0;
                const int32_t fx_end = params->filter_w < in_w - x0 ? params->filter_w : in_w - x0;
                for (int32_t c = 0; c < ch; ++c) {
                    int32_t best = -128;
                    for (int32_t fy = fy_start; fy < fy_end; ++fy) {
                        for (int32_t fx = fx_start; fx < fx_end; ++fx) {
                            const int32_t v = input[((b * in_h + y0 + fy) * in_w + x0 + fx) * ch + c];
                            best = v > best ? v : best;
                        }
                    }
                    output[((b * out_h + oy) * out_w + ox) * ch + c] =
                        (int8_t)tk_clamp(best, params->act_min, params->act_max);
                }
            }
        }
    }
    return TK_OK;
}
