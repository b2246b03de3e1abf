/*
 * Shared machinery of the Cortex-M4 convolution variants (internal to firmware/nn/src/cm4):
 * im2col GEMM on int16 pairs with SMLAD, 3 output channels x 2 output pixels per block
 * (2 x 2 and 1 x 2 for the last channels of a chunk).
 *
 * Data layout (all int16 pairs, "reordered" as SXTB16 produces them): a group of 4
 * consecutive reduction elements k..k+3 of one operand becomes two words
 *     even = [v(k), v(k+2)],  odd = [v(k+1), v(k+3)]
 * and SMLAD(even_w, even_x) + SMLAD(odd_w, odd_x) is the 4-element dot product, so
 * neither operand ever needs un-shuffling. The reduction length K = K_h*K_w*C_in is
 * padded to K4 (multiple of 4) with zeros.
 *   - weights in blocks of 3 channels (tk_cm4_block(): pairs for a remainder of 4 or 2, a
 *     single channel for 1), per group [even(o), odd(o), even(o+1), odd(o+1), ...]; packed
 *     once, at export time, by tk_conv2d_pack_s8_cm4() (conv2d_pack_s8_cm4.h) and read from
 *     flash: no per-call expansion, no weight scratch, no channel chunks;
 *   - the column of a pixel pair, per group: [even(p), odd(p), even(p+1), odd(p+1)]
 *     (a trailing single pixel: [even, odd]), input_offset already added. A column is
 *     given as `nseg` segments of `seg_groups` groups each (one im2col buffer, or one run
 *     per kernel row in the 3x3 path's row ring), consumed in order.
 * One LDM brings a group of the pixel pair, each LDRD a group of one channel, which then
 * feeds 4 SMLADs: 16 instructions per 24 multiply-accumulates in a 3 x 2 block.
 *
 * Requantization: tk_cm4_requant.h.
 */
#ifndef TK_CM4_CONV_CORE_H
#define TK_CM4_CONV_CORE_H

#include <stddef.h>
#include <stdint.h>

#include "tk_cm4_requant.h"
#include "tk_simd.h"
#include "tk_types.h"

/* The variants each use a subset of the shared routines below. */
#define TK_CM4_STATIC static __attribute__((unused))

TK_INLINE int32_t tk_cm4_round4(int32_t k)
{
    return (k + 3) & ~3;
}

/** Scratch layout sizes (bytes): requant table, two im2col columns, the variant's extra. */
TK_INLINE int32_t tk_cm4_conv_scratch(int32_t out_c, int32_t k, int32_t extra)
{
    return out_c * (int32_t)sizeof(tk_cm4_rq) + 2 * tk_cm4_round4(k) * 2 + extra;
}

/* ------------------------------------------------------------ operand expansion */

/**
 * Expand `groups` groups of 4 int8 (src, any alignment) into even/odd int16 pairs with
 * `offset2` = [offset, offset] added, writing 2 words per group every `stride` words.
 */
/* Expansion loops with the destination stride as a literal (16 bytes: one pixel of a pair,
 * 8 bytes: a single pixel), so each group is LDR, 2 SXTAB16, one post-indexed STRD. */
#define TK_CM4_EXPAND_BODY(BYTES)                         \
    const int8_t *end = src + 4 * groups;                 \
    int32_t x_, y_;                                       \
    if (groups & 1) {                                     \
        TK_LDR_IA(src, x_);                               \
        TK_STRD_IA(dst, tk_sxtab16(offset2, x_), tk_sxtab16_ror8(offset2, x_), BYTES); \
    }                                                     \
    while (src != end) {                                  \
        TK_LDR_IA(src, x_);                               \
        TK_LDR_IA(src, y_);                               \
        TK_STRD_IA(dst, tk_sxtab16(offset2, x_), tk_sxtab16_ror8(offset2, x_), BYTES); \
        TK_STRD_IA(dst, tk_sxtab16(offset2, y_), tk_sxtab16_ror8(offset2, y_), BYTES); \
    }                                                     \
    return dst;

TK_INLINE int32_t *tk_cm4_expand_s4(int32_t *dst, const int8_t *src, int32_t groups, int32_t offset2)
{
    TK_CM4_EXPAND_BODY(16)
}

TK_INLINE int32_t *tk_cm4_expand_s6(int32_t *dst, const int8_t *src, int32_t groups, int32_t offset2)
{
    TK_CM4_EXPAND_BODY(24)
}

TK_INLINE int32_t *tk_cm4_expand_s2(int32_t *dst, const int8_t *src, int32_t groups, int32_t offset2)
{
    TK_CM4_EXPAND_BODY(8)
}

/**
 * Expand `groups` groups of 4 int8 (src, any alignment) into even/odd int16 pairs with
 * `offset2` = [offset, offset] added, writing 2 words per group every `stride` words
 * (6, 4 or 2).
 */
TK_INLINE int32_t *tk_cm4_expand(int32_t *dst, int32_t stride, const int8_t *src, int32_t groups,
                                 int32_t offset2)
{
    return stride == 4 ? tk_cm4_expand_s4(dst, src, groups, offset2)
           : stride == 6 ? tk_cm4_expand_s6(dst, src, groups, offset2)
                         : tk_cm4_expand_s2(dst, src, groups, offset2);
}

/** Channels in the next weight block when `rest` remain: triples, pairs for 4 and 2. */
TK_INLINE int32_t tk_cm4_block(int32_t rest)
{
    return rest == 4 || rest == 2 ? 2 : (rest == 1 ? 1 : 3);
}

/** Write `groups` zero groups (2 words each, every `stride` words). */
TK_INLINE int32_t *tk_cm4_zero(int32_t *dst, int32_t stride, int32_t groups)
{
    for (int32_t g = 0; g < groups; ++g) {
        dst[0] = 0;
        dst[1] = 0;
        dst += stride;
    }
    return dst;
}

/* ------------------------------------------------------------- micro-kernels */

/* One group of 4 reduction elements of a 2 channel x 2 pixel block: one LDM brings the
 * pixel pair's operands, two LDRD the channel pair's, 8 SMLAD. */
#define TK_CM4_MM22_STEP(w, c)                \
    do {                                      \
        int32_t c0e_, c0o_, c1e_, c1o_, we_, wo_; \
        TK_LD4_IA(c, c0e_, c0o_, c1e_, c1o_); \
        tk_ld2_ia(&(w), &we_, &wo_);          \
        a00 = tk_smlad(we_, c0e_, a00);       \
        a01 = tk_smlad(we_, c1e_, a01);       \
        a00 = tk_smlad(wo_, c0o_, a00);       \
        a01 = tk_smlad(wo_, c1o_, a01);       \
        tk_ld2_ia(&(w), &we_, &wo_);          \
        a10 = tk_smlad(we_, c0e_, a10);       \
        a11 = tk_smlad(we_, c1e_, a11);       \
        a10 = tk_smlad(wo_, c0o_, a10);       \
        a11 = tk_smlad(wo_, c1o_, a11);       \
    } while (0)

/* One group of a 3 channel x 2 pixel block: one LDM (pixel pair), three LDRD (channels),
 * 12 SMLAD: 16 instructions for 24 multiply-accumulates. */
#define TK_CM4_MM32_STEP                                                                      \
    do {                                                                                      \
        int32_t c0e_, c0o_, c1e_, c1o_;                                                       \
        TK_LD4_IA(c, c0e_, c0o_, c1e_, c1o_);                                                 \
        TK_LD2_IA(w, we, wo);                                                                 \
        a00 = tk_smlad(we, c0e_, a00);                                                        \
        a01 = tk_smlad(we, c1e_, a01);                                                        \
        a00 = tk_smlad(wo, c0o_, a00);                                                        \
        a01 = tk_smlad(wo, c1o_, a01);                                                        \
        TK_LD2_IA(w, we, wo);                                                                 \
        a10 = tk_smlad(we, c0e_, a10);                                                        \
        a11 = tk_smlad(we, c1e_, a11);                                                        \
        a10 = tk_smlad(wo, c0o_, a10);                                                        \
        a11 = tk_smlad(wo, c1o_, a11);                                                        \
        TK_LD2_IA(w, we, wo);                                                                 \
        a20 = tk_smlad(we, c0e_, a20);                                                        \
        a21 = tk_smlad(we, c1e_, a21);                                                        \
        a20 = tk_smlad(wo, c0o_, a20);                                                        \
        a21 = tk_smlad(wo, c1o_, a21);                                                        \
    } while (0)
#define TK_CM4_C(n) case n: TK_CM4_MM32_STEP; __attribute__((fallthrough));

/* Groups per straight-line block of tk_cm4_block32 (its code: ~64 bytes per group). The
 * host build (portable stand-ins, sanitizers in the tests) keeps 8: the same switch and
 * block loop, a fraction of the compile time. */
#if TK_SIMD_DSP
#define TK_CM4_MM32_UNROLL 64
#define TK_CM4_CASES_ABOVE_8                                                                  \
    TK_CM4_C(64) TK_CM4_C(63) TK_CM4_C(62) TK_CM4_C(61) TK_CM4_C(60) TK_CM4_C(59) TK_CM4_C(58) \
    TK_CM4_C(57) TK_CM4_C(56) TK_CM4_C(55) TK_CM4_C(54) TK_CM4_C(53) TK_CM4_C(52) TK_CM4_C(51) \
    TK_CM4_C(50) TK_CM4_C(49) TK_CM4_C(48) TK_CM4_C(47) TK_CM4_C(46) TK_CM4_C(45) TK_CM4_C(44) \
    TK_CM4_C(43) TK_CM4_C(42) TK_CM4_C(41) TK_CM4_C(40) TK_CM4_C(39) TK_CM4_C(38) TK_CM4_C(37) \
    TK_CM4_C(36) TK_CM4_C(35) TK_CM4_C(34) TK_CM4_C(33) TK_CM4_C(32) TK_CM4_C(31) TK_CM4_C(30) \
    TK_CM4_C(29) TK_CM4_C(28) TK_CM4_C(27) TK_CM4_C(26) TK_CM4_C(25) TK_CM4_C(24) TK_CM4_C(23) \
    TK_CM4_C(22) TK_CM4_C(21) TK_CM4_C(20) TK_CM4_C(19) TK_CM4_C(18) TK_CM4_C(17) TK_CM4_C(16) \
    TK_CM4_C(15) TK_CM4_C(14) TK_CM4_C(13) TK_CM4_C(12) TK_CM4_C(11) TK_CM4_C(10) TK_CM4_C(9)
#else
#define TK_CM4_MM32_UNROLL 8
#define TK_CM4_CASES_ABOVE_8
#endif

/** A pixel pair's column: `nseg` runs of `seg_groups` groups, in reduction order. */
#define TK_CM4_MAX_SEGS 3
typedef struct {
    const int32_t *seg[TK_CM4_MAX_SEGS];
    int32_t nseg;
    int32_t seg_groups;
} tk_cm4_col;

/**
 * 3 channels (triple layout, table entries q[0..2]) x 2 pixels (pair layout), requantized
 * and stored at out[0..2] (pixel p) and out[oc..oc+2] (pixel p+1). The reduction is straight-line code entered at the
 * right depth (a switch falling through, up to TK_CM4_MM32_UNROLL groups per block): no
 * loop counter, which leaves the 14 allocatable registers to 6 accumulators, 2 pointers
 * and 6 operands.
 */
__attribute__((noinline)) TK_CM4_STATIC void tk_cm4_block32(const int32_t *w, const tk_cm4_col *col,
                                                     const tk_cm4_rq *q, const tk_cm4_out *os, int8_t *out,
                                                     int32_t oc)
{
    int32_t a00 = q[0].bias, a01 = q[0].bias, a10 = q[1].bias, a11 = q[1].bias, a20 = q[2].bias, a21 = q[2].bias;
    register int32_t we TK_PIN("r4");
    register int32_t wo TK_PIN("r5");
    for (int32_t s = 0; s < col->nseg; ++s) {
        const int32_t *c = col->seg[s];
        int32_t groups = col->seg_groups;
        while (groups > 0) {
            const int32_t n = groups > TK_CM4_MM32_UNROLL ? TK_CM4_MM32_UNROLL : groups;
            groups -= n;
            switch (n) {
                TK_CM4_CASES_ABOVE_8
                TK_CM4_C(8) TK_CM4_C(7) TK_CM4_C(6) TK_CM4_C(5) TK_CM4_C(4) TK_CM4_C(3) TK_CM4_C(2) TK_CM4_C(1)
            default:
                break;
            }
        }
    }
    /* requantize straight from the accumulator registers, all six before the first int8
     * store (which could alias the table and force reloads) */
#define TK_CM4_STORE6(mode)                                               \
    do {                                                                  \
        const int32_t r00 = tk_cm4_rq_apply(os, mode, &q[0], a00);        \
        const int32_t r01 = tk_cm4_rq_apply(os, mode, &q[0], a01);        \
        const int32_t r10 = tk_cm4_rq_apply(os, mode, &q[1], a10);        \
        const int32_t r11 = tk_cm4_rq_apply(os, mode, &q[1], a11);        \
        const int32_t r20 = tk_cm4_rq_apply(os, mode, &q[2], a20);        \
        const int32_t r21 = tk_cm4_rq_apply(os, mode, &q[2], a21);        \
        out[0] = (int8_t)r00;                                             \
        out[1] = (int8_t)r10;                                             \
        out[2] = (int8_t)r20;                                             \
        out[oc] = (int8_t)r01;                                            \
        out[oc + 1] = (int8_t)r11;                                        \
        out[oc + 2] = (int8_t)r21;                                        \
    } while (0)
    if (os->mode == TK_CM4_RQ_SAT) {
        TK_CM4_STORE6(TK_CM4_RQ_SAT);
    } else if (os->mode == TK_CM4_RQ_CLAMP) {
        TK_CM4_STORE6(TK_CM4_RQ_CLAMP);
    } else {
        TK_CM4_STORE6(TK_CM4_RQ_EXACT);
    }
#undef TK_CM4_STORE6
}
#undef TK_CM4_C
#undef TK_CM4_CASES_ABOVE_8

/** 3 channels (triple layout) x 1 pixel (single layout). acc: [ch0, ch1, ch2]. */
__attribute__((noinline)) TK_CM4_STATIC void tk_cm4_mm31(const int32_t *w, const int32_t *c, int32_t groups,
                                                  int32_t *acc)
{
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2];
    for (int32_t g = 0; g < groups; ++g) {
        int32_t ce, co, we, wo;
        tk_ld2_ia(&c, &ce, &co);
        tk_ld2_ia(&w, &we, &wo);
        a0 = tk_smlad(wo, co, tk_smlad(we, ce, a0));
        tk_ld2_ia(&w, &we, &wo);
        a1 = tk_smlad(wo, co, tk_smlad(we, ce, a1));
        tk_ld2_ia(&w, &we, &wo);
        a2 = tk_smlad(wo, co, tk_smlad(we, ce, a2));
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
}

/** 2 channels (pair layout) x 1 pixel (single layout). acc: [ch0, ch1]. */
__attribute__((noinline)) TK_CM4_STATIC void tk_cm4_mm21(const int32_t *w, const int32_t *c, int32_t groups,
                                                  int32_t *acc)
{
    int32_t a0 = acc[0], a1 = acc[1];
    int32_t w0e, w0o, w1e, w1o, ce, co;
    for (int32_t g = 0; g < groups; ++g) {
        TK_LD4_IA(w, w0e, w0o, w1e, w1o);
        tk_ld2_ia(&c, &ce, &co);
        a0 = tk_smlad(w0e, ce, a0);
        a1 = tk_smlad(w1e, ce, a1);
        a0 = tk_smlad(w0o, co, a0);
        a1 = tk_smlad(w1o, co, a1);
    }
    acc[0] = a0;
    acc[1] = a1;
}

/** 1 channel (single layout) x 2 pixels (pair layout). acc: [px0, px1]. */
__attribute__((noinline)) TK_CM4_STATIC void tk_cm4_mm12(const int32_t *w, const tk_cm4_col *col, int32_t *acc)
{
    int32_t a0 = acc[0], a1 = acc[1];
    int32_t c0e, c0o, c1e, c1o, we, wo;
    for (int32_t s = 0; s < col->nseg; ++s) {
        const int32_t *c = col->seg[s];
        for (int32_t g = 0; g < col->seg_groups; ++g) {
            TK_LD4_IA(c, c0e, c0o, c1e, c1o);
            tk_ld2_ia(&w, &we, &wo);
            a0 = tk_smlad(we, c0e, a0);
            a1 = tk_smlad(we, c1e, a1);
            a0 = tk_smlad(wo, c0o, a0);
            a1 = tk_smlad(wo, c1o, a1);
        }
    }
    acc[0] = a0;
    acc[1] = a1;
}

/** 1 channel x 1 pixel, both single layout. */
TK_INLINE int32_t tk_cm4_mm11(const int32_t *w, const int32_t *c, int32_t groups, int32_t acc)
{
    for (int32_t g = 0; g < groups; ++g) {
        acc = tk_smlad(w[0], c[0], acc);
        acc = tk_smlad(w[1], c[1], acc);
        w += 2;
        c += 2;
    }
    return acc;
}

/* ------------------------------------------------------------------ the driver */

/**
 * Writes the im2col column(s) of output pixel `p` (flat index over N*H_out*W_out) into
 * `dst`, 2 words per group every `stride` words (stride 4: one pixel of a pair, stride 2: a
 * single pixel). `ctx` is the variant's own context.
 */
typedef void (*tk_cm4_gather_fn)(const void *ctx, int32_t p, int32_t *dst, int32_t stride);

typedef struct {
    int32_t pixels;     /* N * H_out * W_out */
    int32_t out_c;
    int32_t k;          /* reduction length K_h * K_w * C_in */
    int32_t groups;     /* K4 / 4 */
    const int32_t *w;   /* packed filter (tk_conv2d_pack_s8_cm4) */
    int8_t *output;
    tk_cm4_out os;
    int32_t *cbuf;      /* 2 * k4 * 2 bytes */
} tk_cm4_gemm;

/**
 * All channels of the pixel pair whose column is `col`: per channel block, the reduction
 * then its outputs requantized and stored at out[o] (pixel p) and out[oc + o] (pixel p+1).
 */
TK_INLINE void tk_cm4_pair_pixels(const tk_cm4_gemm *g, int32_t mode, const tk_cm4_col *col, int8_t *out,
                                  int32_t oc)
{
    const int32_t groups = g->groups, count = g->out_c;
    const tk_cm4_rq *q = g->os.rq;
    const int32_t *w = g->w;
    for (int32_t j = 0; j < count;) {
        const int32_t nb = tk_cm4_block(count - j);
        if (nb == 3) {
            tk_cm4_block32(w, col, q, &g->os, out, oc);
        } else if (nb == 2) {
            int32_t a00 = q[0].bias, a01 = q[0].bias, a10 = q[1].bias, a11 = q[1].bias;
            const int32_t *wp = w;
            for (int32_t s = 0; s < col->nseg; ++s) {
                const int32_t *c = col->seg[s];
                const int32_t sg = col->seg_groups;
                for (int32_t r = sg & 3; r > 0; --r) {
                    TK_CM4_MM22_STEP(wp, c);
                }
                for (int32_t r = sg >> 2; r > 0; --r) {
                    TK_CM4_MM22_STEP(wp, c);
                    TK_CM4_MM22_STEP(wp, c);
                    TK_CM4_MM22_STEP(wp, c);
                    TK_CM4_MM22_STEP(wp, c);
                }
            }
            const tk_cm4_rq q0 = q[0], q1 = q[1];
            out[0] = (int8_t)tk_cm4_rq_apply(&g->os, mode, &q0, a00);
            out[oc] = (int8_t)tk_cm4_rq_apply(&g->os, mode, &q0, a01);
            out[1] = (int8_t)tk_cm4_rq_apply(&g->os, mode, &q1, a10);
            out[oc + 1] = (int8_t)tk_cm4_rq_apply(&g->os, mode, &q1, a11);
        } else {
            int32_t acc[2] = {q[0].bias, q[0].bias};
            tk_cm4_mm12(w, col, acc);
            out[0] = (int8_t)tk_cm4_rq_apply(&g->os, mode, &q[0], acc[0]);
            out[oc] = (int8_t)tk_cm4_rq_apply(&g->os, mode, &q[0], acc[1]);
        }
        w += groups * 2 * nb;
        out += nb;
        q += nb;
        j += nb;
    }
}

__attribute__((noinline)) TK_CM4_STATIC void tk_cm4_pair_pixels_sat(const tk_cm4_gemm *g, const tk_cm4_col *col,
                                                             int8_t *out, int32_t oc)
{
    tk_cm4_pair_pixels(g, TK_CM4_RQ_SAT, col, out, oc);
}

__attribute__((noinline)) TK_CM4_STATIC void tk_cm4_pair_pixels_clamp(const tk_cm4_gemm *g, const tk_cm4_col *col,
                                                               int8_t *out, int32_t oc)
{
    tk_cm4_pair_pixels(g, TK_CM4_RQ_CLAMP, col, out, oc);
}

__attribute__((noinline)) TK_CM4_STATIC void tk_cm4_pair_pixels_exact(const tk_cm4_gemm *g, const tk_cm4_col *col,
                                                               int8_t *out, int32_t oc)
{
    tk_cm4_pair_pixels(g, TK_CM4_RQ_EXACT, col, out, oc);
}

typedef void (*tk_cm4_pair_fn)(const tk_cm4_gemm *, const tk_cm4_col *, int8_t *, int32_t);

/** The pixel-pair routine for the call's requantization mode (chosen once per call). */
TK_INLINE tk_cm4_pair_fn tk_cm4_pair_for(const tk_cm4_gemm *g)
{
    return g->os.mode == TK_CM4_RQ_SAT ? tk_cm4_pair_pixels_sat
           : g->os.mode == TK_CM4_RQ_CLAMP ? tk_cm4_pair_pixels_clamp : tk_cm4_pair_pixels_exact;
}

/** All channels of the single pixel in cbuf (single layout). */
TK_CM4_STATIC void tk_cm4_single_pixel(const tk_cm4_gemm *g, int8_t *out)
{
    const tk_cm4_rq *q = g->os.rq;
    const int32_t *w = g->w;
    for (int32_t j = 0; j < g->out_c;) {
        const int32_t nb = tk_cm4_block(g->out_c - j);
        int32_t acc[3] = {q[j].bias, nb > 1 ? q[j + 1].bias : 0, nb > 2 ? q[j + 2].bias : 0};
        if (nb == 3) {
            tk_cm4_mm31(w, g->cbuf, g->groups, acc);
        } else if (nb == 2) {
            tk_cm4_mm21(w, g->cbuf, g->groups, acc);
        } else {
            acc[0] = tk_cm4_mm11(w, g->cbuf, g->groups, acc[0]);
        }
        for (int32_t c = 0; c < nb; ++c) {
            out[j + c] = (int8_t)tk_cm4_requant(&g->os, &q[j + c], acc[c]);
        }
        w += g->groups * 2 * nb;
        j += nb;
    }
}

/** The convolution as GEMM over pixel pairs whose columns `gather` writes into cbuf. */
TK_CM4_STATIC void tk_cm4_gemm_run(const tk_cm4_gemm *g, tk_cm4_gather_fn gather, const void *ctx)
{
    const tk_cm4_pair_fn pair = tk_cm4_pair_for(g);
    const tk_cm4_col col = {{g->cbuf, NULL, NULL}, 1, g->groups};
    int8_t *out = g->output;
    int32_t p = 0;
    for (; p + 1 < g->pixels; p += 2) {
        gather(ctx, p, g->cbuf, 4);
        gather(ctx, p + 1, g->cbuf + 2, 4);
        pair(g, &col, out, g->out_c);
        out += 2 * g->out_c;
    }
    if (p < g->pixels) {
        gather(ctx, p, g->cbuf, 2);
        tk_cm4_single_pixel(g, out);
    }
}

/** Checks shared by the convolution variants (groups == 1 only). */
TK_INLINE tk_status tk_cm4_conv_check(const tk_conv_params *params, const tk_dims *input_dims,
                                      const tk_dims *filter_dims, const tk_dims *output_dims,
                                      const void *scratch)
{
    if (params->stride_h < 1 || params->stride_w < 1 || params->dilation_h < 1 ||
        params->dilation_w < 1 || params->act_min > params->act_max || scratch == NULL ||
        ((uintptr_t)scratch & 3u) != 0) {
        return TK_ERR_ARG;
    }
    if (filter_dims->c != input_dims->c || filter_dims->n != output_dims->c ||
        input_dims->n != output_dims->n || filter_dims->h < 1 || filter_dims->w < 1) {
        return TK_ERR_SHAPE;
    }
    return TK_OK;
}

/**
 * Carve the scratch (requantization table, then the two im2col columns when `columns` is 1)
 * and fill the common GEMM description; returns the spare bytes' start.
 */
TK_CM4_STATIC uint8_t *tk_cm4_conv_setup(tk_cm4_gemm *g, const tk_conv_params *params,
                                  const tk_channel_quant *quant, const tk_dims *filter_dims,
                                  const int32_t *packed_filter, const int32_t *bias,
                                  const tk_dims *output_dims, int8_t *output, void *scratch,
                                  int32_t columns)
{
    const int32_t out_c = output_dims->c;
    const int32_t k = filter_dims->h * filter_dims->w * filter_dims->c;
    const int32_t k4 = tk_cm4_round4(k);
    uint8_t *s = (uint8_t *)scratch;
    tk_cm4_rq *rq = (tk_cm4_rq *)(void *)s;
    s += out_c * (int32_t)sizeof(tk_cm4_rq);
    g->cbuf = (int32_t *)(void *)s;   /* columns: im2col buffers wanted (0 or 1) */
    s += columns * 2 * k4 * 2;
    g->pixels = output_dims->n * output_dims->h * output_dims->w;
    g->out_c = out_c;
    g->k = k;
    g->groups = k4 / 4;
    g->w = packed_filter;
    g->output = output;
    g->os.rq = rq;
    g->os.out_offset = params->output_offset;
    g->os.act_min = params->act_min;
    g->os.act_max = params->act_max;
    g->os.mode = tk_cm4_build_rq(rq, out_c, bias, quant, k, params->output_offset, params->act_min,
                                 params->act_max);
    return s;
}

#endif /* TK_CM4_CONV_CORE_H */
