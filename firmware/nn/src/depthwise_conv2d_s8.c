/* Reference DEPTHWISE_CONV_2D int8, as TFLite's reference_integer_ops::DepthwiseConvPerChannel. */
#include "depthwise_conv2d_s8.h"

#include <stddef.h>

#include "tk_requant.h"

int32_t tk_depthwise_conv2d_s8_scratch_size(const tk_dims *input_dims, const tk_dims *filter_dims,
                                            const tk_dims *output_dims)
{
    (void)input_dims;
    (void)filter_dims;
    (void)output_dims;
    return 0;
}

tk_status tk_depthwise_conv2d_s8(const tk_dw_conv_params *params, const tk_channel_quant *quant,
                                 const tk_dims *input_dims, const int8_t *input,
                                 const tk_dims *filter_dims, const int8_t *filter,
                                 const int32_t *bias,
                                 const tk_dims *output_dims, int8_t *output,
                                 void *scratch)
{
    (void)scratch;
    const int32_t in_h = input_dims->h, in_w = input_dims->w, in_c = input_dims->c;
    const int32_t k_h = filter_dims->h, k_w = filter_dims->w;
    const int32_t out_h = output_dims->h, out_w = output_dims->w, out_c = output_dims->c;
    const int32_t dm = params->depth_multiplier;

    if (params->stride_h < 1 || params->stride_w < 1 || params->dilation_h < 1 ||
        params->dilation_w < 1 || dm < 1 || params->act_min > params->act_max) {
        return TK_ERR_ARG;
    }
    if (out_c != in_c * dm || filter_dims->c != out_c || input_dims->n != output_dims->n) {
        return TK_ERR_SHAPE;
    }

    for (int32_t b = 0; b < input_dims->n; ++b) {
        for (int32_t oy = 0; oy < out_h; ++oy) {
            const int32_t in_y0 = oy * params->stride_h - params->pad_h;
            for (int32_t ox = 0; ox < out_w; ++ox) {
                const int32_t in_x0 = ox * params->stride_w - params->pad_w;
                for (int32_t ic = 0; ic < in_c; ++ic) {
                    for (int32_t m = 0; m < dm; ++m) {
                        const int32_t oc = ic * dm + m;
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
                                const int32_t in_val = input[((b * in_h + iy) * in_w + ix) * in_c + ic];
                                const int32_t f_val = filter[(ky * k_w + kx) * out_c + oc];
                                acc += f_val * (in_val + params->input_offset);
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
    }
    return TK_OK;
}
