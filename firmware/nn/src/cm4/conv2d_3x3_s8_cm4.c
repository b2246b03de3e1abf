/* CONV_2D int8 for Cortex-M4, 3x3 path (dilation 1, C_in % 4 == 0): the im2col column is
 * expanded straight from the input, one kernel row (3 * C_in contiguous bytes) at a time
 * when the row lies inside the image, tap by tap with zero groups at the borders. */
#include "conv2d_3x3_s8_cm4.h"

#include "tk_cm4_conv_core.h"

typedef struct {
    const tk_conv_params *params;
    const tk_dims *in;
    int32_t out_h, out_w;
    const int8_t *input;
    int32_t offset2;
} gather_ctx;

TK_INLINE void gather_at(const void *vctx, int32_t p, int32_t *dst, const int32_t stride)
{
    const gather_ctx *g = (const gather_ctx *)vctx;
    const int32_t in_h = g->in->h, in_w = g->in->w, in_c = g->in->c;
    const int32_t cg = in_c / 4;   /* groups per tap */
    const int32_t ox = p % g->out_w;
    const int32_t oy = (p / g->out_w) % g->out_h;
    const int32_t b = p / (g->out_w * g->out_h);
    const int32_t iy0 = oy * g->params->stride_h - g->params->pad_h;
    const int32_t ix0 = ox * g->params->stride_w - g->params->pad_w;
    const int8_t *image = g->input + b * in_h * in_w * in_c;
    for (int32_t ky = 0; ky < 3; ++ky) {
        const int32_t iy = iy0 + ky;
        if (iy < 0 || iy >= in_h) {
            dst = tk_cm4_zero(dst, stride, 3 * cg);
            continue;
        }
        const int8_t *row = image + (iy * in_w + ix0) * in_c;
        if (ix0 >= 0 && ix0 + 2 < in_w) {
            dst = tk_cm4_expand(dst, stride, row, 3 * cg, g->offset2);
            continue;
        }
        for (int32_t kx = 0; kx < 3; ++kx) {
            const int32_t ix = ix0 + kx;
            if (ix < 0 || ix >= in_w) {
                dst = tk_cm4_zero(dst, stride, cg);
            } else {
                dst = tk_cm4_expand(dst, stride, row + kx * in_c, cg, g->offset2);
            }
        }
    }
}

/* stride is a constant in each branch, so stores become STRD with fixed offsets */
static void gather_3x3(const void *vctx, int32_t p, int32_t *dst, int32_t stride)
{
    if (stride == 4) {
        gather_at(vctx, p, dst, 4);
    } else {
        gather_at(vctx, p, dst, 2);
    }
}

int32_t tk_conv2d_3x3_s8_cm4_scratch_size(const tk_dims *input_dims, const tk_dims *filter_dims,
                                          const tk_dims *output_dims)
{
    (void)input_dims;
    return tk_cm4_conv_scratch(output_dims->c, filter_dims->h * filter_dims->w * filter_dims->c, 0);
}

tk_status tk_conv2d_3x3_s8_cm4(const tk_conv_params *params, const tk_channel_quant *quant,
                               const tk_dims *input_dims, const int8_t *input,
                               const tk_dims *filter_dims, const int8_t *filter,
                               const int32_t *bias,
                               const tk_dims *output_dims, int8_t *output,
                               void *scratch)
{
    const tk_status st = tk_cm4_conv_check(params, input_dims, filter_dims, output_dims, scratch);
    if (st != TK_OK) {
        return st;
    }
    if (filter_dims->h != 3 || filter_dims->w != 3 || params->dilation_h != 1 ||
        params->dilation_w != 1 || input_dims->c % 4 != 0) {
        return TK_ERR_SHAPE;
    }
    tk_cm4_gemm g;
    (void)tk_cm4_conv_setup(&g, params, quant, filter_dims, filter, bias, output_dims, output, scratch);
    gather_ctx ctx = {params, input_dims, output_dims->h, output_dims->w, input,
                      tk_cm4_offset2(params->input_offset)};
    tk_cm4_gemm_run(&g, gather_3x3, &ctx);
    return TK_OK;
}
