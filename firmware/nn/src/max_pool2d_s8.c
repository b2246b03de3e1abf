/* Reference MAX_POOL_2D int8, as TFLite's reference_integer_ops::MaxPool. */
#include "max_pool2d_s8.h"

#include "tk_pool.h"
#include "tk_requant.h"

tk_status tk_max_pool2d_s8(const tk_pool_params *params,
                           const tk_dims *input_dims, const int8_t *input,
                           const tk_dims *output_dims, int8_t *output)
{
    const int32_t in_h = input_dims->h, in_w = input_dims->w, ch = input_dims->c;
    const int32_t out_h = output_dims->h, out_w = output_dims->w;
    const tk_status st = tk_pool_check(params, input_dims, output_dims);
    if (st != TK_OK) {
        return st;
    }
    for (int32_t b = 0; b < input_dims->n; ++b) {
        for (int32_t oy = 0; oy < out_h; ++oy) {
            const int32_t y0 = oy * params->stride_h - params->pad_h;
            int32_t fy_start, fy_end;
            tk_pool_span(y0, params->filter_h, in_h, &fy_start, &fy_end);
            for (int32_t ox = 0; ox < out_w; ++ox) {
                const int32_t x0 = ox * params->stride_w - params->pad_w;
                int32_t fx_start, fx_end;
                tk_pool_span(x0, params->filter_w, in_w, &fx_start, &fx_end);
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
