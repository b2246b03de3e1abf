/* CONV_2D int8 for Cortex-M4, general path: any kernel, stride, padding, dilation, C_in.
 * Each pixel's receptive field is first copied as int8 into a row buffer (out-of-image
 * taps and the K4 tail hold the input zero point, which the offset turns into 0), then
 * expanded to int16 pairs: one uniform expansion whatever C_in's alignment. */
#include "conv2d_s8_cm4.h"

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

/* Inline byte moves: under -ffreestanding memcpy/memset are library calls, and the runs
 * here are a few bytes (a tap of C_in values). LDR/STR take unaligned addresses on the M4. */
TK_INLINE int8_t *copy_bytes(int8_t *d, const int8_t *s, int32_t n)
{
    for (; n >= 4; n -= 4, s += 4, d += 4) {
        tk_write_s8x4(d, tk_read_s8x4(s));
    }
    for (; n > 0; --n) {
        *d++ = *s++;
    }
    return d;
}

TK_INLINE int8_t *fill_bytes(int8_t *d, int8_t v, int32_t n)
{
    const int32_t v4 = (int32_t)((uint32_t)(uint8_t)v * 0x01010101u);
    for (; n >= 4; n -= 4, d += 4) {
        tk_write_s8x4(d, v4);
    }
    for (; n > 0; --n) {
        *d++ = v;
    }
    return d;
}

static void gather_general(const void *vctx, int32_t p, int32_t *dst, int32_t stride)
{
    const gather_ctx *g = (const gather_ctx *)vctx;
    const tk_conv_params *pr = g->params;
    const int32_t in_h = g->in->h, in_w = g->in->w, in_c = g->in->c;
    const int32_t k_h = g->f->h, k_w = g->f->w;
    const int32_t ox = p % g->out_w;
    const int32_t oy = (p / g->out_w) % g->out_h;
    const int32_t b = p / (g->out_w * g->out_h);
    const int8_t zero_point = (int8_t)(-pr->input_offset);
    const int32_t ix0 = ox * pr->stride_w - pr->pad_w;
    const int32_t row_inside = ix0 >= 0 && ix0 + (k_w - 1) * pr->dilation_w < in_w && pr->dilation_w == 1;
    int8_t *r = g->row;
    for (int32_t ky = 0; ky < k_h; ++ky) {
        const int32_t iy = oy * pr->stride_h - pr->pad_h + ky * pr->dilation_h;
        if (iy < 0 || iy >= in_h) {
            r = fill_bytes(r, zero_point, k_w * in_c);
            continue;
        }
        const int8_t *in_row = g->input + ((b * in_h + iy) * in_w) * in_c;
        if (row_inside) {   /* the kernel row is one contiguous run of the input row */
            r = copy_bytes(r, in_row + ix0 * in_c, k_w * in_c);
            continue;
        }
        for (int32_t kx = 0; kx < k_w; ++kx) {
            const int32_t ix = ix0 + kx * pr->dilation_w;
            r = ix < 0 || ix >= in_w ? fill_bytes(r, zero_point, in_c) : copy_bytes(r, in_row + ix * in_c, in_c);
        }
    }
    fill_bytes(r, zero_point, (int32_t)(g->row + g->k4 - r));
    tk_cm4_expand(dst, stride, g->row, g->k4 / 4, g->offset2);
}

int32_t tk_conv2d_s8_cm4_scratch_size(const tk_conv_params *params, const tk_dims *input_dims,
                                          const tk_dims *filter_dims,
                                      const tk_dims *output_dims)
{
    (void)params;
    (void)input_dims;
    const int32_t k = filter_dims->h * filter_dims->w * filter_dims->c;
    return tk_cm4_conv_scratch(output_dims->c, k, tk_cm4_round4(k));
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
    tk_cm4_gemm g;
    uint8_t *spare = tk_cm4_conv_setup(&g, params, quant, filter_dims, packed_filter, bias, output_dims,
                                       output, scratch, 1);
    g.w8 = w8;
    gather_ctx ctx = {params, input_dims, filter_dims, output_dims->h, output_dims->w, input,
                      (int8_t *)spare, tk_cm4_round4(g.k), tk_cm4_offset2(params->input_offset)};
    tk_cm4_gemm_run(&g, gather_general, &ctx);
    return TK_OK;
}

tk_status tk_conv2d_s8_cm4(const tk_conv_params *params, const tk_channel_quant *quant,
                           const tk_dims *input_dims, const int8_t *input,
                           const tk_dims *filter_dims, const int32_t *packed_filter,
                           const int32_t *bias,
                           const tk_dims *output_dims, int8_t *output,
                           void *scratch)
{
    return run(params, quant, input_dims, input, filter_dims, packed_filter, bias, output_dims, output, scratch, 0);
}

tk_status tk_conv2d_s8_w8_cm4(const tk_conv_params *params, const tk_channel_quant *quant,
                           const tk_dims *input_dims, const int8_t *input,
                           const tk_dims *filter_dims, const int32_t *packed_filter,
                           const int32_t *bias,
                           const tk_dims *output_dims, int8_t *output,
                           void *scratch)
{
    return run(params, quant, input_dims, input, filter_dims, packed_filter, bias, output_dims, output, scratch, 1);
}
