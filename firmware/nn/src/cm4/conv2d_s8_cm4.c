/* CONV_2D int8 for Cortex-M4, general path: any kernel, stride, padding, dilation, C_in.
 * Each pixel's receptive field is first copied as int8 into a row buffer (out-of-image
 * taps and the K4 tail hold the input zero point, which the offset turns into 0), then
 * expanded to int16 pairs: one uniform expansion whatever C_in's alignment. */
#include "conv2d_s8_cm4.h"

#include <string.h>

#include "tk_cm4_conv_core.h"

typedef struct {
    const tk_conv_params *params;
    const tk_dims *in;
    const tk_dims *f;
    int32_t out_h, out_w;
    const int8_t *input;
    int8_t *row;          /* k4 bytes */
    int32_t k4;
    int32_t offset2;
} gather_ctx;

static void gather(const void *vctx, int32_t p, int32_t *dst, int32_t stride)
{
    const gather_ctx *g = (const gather_ctx *)vctx;
    const tk_conv_params *pr = g->params;
    const int32_t in_h = g->in->h, in_w = g->in->w, in_c = g->in->c;
    const int32_t ox = p % g->out_w;
    const int32_t oy = (p / g->out_w) % g->out_h;
    const int32_t b = p / (g->out_w * g->out_h);
    const int8_t zero_point = (int8_t)(-pr->input_offset);
    int8_t *r = g->row;
    for (int32_t ky = 0; ky < g->f->h; ++ky) {
        const int32_t iy = oy * pr->stride_h - pr->pad_h + ky * pr->dilation_h;
        for (int32_t kx = 0; kx < g->f->w; ++kx) {
            const int32_t ix = ox * pr->stride_w - pr->pad_w + kx * pr->dilation_w;
            if (iy < 0 || iy >= in_h || ix < 0 || ix >= in_w) {
                memset(r, zero_point, (size_t)in_c);
            } else {
                memcpy(r, g->input + ((b * in_h + iy) * in_w + ix) * in_c, (size_t)in_c);
            }
            r += in_c;
        }
    }
    memset(r, zero_point, (size_t)(g->row + g->k4 - r));
    tk_cm4_expand(dst, stride, g->row, g->k4 / 4, g->offset2);
}

int32_t tk_conv2d_s8_cm4_scratch_size(const tk_dims *input_dims, const tk_dims *filter_dims,
                                      const tk_dims *output_dims)
{
    (void)input_dims;
    const int32_t k = filter_dims->h * filter_dims->w * filter_dims->c;
    return tk_cm4_conv_scratch(output_dims->c, k, tk_cm4_round4(k));
}

tk_status tk_conv2d_s8_cm4(const tk_conv_params *params, const tk_channel_quant *quant,
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
    tk_cm4_gemm g;
    uint8_t *spare = tk_cm4_conv_setup(&g, params, quant, filter_dims, filter, bias, output_dims,
                                       output, scratch);
    gather_ctx ctx = {params, input_dims, filter_dims, output_dims->h, output_dims->w, input,
                      (int8_t *)spare, tk_cm4_round4(g.k), tk_cm4_offset2(params->input_offset)};
    tk_cm4_gemm_run(&g, gather, &ctx);
    return TK_OK;
}
