/*
 * Shared machinery of the Cortex-M4 convolution variants (internal to firmware/nn/src/cm4):
 * GEMM on int16 pairs with SMLAD, 2 output channels x 2 output pixels per block (1 x 2 for
 * a last odd channel).
 *
 * Data layout (all int16 pairs, "reordered" as SXTB16 produces them): a group of 4
 * consecutive reduction elements k..k+3 of one operand becomes two words
 *     even = [v(k), v(k+2)],  odd = [v(k+1), v(k+3)]
 * and SMLAD(even_w, even_x) + SMLAD(odd_w, odd_x) is the 4-element dot product, so
 * neither operand ever needs un-shuffling. The reduction length K = K_h*K_w*C_in is
 * padded to K4 (multiple of 4) with zeros.
 *   - weights in blocks of 2 channels (a last odd channel alone), per group
 *     [even(o), odd(o), even(o+1), odd(o+1)]; packed once, at export time, by
 *     tk_conv2d_pack_s8_cm4() (conv2d_pack_s8_cm4.h) and read from flash: no per-call
 *     expansion, no weight scratch;
 *   - the column of a pixel pair, per group: [even(p), odd(p), even(p+1), odd(p+1)]
 *     (a trailing single pixel: [even, odd]), input_offset already added.
 * Per group of a 2 x 2 block, one LDM brings the pixel pair's 4 words and one LDM the
 * channel pair's, which feed 8 SMLADs: 10 instructions per 16 multiply-accumulates. That
 * takes 14 registers (2 pointers, 4 accumulators, 8 operands), more than the compiler will
 * give inline C, so on the M4 the block loop is assembly (tk_cm4_mm22_sat below); the C
 * loop is its specification, and the host's.
 *
 * Requantization: tk_cm4_requant.h.
 */
#ifndef TK_CM4_CONV_CORE_H
#define TK_CM4_CONV_CORE_H

#include <stddef.h>
#include <stdint.h>

#include "conv2d_pack_s8_cm4.h"
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

TK_INLINE int32_t *tk_cm4_expand_s2(int32_t *dst, const int8_t *src, int32_t groups, int32_t offset2)
{
    TK_CM4_EXPAND_BODY(8)
}

/**
 * Expand `groups` groups of 4 int8 (src, any alignment) into even/odd int16 pairs with
 * `offset2` = [offset, offset] added, writing 2 words per group every `stride` words
 * (4 or 2).
 */
TK_INLINE int32_t *tk_cm4_expand(int32_t *dst, int32_t stride, const int8_t *src, int32_t groups,
                                 int32_t offset2)
{
    return stride == 4 ? tk_cm4_expand_s4(dst, src, groups, offset2) : tk_cm4_expand_s2(dst, src, groups, offset2);
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

/* One group of 4 reduction elements of a 2 channel x 2 pixel block. */
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

/* The same step on the int8 layout: one word per channel, widened in registers. */
#define TK_CM4_MM22_STEP_W8(w, c)             \
    do {                                      \
        int32_t c0e_, c0o_, c1e_, c1o_, r0_, r1_; \
        TK_LD4_IA(c, c0e_, c0o_, c1e_, c1o_); \
        tk_ld2_ia(&(w), &r0_, &r1_);          \
        const int32_t w0e_ = tk_sxtb16(r0_), w0o_ = tk_sxtb16_ror8(r0_); \
        const int32_t w1e_ = tk_sxtb16(r1_), w1o_ = tk_sxtb16_ror8(r1_); \
        a00 = tk_smlad(w0e_, c0e_, a00);      \
        a01 = tk_smlad(w0e_, c1e_, a01);      \
        a00 = tk_smlad(w0o_, c0o_, a00);      \
        a01 = tk_smlad(w0o_, c1o_, a01);      \
        a10 = tk_smlad(w1e_, c0e_, a10);      \
        a11 = tk_smlad(w1e_, c1e_, a11);      \
        a10 = tk_smlad(w1o_, c0o_, a10);      \
        a11 = tk_smlad(w1o_, c1o_, a11);      \
    } while (0)

/** A run of 2 x 2 blocks over channel pairs: what tk_cm4_mm22_sat reads and advances. */
typedef struct {
    const int32_t *w;     /* packed weights of the next channel pair (advanced) */
    const int32_t *col;   /* the pixel pair's column */
    int32_t first;        /* groups in the first pass through the unrolled body (1..64; w8: 1..32) */
    int32_t more;         /* further passes of 64 (w8: 32) groups */
    const tk_cm4_rq *q;   /* requantization entries of the next pair (advanced) */
    int8_t *out;          /* outputs of pixel p for the next pair (advanced); pixel p+1 at +oc */
    int32_t oc;
    int32_t pairs;        /* channel pairs to do */
} tk_cm4_mm22_job;

#if TK_SIMD_DSP
/* The end of both tk_cm4_mm22 bodies (int16 and int8 filters): last-pass check, the 2 x 2
 * block's requantization and stores, loop, and the pointers handed back. One text, spliced
 * into each asm string, so the two variants cannot drift apart. */
#define TK_CM4_MM22_TAIL \
    "3:\n" \
    "  ldr r4, [sp, #4]\n" \
    "  cmp r1, r4\n" \
    "  bne 2b\n" \
    /* requantize: r4 q, r8-r11 one channel's mult/lshift/half/rshift, r5 out, r12 oc */ \
    "  ldr r4, [sp, #28]\n" \
    "  ldmia r4!, {r8-r11}\n" \
    "  lsls r2, r2, r9\n" \
    "  smmulr r2, r2, r8\n" \
    "  lsls r3, r3, r9\n" \
    "  smmulr r3, r3, r8\n" \
    "  add lr, r10, r2, lsl #1\n" \
    "  add r2, lr, r2, asr #31\n" \
    "  asrs r2, r2, r11\n" \
    "  ssat r2, #8, r2\n" \
    "  add lr, r10, r3, lsl #1\n" \
    "  add r3, lr, r3, asr #31\n" \
    "  asrs r3, r3, r11\n" \
    "  ssat r3, #8, r3\n" \
    "  adds r4, r4, #8\n" \
    "  ldmia r4!, {r8-r11}\n" \
    "  lsls r6, r6, r9\n" \
    "  smmulr r6, r6, r8\n" \
    "  lsls r7, r7, r9\n" \
    "  smmulr r7, r7, r8\n" \
    "  add lr, r10, r6, lsl #1\n" \
    "  add r6, lr, r6, asr #31\n" \
    "  asrs r6, r6, r11\n" \
    "  ssat r6, #8, r6\n" \
    "  add lr, r10, r7, lsl #1\n" \
    "  add r7, lr, r7, asr #31\n" \
    "  asrs r7, r7, r11\n" \
    "  ssat r7, #8, r7\n" \
    "  adds r4, r4, #8\n" \
    "  str r4, [sp, #28]\n" \
    "  ldrd r5, r12, [sp, #16]\n"         /* out, oc */ \
    "  strb r3, [r5, r12]\n" \
    "  strb r2, [r5], #1\n" \
    "  strb r7, [r5, r12]\n" \
    "  strb r6, [r5], #1\n" \
    "  str r5, [sp, #16]\n" \
    "  ldr r5, [sp, #24]\n" \
    "  subs r5, r5, #1\n" \
    "  str r5, [sp, #24]\n" \
    "  bne 1b\n" \
    "  ldr r1, [sp]\n"                    /* hand back the advanced pointers */ \
    "  str r0, [r1, #0]\n" \
    "  str r4, [r1, #16]\n" \
    "  ldr r5, [sp, #16]\n" \
    "  str r5, [r1, #20]\n" \
    "  add sp, sp, #32\n" \
    "  pop {r4-r11, pc}\n"

/*
 * void tk_cm4_mm22_sat(tk_cm4_mm22_job *job): for each of job->pairs channel pairs, the
 * 2 x 2 block's reduction (straight-line, entered at the depth of the first pass, then
 * `more` full passes), then its 4 outputs requantized in the SAT form of tk_cm4_rq_apply
 * (tk_cm4_requant.h) and stored. Registers: r0 weights, r1 column, r2/r3 channel 0 (pixels
 * 0/1), r6/r7 channel 1, r8-r11 the pixel pair's group, r4/r5/r12/lr the channel pair's.
 * Defined (weak) in every file that includes this header, so each variant's object is
 * self-contained; the linker keeps one definition for the whole image, and --gc-sections
 * drops the other copies' sections.
 */
void tk_cm4_mm22_sat(tk_cm4_mm22_job *job);
__asm__(
    "  .pushsection .text.tk_cm4_mm22_sat,\"ax\",%progbits\n"
    "  .syntax unified\n"
    "  .thumb\n"
    "  .balign 4\n"
    "  .thumb_func\n"
    "  .weak tk_cm4_mm22_sat\n"
    "  .type tk_cm4_mm22_sat, %function\n"
    "tk_cm4_mm22_sat:\n"
    "  push {r4-r11, lr}\n"
    "  sub sp, sp, #32\n"
    /* frame: [sp] job, +4 column end, +8 body entry, +12 column, +16 out, +20 oc,
     * +24 pairs left, +28 q (also in r4 from the requantization to the next block's biases) */
    "  str r0, [sp]\n"
    "  ldr r2, [r0, #8]\n"                /* first */
    "  adr.w r3, 3f\n"
    "  movs r4, #40\n"                    /* bytes per group: 2 LDM.W + 8 SMLAD */
    "  mls r3, r2, r4, r3\n"
    "  orr r3, r3, #1\n"
    "  str r3, [sp, #8]\n"
    "  ldr r1, [r0, #4]\n"                /* column */
    "  str r1, [sp, #12]\n"
    "  ldr r3, [r0, #12]\n"               /* more: column end = col + 16 * (first + 64 * more) */
    "  add r2, r2, r3, lsl #6\n"
    "  add r2, r1, r2, lsl #4\n"
    "  str r2, [sp, #4]\n"
    "  ldr r2, [r0, #20]\n"
    "  str r2, [sp, #16]\n"
    "  ldr r2, [r0, #24]\n"
    "  str r2, [sp, #20]\n"
    "  ldr r2, [r0, #28]\n"
    "  str r2, [sp, #24]\n"
    "  ldr r4, [r0, #16]\n"               /* q */
    "  str r4, [sp, #28]\n"
    "  ldr r0, [r0, #0]\n"                /* weights */
    "1:\n"                                /* next channel pair */
    "  ldr r2, [r4, #16]\n"               /* bias, channel 0 */
    "  ldr r6, [r4, #40]\n"               /* bias, channel 1 */
    "  mov r3, r2\n"
    "  mov r7, r6\n"
    "  ldr r5, [sp, #8]\n"
    "  ldr r1, [sp, #12]\n"
    "  bx r5\n"
    "2:\n"
    "  .rept 64\n"
    "  ldmia r1!, {r8-r11}\n"
    "  ldmia r0!, {r4, r5, r12, lr}\n"
    "  smlad r2, r4, r8, r2\n"
    "  smlad r2, r5, r9, r2\n"
    "  smlad r3, r4, r10, r3\n"
    "  smlad r3, r5, r11, r3\n"
    "  smlad r6, r12, r8, r6\n"
    "  smlad r6, lr, r9, r6\n"
    "  smlad r7, r12, r10, r7\n"
    "  smlad r7, lr, r11, r7\n"
    "  .endr\n"
    TK_CM4_MM22_TAIL
    "  .size tk_cm4_mm22_sat, . - tk_cm4_mm22_sat\n"
    "  .popsection\n");
/* tk_cm4_mm22_sat for the int8 filter layout (tk_conv2d_pack8_s8_cm4): the channel pair's
 * 8 int8 of a group in one LDM, widened by SXTB16 / SXTB16 ROR 8 into the same registers the
 * int16 body loads; 32 groups per pass (first 1..32), so the straight-line body stays 1.8 KB. */
void tk_cm4_mm22_w8_sat(tk_cm4_mm22_job *job);
__asm__(
    "  .pushsection .text.tk_cm4_mm22_w8_sat,\"ax\",%progbits\n"
    "  .syntax unified\n"
    "  .thumb\n"
    "  .balign 4\n"
    "  .thumb_func\n"
    "  .weak tk_cm4_mm22_w8_sat\n"
    "  .type tk_cm4_mm22_w8_sat, %function\n"
    "tk_cm4_mm22_w8_sat:\n"
    "  push {r4-r11, lr}\n"
    "  sub sp, sp, #32\n"
    /* frame: [sp] job, +4 column end, +8 body entry, +12 column, +16 out, +20 oc,
     * +24 pairs left, +28 q (also in r4 from the requantization to the next block's biases) */
    "  str r0, [sp]\n"
    "  ldr r2, [r0, #8]\n"                /* first */
    "  adr.w r3, 3f\n"
    "  movs r4, #56\n"                    /* bytes per group: 2 LDM.W + 4 SXTB16 + 8 SMLAD */
    "  mls r3, r2, r4, r3\n"
    "  orr r3, r3, #1\n"
    "  str r3, [sp, #8]\n"
    "  ldr r1, [r0, #4]\n"                /* column */
    "  str r1, [sp, #12]\n"
    "  ldr r3, [r0, #12]\n"               /* more: column end = col + 16 * (first + 32 * more) */
    "  add r2, r2, r3, lsl #5\n"
    "  add r2, r1, r2, lsl #4\n"
    "  str r2, [sp, #4]\n"
    "  ldr r2, [r0, #20]\n"
    "  str r2, [sp, #16]\n"
    "  ldr r2, [r0, #24]\n"
    "  str r2, [sp, #20]\n"
    "  ldr r2, [r0, #28]\n"
    "  str r2, [sp, #24]\n"
    "  ldr r4, [r0, #16]\n"               /* q */
    "  str r4, [sp, #28]\n"
    "  ldr r0, [r0, #0]\n"                /* weights */
    "1:\n"                                /* next channel pair */
    "  ldr r2, [r4, #16]\n"               /* bias, channel 0 */
    "  ldr r6, [r4, #40]\n"               /* bias, channel 1 */
    "  mov r3, r2\n"
    "  mov r7, r6\n"
    "  ldr r5, [sp, #8]\n"
    "  ldr r1, [sp, #12]\n"
    "  bx r5\n"
    "2:\n"
    "  .rept 32\n"
    "  ldmia.w r1!, {r8-r11}\n"
    "  ldmia.w r0!, {r4, r5}\n"          /* the channel pair's 4 + 4 int8 */
    "  sxtb16 r12, r4\n"
    "  sxtb16 r4, r4, ror #8\n"
    "  sxtb16 lr, r5\n"
    "  sxtb16 r5, r5, ror #8\n"
    "  smlad r2, r12, r8, r2\n"
    "  smlad r2, r4, r9, r2\n"
    "  smlad r3, r12, r10, r3\n"
    "  smlad r3, r4, r11, r3\n"
    "  smlad r6, lr, r8, r6\n"
    "  smlad r6, r5, r9, r6\n"
    "  smlad r7, lr, r10, r7\n"
    "  smlad r7, r5, r11, r7\n"
    "  .endr\n"
    TK_CM4_MM22_TAIL
    "  .size tk_cm4_mm22_w8_sat, . - tk_cm4_mm22_w8_sat\n"
    "  .popsection\n");
#endif

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
__attribute__((noinline)) TK_CM4_STATIC void tk_cm4_mm12(const int32_t *w, const int32_t *c, int32_t groups,
                                                         int32_t *acc)
{
    int32_t a0 = acc[0], a1 = acc[1];
    int32_t c0e, c0o, c1e, c1o, we, wo;
    for (int32_t g = 0; g < groups; ++g) {
        TK_LD4_IA(c, c0e, c0o, c1e, c1o);
        tk_ld2_ia(&w, &we, &wo);
        a0 = tk_smlad(we, c0e, a0);
        a1 = tk_smlad(we, c1e, a1);
        a0 = tk_smlad(wo, c0o, a0);
        a1 = tk_smlad(wo, c1o, a1);
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

/** tk_cm4_mm21 on the int8 layout (per group: channel 0's word, channel 1's word). */
__attribute__((noinline)) TK_CM4_STATIC void tk_cm4_mm21_w8(const int32_t *w, const int32_t *c, int32_t groups,
                                                            int32_t *acc)
{
    int32_t a0 = acc[0], a1 = acc[1];
    for (int32_t g = 0; g < groups; ++g, w += 2, c += 2) {
        a0 = tk_smlad(tk_sxtb16(w[0]), c[0], a0);
        a1 = tk_smlad(tk_sxtb16(w[1]), c[0], a1);
        a0 = tk_smlad(tk_sxtb16_ror8(w[0]), c[1], a0);
        a1 = tk_smlad(tk_sxtb16_ror8(w[1]), c[1], a1);
    }
    acc[0] = a0;
    acc[1] = a1;
}

/** tk_cm4_mm12 on the int8 layout (one word per group). */
__attribute__((noinline)) TK_CM4_STATIC void tk_cm4_mm12_w8(const int32_t *w, const int32_t *c, int32_t groups,
                                                            int32_t *acc)
{
    int32_t a0 = acc[0], a1 = acc[1];
    for (int32_t g = 0; g < groups; ++g, ++w, c += 4) {
        const int32_t we = tk_sxtb16(w[0]), wo = tk_sxtb16_ror8(w[0]);
        a0 = tk_smlad(we, c[0], a0);
        a1 = tk_smlad(we, c[2], a1);
        a0 = tk_smlad(wo, c[1], a0);
        a1 = tk_smlad(wo, c[3], a1);
    }
    acc[0] = a0;
    acc[1] = a1;
}

/** tk_cm4_mm11 on the int8 layout. */
TK_INLINE int32_t tk_cm4_mm11_w8(const int32_t *w, const int32_t *c, int32_t groups, int32_t acc)
{
    for (int32_t g = 0; g < groups; ++g, ++w, c += 2) {
        acc = tk_smlad(tk_sxtb16(w[0]), c[0], acc);
        acc = tk_smlad(tk_sxtb16_ror8(w[0]), c[1], acc);
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
    const int32_t *w;   /* packed filter (tk_conv2d_pack_s8_cm4, or pack8 when w8) */
    int32_t w8;         /* the filter is in the int8 layout (tk_conv2d_pack8_s8_cm4) */
    int8_t *output;
    tk_cm4_out os;
    int32_t *cbuf;      /* 2 * k4 * 2 bytes */
} tk_cm4_gemm;

/**
 * All channels of the pixel pair whose column is `col`: per channel block, the reduction
 * then its outputs requantized and stored at out[o] (pixel p) and out[oc + o] (pixel p+1).
 */
TK_INLINE void tk_cm4_pair_pixels(const tk_cm4_gemm *g, int32_t mode, int32_t w8, const int32_t *col, int8_t *out,
                                  int32_t oc)
{
    const int32_t groups = g->groups, count = g->out_c;
    const tk_cm4_rq *q = g->os.rq;
    const int32_t *w = g->w;
    int32_t j = 0;
#if TK_SIMD_DSP
    if (mode == TK_CM4_RQ_SAT && count >= 2) {
        const int32_t pass = w8 ? 32 : 64;
        tk_cm4_mm22_job job = {w, col, (groups - 1) % pass + 1, (groups - 1) / pass, q, out, oc, count / 2};
        if (w8) {
            tk_cm4_mm22_w8_sat(&job);
        } else {
            tk_cm4_mm22_sat(&job);
        }
        j = count & ~1;
        w = job.w;
        q = job.q;
        out = job.out;
    }
#endif
    for (; j + 1 < count; j += 2) {
        int32_t a00 = q[0].bias, a01 = q[0].bias, a10 = q[1].bias, a11 = q[1].bias;
        const int32_t *c = col;
        if (w8) {
            for (int32_t r = groups; r > 0; --r) {
                TK_CM4_MM22_STEP_W8(w, c);
            }
        } else {
            for (int32_t r = groups & 3; r > 0; --r) {
                TK_CM4_MM22_STEP(w, c);
            }
            for (int32_t r = groups >> 2; r > 0; --r) {
                TK_CM4_MM22_STEP(w, c);
                TK_CM4_MM22_STEP(w, c);
                TK_CM4_MM22_STEP(w, c);
                TK_CM4_MM22_STEP(w, c);
            }
        }
        const tk_cm4_rq q0 = q[0], q1 = q[1];
        out[0] = (int8_t)tk_cm4_rq_apply(&g->os, mode, &q0, a00);
        out[oc] = (int8_t)tk_cm4_rq_apply(&g->os, mode, &q0, a01);
        out[1] = (int8_t)tk_cm4_rq_apply(&g->os, mode, &q1, a10);
        out[oc + 1] = (int8_t)tk_cm4_rq_apply(&g->os, mode, &q1, a11);
        out += 2;
        q += 2;
    }
    if (j < count) {   /* a last odd channel */
        int32_t acc[2] = {q[0].bias, q[0].bias};
        if (w8) {
            tk_cm4_mm12_w8(w, col, groups, acc);
        } else {
            tk_cm4_mm12(w, col, groups, acc);
        }
        out[0] = (int8_t)tk_cm4_rq_apply(&g->os, mode, &q[0], acc[0]);
        out[oc] = (int8_t)tk_cm4_rq_apply(&g->os, mode, &q[0], acc[1]);
    }
}

__attribute__((noinline)) TK_CM4_STATIC void tk_cm4_pair_pixels_sat(const tk_cm4_gemm *g, const int32_t *col, int8_t *out,
                                                      int32_t oc)
{
    tk_cm4_pair_pixels(g, TK_CM4_RQ_SAT, 0, col, out, oc);
}

__attribute__((noinline)) TK_CM4_STATIC void tk_cm4_pair_pixels_clamp(const tk_cm4_gemm *g, const int32_t *col, int8_t *out,
                                                      int32_t oc)
{
    tk_cm4_pair_pixels(g, TK_CM4_RQ_CLAMP, 0, col, out, oc);
}

__attribute__((noinline)) TK_CM4_STATIC void tk_cm4_pair_pixels_exact(const tk_cm4_gemm *g, const int32_t *col, int8_t *out,
                                                      int32_t oc)
{
    tk_cm4_pair_pixels(g, TK_CM4_RQ_EXACT, 0, col, out, oc);
}

__attribute__((noinline)) TK_CM4_STATIC void tk_cm4_pair_pixels_sat_w8(const tk_cm4_gemm *g, const int32_t *col, int8_t *out,
                                                      int32_t oc)
{
    tk_cm4_pair_pixels(g, TK_CM4_RQ_SAT, 1, col, out, oc);
}

__attribute__((noinline)) TK_CM4_STATIC void tk_cm4_pair_pixels_clamp_w8(const tk_cm4_gemm *g, const int32_t *col, int8_t *out,
                                                      int32_t oc)
{
    tk_cm4_pair_pixels(g, TK_CM4_RQ_CLAMP, 1, col, out, oc);
}

__attribute__((noinline)) TK_CM4_STATIC void tk_cm4_pair_pixels_exact_w8(const tk_cm4_gemm *g, const int32_t *col, int8_t *out,
                                                      int32_t oc)
{
    tk_cm4_pair_pixels(g, TK_CM4_RQ_EXACT, 1, col, out, oc);
}

typedef void (*tk_cm4_pair_fn)(const tk_cm4_gemm *, const int32_t *, int8_t *, int32_t);

/** The pixel-pair routine for the call's requantization mode and filter layout (chosen once per call). */
TK_INLINE tk_cm4_pair_fn tk_cm4_pair_for(const tk_cm4_gemm *g)
{
    if (g->w8) {
        return g->os.mode == TK_CM4_RQ_SAT ? tk_cm4_pair_pixels_sat_w8
               : g->os.mode == TK_CM4_RQ_CLAMP ? tk_cm4_pair_pixels_clamp_w8 : tk_cm4_pair_pixels_exact_w8;
    }
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
        int32_t acc[2] = {q[j].bias, nb > 1 ? q[j + 1].bias : 0};
        if (nb == 2) {
            if (g->w8) {
                tk_cm4_mm21_w8(w, g->cbuf, g->groups, acc);
            } else {
                tk_cm4_mm21(w, g->cbuf, g->groups, acc);
            }
        } else {
            acc[0] = g->w8 ? tk_cm4_mm11_w8(w, g->cbuf, g->groups, acc[0])
                           : tk_cm4_mm11(w, g->cbuf, g->groups, acc[0]);
        }
        for (int32_t c = 0; c < nb; ++c) {
            out[j + c] = (int8_t)tk_cm4_requant(&g->os, &q[j + c], acc[c]);
        }
        w += g->groups * (g->w8 ? 1 : 2) * nb;
        j += nb;
    }
}

/** The convolution as GEMM over pixel pairs whose columns `gather` writes into cbuf. */
/* Inline, so that with the filter layout known at the call (each public entry point) only
 * that layout's pixel-pair routines are referenced and linked. */
TK_INLINE void tk_cm4_gemm_run(const tk_cm4_gemm *g, tk_cm4_gather_fn gather, const void *ctx)
{
    const tk_cm4_pair_fn pair = tk_cm4_pair_for(g);
    int8_t *out = g->output;
    int32_t p = 0;
    for (; p + 1 < g->pixels; p += 2) {
        gather(ctx, p, g->cbuf, 4);
        gather(ctx, p + 1, g->cbuf + 2, 4);
        pair(g, g->cbuf, out, g->out_c);
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
    g->w8 = 0;
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
