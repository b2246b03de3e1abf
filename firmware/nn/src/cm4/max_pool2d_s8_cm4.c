/* MAX_POOL_2D int8 for Cortex-M4: a word of four channels at a time, SSUB8 + SEL. */
#include "max_pool2d_s8_cm4.h"

#include "tk_pool.h"
#include "tk_requant.h"
#include "tk_simd.h"

/* The clamped maximum of channels c..c+3 over the window's taps (rows fy0..fy1, columns
 * fx0..fx1 of the input rows starting at `base`, `row` bytes apart). */
TK_INLINE int32_t window_max4(const int8_t *base, int32_t row, int32_t ch, int32_t fy0, int32_t fy1, int32_t fx0,
                              int32_t fx1, int32_t lo4, int32_t hi4)
{
    int32_t best = (int32_t)0x80808080u;
    for (int32_t fy = fy0; fy < fy1; ++fy) {
        const int8_t *p = base + fy * row + fx0 * ch;
        for (int32_t fx = fx0; fx < fx1; ++fx, p += ch) {
            best = tk_smax8(best, tk_read_s8x4(p));
        }
    }
    return tk_smin8(tk_smax8(best, lo4), hi4);
}

tk_status tk_max_pool2d_s8_cm4(const tk_pool_params *params,
                               const tk_dims *input_dims, const int8_t *input,
                               const tk_dims *output_dims, int8_t *output)
{
    const int32_t in_h = input_dims->h, in_w = input_dims->w, ch = input_dims->c;
    const int32_t out_h = output_dims->h, out_w = output_dims->w;
    const tk_status st = tk_pool_check(params, input_dims, output_dims);
    if (st != TK_OK) {
        return st;
    }
    const int32_t lo = params->act_min < -128 ? -128 : params->act_min;
    const int32_t hi = params->act_max > 127 ? 127 : params->act_max;
    const int32_t lo4 = (int32_t)((uint32_t)(uint8_t)lo * 0x01010101u);
    const int32_t hi4 = (int32_t)((uint32_t)(uint8_t)hi * 0x01010101u);
    const int32_t row = in_w * ch;
    int8_t *out = output;
    for (int32_t b = 0; b < input_dims->n; ++b) {
        for (int32_t oy = 0; oy < out_h; ++oy) {
            const int32_t y0 = oy * params->stride_h - params->pad_h;
            int32_t fy0, fy1;
            tk_pool_span(y0, params->filter_h, in_h, &fy0, &fy1);
            for (int32_t ox = 0; ox < out_w; ++ox) {
                const int32_t x0 = ox * params->stride_w - params->pad_w;
                int32_t fx0, fx1;
                tk_pool_span(x0, params->filter_w, in_w, &fx0, &fx1);
                const int8_t *base = input + ((b * in_h + y0) * in_w + x0) * ch;
                int32_t c = 0;
                for (; c + 4 <= ch; c += 4, out += 4) {
                    tk_write_s8x4(out, window_max4(base + c, row, ch, fy0, fy1, fx0, fx1, lo4, hi4));
                }
                for (; c < ch; ++c) {   /* the channel tail, as the reference does it */
                    int32_t best = -128;
                    for (int32_t fy = fy0; fy < fy1; ++fy) {
                        for (int32_t fx = fx0; fx < fx1; ++fx) {
                            const int32_t v = base[fy * row + fx * ch + c];
                            best = v > best ? v : best;
                        }
                    }
                    *out++ = (int8_t)tk_clamp(best, params->act_min, params->act_max);
                }
            }
        }
    }
    return TK_OK;
}
