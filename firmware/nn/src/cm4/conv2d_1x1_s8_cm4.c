/* CONV_2D int8 for Cortex-M4, 1x1 path: the im2col column of a pixel is its C_in input
 * values, expanded straight from the input tensor (no padding, no bounds checks). */
#include "conv2d_1x1_s8_cm4.h"

#include "tk_cm4_conv_core.h"

typedef struct {
    const tk_conv_params *params;
    const tk_dims *in;
    int32_t out_h, out_w;
    const int8_t *input;
    int32_t offset2;
} gather_ctx;

static void gather_1x1(const void *vctx, int32_t p, int32_t *dst, int32_t stride)
{
    const gather_ctx *g = (const gather_ctx *)vctx;
    const int32_t in_c = g->in->c;
    const int32_t ox = p % g->out_w;
    const int32_t oy = (p / g->out_w) % g->out_h;
    const int32_t b = p / (g->out_w * g->out_h);
    const int32_t iy = oy * g->params->stride_h, ix = ox * g->params->stride_w;
    const int8_t *src = g->input + ((b * g->in->h + iy) * g->in->w + ix) * in_c;
    if (stride == 4) {  /* constant strides: fixed-offset stores */
        tk_cm4_expand(dst, 4, src, in_c / 4, g->offset2);
    } else {
        tk_cm4_expand(dst, 2, src, in_c / 4, g->offset2);
    }
}

int32_t tk_conv2d_1x1_s8_cm4_scratch_size(const tk_conv_params *params, const tk_dims *input_dims,
                                          const tk_dims *filter_dims,
                                          const tk_dims *output_dims)
{
    (void)params;
    (void)input_dims;
    return tk_cm4_conv_scratch(output_dims->c, filter_dims->h * filter_dims->w * filter_dims->c, 0);
}

/* Inlined into both entry points: the filter layout `w8` is a constant in each. */
TK_INLINE tk_status run(const tk_conv_params *params, const tk_channel_quant *quant,
                               const tk_dims *input_dims, const int8_t *input,
                               const tk_dims *filter_dims, const int32_t *packed_filter,
                               const int32_t *bias,
                               const tk_dims *output_dims, int8_t *output,
                               void *scratch,
                     int32_t w8)
{
    const tk_status st = tk_cm4_conv_check(params, input_dims, filter_dims, output_dims, scratch);
    if (st != TK_OK) {
        return st;
    }
    if (filter_dims->h != 1 || filter_dims->w != 1 || params->pad_h != 0 || params->pad_w != 0 ||
        input_dims->c % 4 != 0 ||
        (output_dims->h - 1) * params->stride_h >= input_dims->h ||
        (output_dims->w - 1) * params->stride_w >= input_dims->w) {
        return TK_ERR_SHAPE;
    }
    tk_cm4_gemm g;
    (void)tk_cm4_conv_setup(&g, params, quant, filter_dims, packed_filter, bias, output_dims, output, scratch, 1);
    g.w8 = w8;
    gather_ctx ctx = {params, input_dims, output_dims->h, output_dims->w, input,
                      tk_cm4_offset2(params->input_offset)};
    tk_cm4_gemm_run(&g, gather_1x1, &ctx);
    return TK_OK;
}

tk_status tk_conv2d_1x1_s8_cm4(const tk_conv_params *params, const tk_channel_quant *quant,
                               const tk_dims *input_dims, const int8_t *input,
                               const tk_dims *filter_dims, const int32_t *packed_filter,
                               const int32_t *bias,
                               const tk_dims *output_dims, int8_t *output,
                               void *scratch)
{
    return run(params, quant, input_dims, input, filter_dims, packed_filter, bias, output_dims, output, scratch, 0);
}

tk_status tk_conv2d_1x1_s8_w8_cm4(const tk_conv_params *params, const tk_channel_quant *quant,
                               const tk_dims *input_dims, const int8_t *input,
                               const tk_dims *filter_dims, const int32_t *packed_filter,
                               const int32_t *bias,
                               const tk_dims *output_dims, int8_t *output,
                               void *scratch)
{
    return run(params, quant, input_dims, input, filter_dims, packed_filter, bias, output_dims, output, scratch, 1);
}
