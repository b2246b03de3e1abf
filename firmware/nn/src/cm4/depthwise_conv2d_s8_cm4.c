/* DEPTHWISE_CONV_2D int8 for Cortex-M4 (depth multiplier 1): 4 channels per step with
 * packed loads and SMLABB/SMLATT, the window clipped to the image once per pixel. */
#include "depthwise_conv2d_s8_cm4.h"

#include "tk_cm4_requant.h"

int32_t tk_depthwise_conv2d_s8_cm4_scratch_size(const tk_dims *input_dims, const tk_dims *filter_dims,
                                                const tk_dims *output_dims)
{
    (void)input_dims;
    (void)filter_dims;
    return output_dims->c * (int32_t)sizeof(tk_cm4_rq);
}

tk_status tk_depthwise_conv2d_s8_cm4(const tk_dw_conv_params *params, const tk_channel_quant *quant,
                                     const tk_dims *input_dims, const int8_t *input,
                                     const tk_dims *filter_dims, const int8_t *filter,
                                     const int32_t *bias,
                                     const tk_dims *output_dims, int8_t *output,
                                     void *scratch)
{
    const int32_t in_h = input_dims->h, in_w = input_dims->w, ch = input_dims->c;
    const int32_t k_h = filter_dims->h, k_w = filter_dims->w;
    const int32_t out_h = output_dims->h, out_w = output_dims->w;
    const int32_t sh = params->stride_h, sw = params->stride_w;
    const int32_t dh = params->dilation_h, dw = params->dilation_w;

    if (sh < 1 || sw < 1 || dh < 1 || dw < 1 || params->depth_multiplier < 1 ||
        params->act_min > params->act_max || scratch == NULL || ((uintptr_t)scratch & 3u) != 0) {
        return TK_ERR_ARG;
    }
    if (params->depth_multiplier != 1 || output_dims->c != ch || filter_dims->c != ch ||
        input_dims->n != output_dims->n || k_h < 1 || k_w < 1) {
        return TK_ERR_SHAPE;
    }
    tk_cm4_rq *rq = (tk_cm4_rq *)scratch;
    const tk_cm4_out os = {rq, params->output_offset, params->act_min, params->act_max,
                           tk_cm4_build_rq(rq, ch, bias, quant, k_h * k_w, params->output_offset,
                                           params->act_min, params->act_max)};
    const int32_t off = params->input_offset;
    const int32_t off2 = tk_cm4_offset2(off);
    const int32_t ch4 = ch & ~3;

    for (int32_t b = 0; b < input_dims->n; ++b) {
        const int8_t *image = input + b * in_h * in_w * ch;
        for (int32_t oy = 0; oy < out_h; ++oy) {
            const int32_t iy0 = oy * sh - params->pad_h;
            /* taps ky in [ky0, ky1) fall inside the image */
            int32_t ky0 = 0, ky1 = k_h;
            while (ky0 < k_h && iy0 + ky0 * dh < 0) {
                ++ky0;
            }
            while (ky1 > ky0 && iy0 + (ky1 - 1) * dh >= in_h) {
                --ky1;
            }
            for (int32_t ox = 0; ox < out_w; ++ox) {
                const int32_t ix0 = ox * sw - params->pad_w;
                int32_t kx0 = 0, kx1 = k_w;
                while (kx0 < k_w && ix0 + kx0 * dw < 0) {
                    ++kx0;
                }
                while (kx1 > kx0 && ix0 + (kx1 - 1) * dw >= in_w) {
                    --kx1;
                }
                int8_t *out = output + ((b * out_h + oy) * out_w + ox) * ch;
                int32_t c = 0;
                for (; c < ch4; c += 4) {
                    int32_t a0 = rq[c].bias, a1 = rq[c + 1].bias, a2 = rq[c + 2].bias, a3 = rq[c + 3].bias;
                    for (int32_t ky = ky0; ky < ky1; ++ky) {
                        const int8_t *in_row = image + ((iy0 + ky * dh) * in_w + ix0) * ch + c;
                        const int8_t *f_row = filter + ky * k_w * ch + c;
                        for (int32_t kx = kx0; kx < kx1; ++kx) {
                            const int32_t x = tk_read_s8x4(in_row + kx * dw * ch);
                            const int32_t w = tk_read_s8x4(f_row + kx * ch);
                            const int32_t xe = tk_sxtab16(off2, x), xo = tk_sxtab16_ror8(off2, x);
                            const int32_t we = tk_sxtb16(w), wo = tk_sxtb16_ror8(w);
                            a0 = tk_smlabb(xe, we, a0);
                            a2 = tk_smlatt(xe, we, a2);
                            a1 = tk_smlabb(xo, wo, a1);
                            a3 = tk_smlatt(xo, wo, a3);
                        }
                    }
                    out[c] = (int8_t)tk_cm4_requant(&os, &rq[c], a0);
                    out[c + 1] = (int8_t)tk_cm4_requant(&os, &rq[c + 1], a1);
                    out[c + 2] = (int8_t)tk_cm4_requant(&os, &rq[c + 2], a2);
                    out[c + 3] = (int8_t)tk_cm4_requant(&os, &rq[c + 3], a3);
                }
                for (; c < ch; ++c) {
                    int32_t acc = rq[c].bias;
                    for (int32_t ky = ky0; ky < ky1; ++ky) {
                        const int8_t *in_row = image + ((iy0 + ky * dh) * in_w + ix0) * ch + c;
                        const int8_t *f_row = filter + ky * k_w * ch + c;
                        for (int32_t kx = kx0; kx < kx1; ++kx) {
                            acc += (int32_t)f_row[kx * ch] * ((int32_t)in_row[kx * dw * ch] + off);
                        }
                    }
                    out[c] = (int8_t)tk_cm4_requant(&os, &rq[c], acc);
                }
            }
        }
    }
    return TK_OK;
}
