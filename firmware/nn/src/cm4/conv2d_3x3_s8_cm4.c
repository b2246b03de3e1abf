/* CONV_2D int8 for Cortex-M4, 3x3 path (dilation 1, C_in % 4 == 0 or C_in == 3), without
 * im2col.
 *
 * The three input rows under the current output row are kept expanded in a window whose
 * entry u holds, for kernel rows ky = 0, 1, 2 in turn and per group of 4 channels,
 * [even(u), odd(u), even(u + S_w), odd(u + S_w)] of that input row: pixel u and its pair
 * partner S_w columns to the right, interleaved as the micro-kernels' LDM wants them (zeros
 * off the image). The column of the output pair (ox, ox + 1) is then the three consecutive
 * entries u = ox * S_w - pad_w + 0..2: one contiguous run, in the reduction order
 * (kx, ky, c), which is why this variant's filter is packed from [C_out, K_w, K_h, C_in].
 * Moving to the next output row shifts the kept rows down inside each entry (LDM/STM) and
 * expands only the new ones: each input row is expanded once per call, where im2col
 * expanded every input value up to 9 times.
 *
 * C_in == 3 (RGB input layers) runs as C_in = 4: the packed filter holds zeros for the
 * fourth channel, so whatever the fourth lane holds (the next pixel's first channel, read
 * by the same 4-byte load) contributes nothing: 9 * 4 = 36 products per output instead of
 * 27, and no gather at all.
 */
#include "conv2d_3x3_s8_cm4.h"

#include "tk_cm4_conv_core.h"

/* Channels as the window stores them (C_in rounded up to a multiple of 4). */
static int32_t window_channels(int32_t in_c)
{
    return (in_c + 3) & ~3;
}

/* Window entries: the columns of ceil(W_out / 2) pairs, consecutive pairs 2 * S_w apart. */
static int32_t window_entries(int32_t out_w, int32_t stride_w)
{
    const int32_t pairs = (out_w + 1) / 2;
    return 2 * (pairs - 1) * stride_w + 3;
}

/* Scratch: the requantization table, the window (3 rows), and the odd-width tail's pair. */
static int32_t window_words(const tk_conv_params *params, const tk_dims *input_dims, const tk_dims *output_dims)
{
    return 3 * window_channels(input_dims->c) * window_entries(output_dims->w, params->stride_w);
}

/* Interleave pixels a and b (groups of 4 channels each) into [e(a), o(a), e(b), o(b)]. */
#define EXPAND_PAIR_GROUP(dst, a, b, offset2)                                              \
    do {                                                                                   \
        int32_t x_, y_;                                                                    \
        TK_LDR_IA(a, x_);                                                                  \
        TK_LDR_IA(b, y_);                                                                  \
        TK_STRD_IA(dst, tk_sxtab16(offset2, x_), tk_sxtab16_ror8(offset2, x_), 8);         \
        TK_STRD_IA(dst, tk_sxtab16(offset2, y_), tk_sxtab16_ror8(offset2, y_), 8);         \
    } while (0)

TK_INLINE void expand_pair(int32_t *dst, const int8_t *a, const int8_t *b, int32_t groups, int32_t offset2)
{
    if (groups & 1) {
        EXPAND_PAIR_GROUP(dst, a, b, offset2);
    }
    for (int32_t g = groups >> 1; g > 0; --g) {
        EXPAND_PAIR_GROUP(dst, a, b, offset2);
        EXPAND_PAIR_GROUP(dst, a, b, offset2);
    }
}

/* One pixel's groups into one half of the entries' pairs (dst every 4 words); a pixel off
 * the image (src NULL) gives zeros. Near the end of the input tensor the last 4-byte group
 * of a C_in == 3 pixel would read past it: those bytes come one by one (the fourth lane's
 * value does not matter, its weights are zero). */
static void expand_one(int32_t *dst, const int8_t *src, int32_t groups, int32_t offset2, const int8_t *limit)
{
    if (src == NULL) {
        tk_cm4_zero(dst, 4, groups);
        return;
    }
    if (src + 4 * groups <= limit) {
        tk_cm4_expand_s4(dst, src, groups, offset2);
        return;
    }
    for (int32_t g = 0; g < groups; ++g, src += 4, dst += 4) {
        int8_t b[4] = {0, 0, 0, 0};
        for (int32_t t = 0; t < 4 && src + t < limit; ++t) {
            b[t] = src[t];
        }
        tk_cm4_expand_s4(dst, b, 1, offset2);
    }
}

/* Kernel row ky of every window entry (u = u0 + j) from input row `row` (NULL: a padding
 * row). Entry j starts at window + 3 * wc * j words. */
static void fill_row(int32_t *window, int32_t ky, const int8_t *row, int32_t u0, int32_t entries, int32_t in_w,
                     int32_t in_c, int32_t stride_w, int32_t offset2, const int8_t *limit)
{
    const int32_t wc = window_channels(in_c), cg = wc / 4, step = 3 * wc;
    int32_t *dst = window + ky * wc;
    if (row == NULL) {
        for (int32_t j = 0; j < entries; ++j, dst += step) {
            tk_cm4_zero(dst, 2, 2 * cg);
        }
        return;
    }
    /* entries whose two pixels are both inside the row, and safe to read 4 * cg bytes at */
    int32_t lo = -u0 > 0 ? -u0 : 0;
    int32_t hi = in_w - stride_w - u0;   /* exclusive */
    while (hi > lo && row + (u0 + hi - 1 + stride_w) * in_c + 4 * cg > limit) {
        --hi;
    }
    if (hi > entries) {
        hi = entries;
    }
    for (int32_t j = 0; j < entries; ++j, dst += step) {
        if (j == lo && lo < hi) {
            const int8_t *a = row + (u0 + j) * in_c, *b = a + stride_w * in_c;
            for (; j < hi; ++j, dst += step, a += in_c, b += in_c) {
                expand_pair(dst, a, b, cg, offset2);
            }
            if (j == entries) {
                break;
            }
        }
        const int32_t u = u0 + j, v = u + stride_w;
        expand_one(dst, u >= 0 && u < in_w ? row + u * in_c : NULL, cg, offset2, limit);
        expand_one(dst + 2, v >= 0 && v < in_w ? row + v * in_c : NULL, cg, offset2, limit);
    }
}

/* Kernel rows d..2 of every entry move to 0..2-d (the output row moved d input rows down):
 * a forward copy (dst < src) of (3 - d) * wc words per entry, 4 words per LDM/STM. */
static void shift_rows(int32_t *window, int32_t d, int32_t entries, int32_t wc)
{
    const int32_t quads = (3 - d) * wc / 4;
    for (int32_t j = 0; j < entries; ++j, window += 3 * wc) {
        int32_t *dst = window;
        const int32_t *src = window + d * wc;
        if (quads & 1) {
            TK_COPY4_IA(dst, src);
        }
        for (int32_t q = quads >> 1; q > 0; --q) {
            TK_COPY4_IA(dst, src);
            TK_COPY4_IA(dst, src);
        }
    }
}

int32_t tk_conv2d_3x3_s8_cm4_scratch_size(const tk_conv_params *params, const tk_dims *input_dims,
                                          const tk_dims *filter_dims, const tk_dims *output_dims)
{
    (void)filter_dims;
    return output_dims->c * (int32_t)sizeof(tk_cm4_rq) + 4 * window_words(params, input_dims, output_dims) +
           ((2 * output_dims->c + 3) & ~3);
}

/* int8 filters: rather than widening the filter with SXTB16 for every pixel pair (4 more
 * instructions per 16 MACs), each output row widens it once into int16 pairs in the scratch,
 * a chunk of output channels at a time, and runs the int16 blocks over the row's pixel
 * pairs from there. The chunk (an even number of channels, at least 2) is bounded by
 * TK_W8_ROW_BYTES of scratch; more channels per chunk mean fewer calls per pixel pair. */
#define TK_W8_ROW_BYTES 8192

static int32_t w8_chunk_channels(int32_t out_c, int32_t in_c)
{
    const int32_t bytes_per_channel = 9 * window_channels(in_c) * 2;
    int32_t cb = (TK_W8_ROW_BYTES / bytes_per_channel) & ~1;
    if (cb < 2) {
        cb = 2;
    }
    return cb < out_c ? cb : out_c;
}

int32_t tk_conv2d_3x3_s8_w8_cm4_scratch_size(const tk_conv_params *params, const tk_dims *input_dims,
                                             const tk_dims *filter_dims, const tk_dims *output_dims)
{
    return tk_conv2d_3x3_s8_cm4_scratch_size(params, input_dims, filter_dims, output_dims) +
           w8_chunk_channels(output_dims->c, input_dims->c) * 9 * window_channels(input_dims->c) * 2;
}

/* `words` int8 filter words (4 int8 each) into even/odd int16 pairs: the int16 layout
 * (tk_conv2d_pack_s8_cm4) of the same channels. On the M4, 4 words per LDM, 8 SXTB16, one
 * STM of 8 (3 instructions a word; compiled C takes 7.5). The register order makes each
 * SXTB16 overwrite only a source already consumed. */
static void widen_filter(int32_t *dst, const int32_t *src, int32_t words)
{
#if TK_SIMD_DSP
    int32_t quads = words >> 2;
    if (quads > 0) {
        __asm__ volatile("1:\n\t"
                         "ldmia %[s]!, {r9, r10, r11, r12}\n\t"
                         "sxtb16 r4, r9\n\t"
                         "sxtb16 r5, r9, ror #8\n\t"
                         "sxtb16 r6, r10\n\t"
                         "sxtb16 r8, r10, ror #8\n\t"
                         "sxtb16 r9, r11\n\t"
                         "sxtb16 r10, r11, ror #8\n\t"
                         "sxtb16 r11, r12\n\t"
                         "sxtb16 r12, r12, ror #8\n\t"
                         "stmia %[d]!, {r4, r5, r6, r8, r9, r10, r11, r12}\n\t"
                         "subs %[n], %[n], #1\n\t"
                         "bne 1b"
                         : [s] "+r"(src), [d] "+r"(dst), [n] "+r"(quads)
                         :
                         : "r4", "r5", "r6", "r8", "r9", "r10", "r11", "r12", "cc", "memory");
    }
    words &= 3;
#endif
    for (; words >= 2; words -= 2, src += 2, dst += 4) {
        const int32_t a = src[0], b = src[1];
        dst[0] = tk_sxtb16(a);
        dst[1] = tk_sxtb16_ror8(a);
        dst[2] = tk_sxtb16(b);
        dst[3] = tk_sxtb16_ror8(b);
    }
    if (words) {
        dst[0] = tk_sxtb16(src[0]);
        dst[1] = tk_sxtb16_ror8(src[0]);
    }
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
    if (filter_dims->h != 3 || filter_dims->w != 3 || params->dilation_h != 1 ||
        params->dilation_w != 1 || (input_dims->c % 4 != 0 && input_dims->c != 3)) {
        return TK_ERR_SHAPE;
    }
    const int32_t in_h = input_dims->h, in_w = input_dims->w, in_c = input_dims->c;
    const int32_t out_h = output_dims->h, out_w = output_dims->w, out_c = output_dims->c;
    const int32_t wc = window_channels(in_c);
    /* the GEMM sees the reduction as 9 * wc (the packed filter's zero channels included) */
    const tk_dims gemm_filter = {filter_dims->n, 3, 3, wc};
    tk_cm4_gemm g;
    int32_t *window = (int32_t *)(void *)tk_cm4_conv_setup(&g, params, quant, &gemm_filter, packed_filter, bias,
                                                           output_dims, output, scratch, 0);
    g.w8 = 0;   /* the blocks always read int16 pairs: from flash, or widened per row (w8) */
    const int32_t cb = w8 ? w8_chunk_channels(out_c, in_c) : out_c;
    int32_t *wide = window + window_words(params, input_dims, output_dims) + ((2 * out_c + 3) & ~3) / 4;
    const int32_t entries = window_entries(out_w, params->stride_w);
    int8_t *tail = (int8_t *)(window + window_words(params, input_dims, output_dims));
    const int32_t offset2 = tk_cm4_offset2(params->input_offset);
    const int32_t pair_step = 2 * params->stride_w * 3 * wc;   /* words between pairs' columns */
    const int8_t *limit = input + input_dims->n * in_h * in_w * in_c;
    const tk_cm4_pair_fn pair = tk_cm4_pair_for(&g);
    const int32_t *col;
    int8_t *out = output;
    for (int32_t b = 0; b < input_dims->n; ++b) {
        const int8_t *image = input + b * in_h * in_w * in_c;
        int32_t top = 0, have = 0;   /* input row at ky = 0; whether the window holds rows */
        for (int32_t oy = 0; oy < out_h; ++oy) {
            const int32_t iy0 = oy * params->stride_h - params->pad_h;
            int32_t keep = 0;
            if (have && iy0 - top < 3) {
                keep = 3 - (iy0 - top);
                shift_rows(window, iy0 - top, entries, wc);
            }
            for (int32_t ky = keep; ky < 3; ++ky) {
                const int32_t iy = iy0 + ky;
                fill_row(window, ky, iy >= 0 && iy < in_h ? image + iy * in_w * in_c : NULL, -params->pad_w,
                         entries, in_w, in_c, params->stride_w, offset2, limit);
            }
            top = iy0;
            have = 1;
            for (int32_t c0 = 0; c0 < out_c; c0 += cb) {   /* one chunk: all channels unless w8 */
                tk_cm4_gemm gc = g;
                gc.out_c = out_c - c0 < cb ? out_c - c0 : cb;
                gc.os.rq = g.os.rq + c0;
                if (w8) {
                    widen_filter(wide, packed_filter + c0 * g.groups, gc.out_c * g.groups);
                    gc.w = wide;
                }
                int8_t *o = out + c0;
                col = window;
                int32_t ox = 0;
                for (; ox + 1 < out_w; ox += 2) {
                    pair(&gc, col, o, out_c);
                    o += 2 * out_c;
                    col += pair_step;
                }
                if (ox < out_w) {   /* odd width: the pair's second pixel is computed, not kept */
                    pair(&gc, col, tail, out_c);
                    for (int32_t c = 0; c < gc.out_c; ++c) {
                        o[c] = tail[c];
                    }
                }
            }
            out += out_w * out_c;
        }
    }
    return TK_OK;
}

tk_status tk_conv2d_3x3_s8_cm4(const tk_conv_params *params, const tk_channel_quant *quant,
                               const tk_dims *input_dims, const int8_t *input,
                               const tk_dims *filter_dims, const int32_t *packed_filter,
                               const int32_t *bias,
                               const tk_dims *output_dims, int8_t *output,
                               void *scratch)
{
    return run(params, quant, input_dims, input, filter_dims, packed_filter, bias, output_dims, output, scratch, 0);
}

tk_status tk_conv2d_3x3_s8_w8_cm4(const tk_conv_params *params, const tk_channel_quant *quant,
                               const tk_dims *input_dims, const int8_t *input,
                               const tk_dims *filter_dims, const int32_t *packed_filter,
                               const int32_t *bias,
                               const tk_dims *output_dims, int8_t *output,
                               void *scratch)
{
    return run(params, quant, input_dims, input, filter_dims, packed_filter, bias, output_dims, output, scratch, 1);
}
