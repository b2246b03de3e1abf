/*
 * Requantization of the Cortex-M4 variants (internal to firmware/nn/src/cm4): a per-channel
 * table built at the start of each call, then accumulator -> int8 once per output, outside
 * every reduction loop.
 *
 * Exactness: TFLite's SaturatingRoundingDoublingHighMul(x, m) equals (x*m + 2^30) >> 31
 * (floor) for every x (its negative "nudge" with truncation is the same floor), which SMMULR
 * computes as (2x*m + 2^31) >> 32 when 2x does not overflow; RoundingDivideByPOT(r, e)
 * equals (2r + 2^e + (r < 0 ? -1 : 0)) >> (e + 1) for every e >= 0, including e = 0, and
 * adding the output offset times 2^(e + 1) before that shift adds exactly the offset after
 * it. The fast form runs only when a bound on |accumulator| proves no intermediate
 * overflows; otherwise the reference arithmetic of tk_requant.h does.
 */
#ifndef TK_CM4_REQUANT_H
#define TK_CM4_REQUANT_H

#include <stddef.h>
#include <stdint.h>

#include "tk_requant.h"
#include "tk_simd.h"
#include "tk_types.h"

/** Per-output-channel requantization entry (24 bytes), built per call in scratch. */
typedef struct {
    int32_t mult;    /* Q31 multiplier */
    int32_t lshift;  /* fast path: left shift + 1 */
    int32_t half;    /* fast path: 2^right + (output_offset << (right + 1)) */
    int32_t rshift;  /* fast path: right shift + 1 */
    int32_t bias;    /* accumulator start value */
    int32_t shift;   /* TFLite shift (reference path) */
} tk_cm4_rq;   /* the four fast-path fields first: one LDM in the assembly block loop */

/** How outputs are requantized in one call (chosen once, outside every loop). */
enum {
    TK_CM4_RQ_SAT = 0,    /* fast form, activation range [-128, 127]: SSAT only */
    TK_CM4_RQ_CLAMP = 1,  /* fast form, then clamp to [act_min, act_max] */
    TK_CM4_RQ_EXACT = 2   /* reference arithmetic (a bound could not rule out overflow) */
};

/** Output stage shared by a whole call. */
typedef struct {
    const tk_cm4_rq *rq;
    int32_t out_offset;
    int32_t act_min;
    int32_t act_max;
    int32_t mode;     /* TK_CM4_RQ_* */
} tk_cm4_out;

/**
 * Fill the requantization table and pick the mode. The fast form is exact when
 * |accumulator| << left < 2^29 for every channel, given |accumulator - bias| <= k * 128 * 255
 * (int8 weights times input + offset), and right + 1 <= 22 so the output offset folds into
 * `half` without overflow.
 */
static inline int32_t tk_cm4_build_rq(tk_cm4_rq *rq, int32_t out_c, const int32_t *bias,
                                      const tk_channel_quant *quant, int32_t k, int32_t out_offset,
                                      int32_t act_min, int32_t act_max)
{
    int32_t fast = 1;
    const int64_t dot_bound = (int64_t)k * 128 * 255;
    for (int32_t o = 0; o < out_c; ++o) {
        const int32_t b = bias != NULL ? bias[o] : 0;
        const int32_t s = quant->shift[o];
        const int32_t left = s > 0 ? s : 0;
        const int32_t right = s > 0 ? 0 : -s;
        rq[o].bias = b;
        rq[o].mult = quant->multiplier[o];
        rq[o].shift = s;
        rq[o].lshift = left + 1;
        rq[o].rshift = right + 1;
        rq[o].half = 0;
        const int64_t bound = ((int64_t)(b < 0 ? -(int64_t)b : b) + dot_bound) << (left > 28 ? 28 : left);
        if (left > 28 || right > 21 || bound >= (1LL << 29) || quant->multiplier[o] < 0) {
            fast = 0;
            continue;
        }
        rq[o].half = (int32_t)((1u << right) + (uint32_t)out_offset * (1u << (right + 1)));
    }
    if (!fast) {
        return TK_CM4_RQ_EXACT;
    }
    return act_min <= -128 && act_max >= 127 ? TK_CM4_RQ_SAT : TK_CM4_RQ_CLAMP;
}

/** Accumulator -> int8 output value for channel entry q; `mode` is a constant at each call. */
TK_INLINE int32_t tk_cm4_rq_apply(const tk_cm4_out *os, int32_t mode, const tk_cm4_rq *q, int32_t acc)
{
    int32_t r;
    if (mode == TK_CM4_RQ_EXACT) {
        r = tk_mul_by_quantized_multiplier(acc, q->mult, q->shift) + os->out_offset;
    } else {
        const int32_t h = tk_smmulr((int32_t)((uint32_t)acc << q->lshift), q->mult);
        r = tk_ssat8((q->half + h * 2 + (h >> 31)) >> q->rshift);
        if (mode == TK_CM4_RQ_SAT) {
            return r;
        }
    }
    r = r < os->act_min ? os->act_min : r;
    return r > os->act_max ? os->act_max : r;
}

/** tk_cm4_rq_apply with the call's mode (for loops where a branch per output is cheap). */
TK_INLINE int32_t tk_cm4_requant(const tk_cm4_out *os, const tk_cm4_rq *q, int32_t acc)
{
    switch (os->mode) {
    case TK_CM4_RQ_SAT: return tk_cm4_rq_apply(os, TK_CM4_RQ_SAT, q, acc);
    case TK_CM4_RQ_CLAMP: return tk_cm4_rq_apply(os, TK_CM4_RQ_CLAMP, q, acc);
    default: return tk_cm4_rq_apply(os, TK_CM4_RQ_EXACT, q, acc);
    }
}

/** [offset, offset] as an int16 pair. */
TK_INLINE int32_t tk_cm4_offset2(int32_t offset)
{
    return (int32_t)(((uint32_t)(uint16_t)offset) | ((uint32_t)(uint16_t)offset << 16));
}

#endif /* TK_CM4_REQUANT_H */
