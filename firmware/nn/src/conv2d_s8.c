/* Reference CONV_2D int8: the readable specification; follows TFLite's
 * reference_integer_ops::ConvPerChannel loop order and arithmetic exactly. */
#include "conv2d_s8.h"

#include <stddef.h>

#include "tk_requant.h"

int32_t tk_conv2d_s8_scratch_size(const tk_conv_params *params, const tk_dims *input_dims,
                                  const tk_dims *filter_dims, const tk_dims *output_dims)
{
    (void)params;
    (void)input_dims;
    (void)filter_dims;
    (void)output_dims;
    return 0;
}

tk_status tk_conv2d_s8(const tk_conv_params *params, const tk_channel_quant *quant,
                       const tk_dims *input_dims, const int8_t *input,
                       const tk_dims *filter_dims, const int8_t *filter,
                       const int32_t *bias,
                       const tk_dims *output_dims, int8_t *output,
                       void *scratch)
{
    (void)scratch;
    const int32_t in_h = input_dims->h, in_w = input_dims->w, in_c = input_dims->c;
    const int32_t k_h = filter_dims->h, k_w = filter_dims->w, k_c = filter_dims->c;
    const int32_t out_h = output_dims->h, out_w = output_dims->w, out_c = output_dims->c;

    if (params->stride_h < 1 || params->stride_w < 1 || params->dilation_h < 1 ||
        params->dilation_w < 1 || params->act_min > params->act_max) {
        return TK_ERR_ARG;
    }
    if (k_c < 1 || in_c % k_c != 0 || filter_dims->n != out_c ||
        input_dims->n != output_dims->n) {
        return TK_ERR_SHAPE;
    }
    const int32_t groups = in_c / k_c;
    if (out_c % groups != 0) {
        return TK_ERR_SHAPE;
    }
    const int32_t filters_per_group = out_c / groups;

    for (int32_t b = 0; b < input_dims->n; ++b) {
        for (int32_t oy = 0; oy < out_h; ++oy) {
            const int32_t in_y0 = oy * params->stride_h - params->pad_h;
            for (int32_t ox = 0; ox < out_w; ++ox) {
                const int32_t in_x0 = ox * params->stride_w - params->pad_w;
                for (int32_t oc = 0; oc < out_c; ++oc) {
                    const int32_t group = oc / filters_per_group;
                    int32_t acc = 0;
                    for (int32_t ky = 0; ky < k_h; ++ky) {
                        const int32_t iy = in_y0 + params->dilation_h * ky;
                        if (iy < 0 || iy >= in_h) {
                            continue;
                        }
                        for (int32_t kx = 0; kx < k_w; ++kx) {
                            const int32_t ix = in_x0 + params->dilation_w * kx;
                            if (ix < 0 || ix >= in_w) {
                                continue;
                            }
                            const int8_t *in_px = input + ((b * in_h + iy) * in_w + ix) * in_c + group * k_c;
                            const int8_t *f_px = filter + ((oc * k_h + ky) * k_w + kx) * k_c;
                            for (int32_t ic = 0; ic < k_c; ++ic) {
                                acc += (int32_t)f_px[ic] * ((int32_t)in_px[ic] + params->input_offset);
                            }
                        }
                    }
                    if (bias != NULL) {
                        acc += bias[oc];
                    }
                    acc = tk_mul_by_quantized_multiplier(acc, quant->multiplier[oc], quant->shift[oc]);
                    acc += params->output_offset;
                    acc = tk_clamp(acc, params->act_min, params->act_max);
                    output[((b * out_h + oy) * out_w + ox) * out_c + oc] = (int8_t)acc;
                }
            }
        }
    }
    return TK_OK;
}
