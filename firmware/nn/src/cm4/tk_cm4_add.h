/*
 * ADD int8 for Cortex-M4, internal to firmware/nn/src/cm4: the input rescaling tabulated
 * once (tk_cm4_add_prepare), then any number of runs over elements (tk_cm4_add_run), so a
 * kernel that adds in pieces (the fused residual convolutions) pays for the tables once.
 * Same result, bit for bit, as tk_add_s8; an output may be one of the inputs (each input
 * element is read before the output element at its place is written).
 */
#ifndef TK_CM4_ADD_H
#define TK_CM4_ADD_H

#include <stdint.h>

#include "add_s8.h"
#include "tk_cm4_requant.h"

#define TK_CM4_ADD_STATIC static __attribute__((unused))

/* Rescaled value of every int8 input value, pre-shifted for SMMULR; returns max |entry|.
 * Where |(offset + x) << (left_shift + left + 1)| < 2^30 for the whole range, the SMMULR
 * form of tk_mul_by_quantized_multiplier (tk_cm4_requant.h) is exact and needs no 64-bit
 * arithmetic, and the entries are monotonic in x (rounding is), so the peak is at an end;
 * elsewhere the reference arithmetic runs. */
TK_CM4_ADD_STATIC int64_t tk_cm4_add_tabulate(int32_t *table, int32_t offset, int32_t left_shift, int32_t mult, int32_t shift,
                        int32_t pre_shift)
{
    const int32_t left = shift > 0 ? shift : 0, right = shift > 0 ? 0 : -shift;
    const int32_t up = left_shift + left + 1;
    const int64_t span = 128 + (offset < 0 ? -(int64_t)offset : offset);
    if (mult >= 0 && up <= 30 && right <= 29 && pre_shift <= 1 && (span << up) < (1LL << 30)) {
        const int32_t half = (int32_t)(1u << right), e1 = right + 1;
        for (int32_t x = -128; x < 128; ++x) {
            const int32_t h = tk_smmulr((offset + x) * (1 << up), mult);
            table[x + 128] = ((half + h * 2 + (h >> 31)) >> e1) * (1 << pre_shift);
        }
        const int64_t a = table[0] < 0 ? -(int64_t)table[0] : table[0];   /* monotonic: the ends */
        const int64_t b = table[255] < 0 ? -(int64_t)table[255] : table[255];
        return a > b ? a : b;
    }
    int64_t peak = 0;
    for (int32_t x = -128; x < 128; ++x) {
        const int32_t v = tk_mul_by_quantized_multiplier((offset + x) * (1 << left_shift), mult, shift);
        const int64_t s = (int64_t)v * ((int64_t)1 << pre_shift);
        table[x + 128] = (int32_t)s;
        peak = s < 0 ? (-s > peak ? -s : peak) : (s > peak ? s : peak);
    }
    return peak;
}

/* One output from the two tabulated inputs (see tk_cm4_requant.h for the SMMULR form). */
TK_INLINE int32_t tk_cm4_add_one(int32_t t, int32_t m, int32_t half, int32_t e1)
{
    const int32_t h = tk_smmulr(t, m);
    return tk_ssat8((half + h * 2 + (h >> 31)) >> e1);
}

/* The common case, activation range [-128, 127]: SSAT is the whole clamp. Four outputs a
 * turn, every load and store post-indexed. */
TK_CM4_ADD_STATIC void tk_cm4_add_run_sat(const int8_t *a, const int8_t *b, int8_t *out, int32_t n, const int32_t *c1,
                        const int32_t *c2, int32_t m, int32_t half, int32_t e1)
{
    for (int32_t r = n & 3; r > 0; --r) {
        const int32_t x = *a++, y = *b++;
        *out++ = (int8_t)tk_cm4_add_one(c1[x] + c2[y], m, half, e1);
    }
    for (int32_t r = n >> 2; r > 0; --r) {
        const int32_t x0 = *a++, y0 = *b++, x1 = *a++, y1 = *b++;
        const int32_t x2 = *a++, y2 = *b++, x3 = *a++, y3 = *b++;
        *out++ = (int8_t)tk_cm4_add_one(c1[x0] + c2[y0], m, half, e1);
        *out++ = (int8_t)tk_cm4_add_one(c1[x1] + c2[y1], m, half, e1);
        *out++ = (int8_t)tk_cm4_add_one(c1[x2] + c2[y2], m, half, e1);
        *out++ = (int8_t)tk_cm4_add_one(c1[x3] + c2[y3], m, half, e1);
    }
}

TK_CM4_ADD_STATIC void tk_cm4_add_span(const int8_t *a, const int8_t *b, int8_t *out, int32_t n, const int32_t *c1,
                    const int32_t *c2, int32_t m, int32_t half, int32_t e1, int32_t lo, int32_t hi)
{
    for (int32_t i = 0; i < n; ++i) {
        out[i] = (int8_t)tk_clamp(tk_cm4_add_one(c1[a[i]] + c2[b[i]], m, half, e1), lo, hi);
    }
}

/** The tables and output constants of one call. */
typedef struct {
    int32_t t1[256], t2[256];
    int32_t fast;            /* the SMMULR output form is exact for these tables */
    int32_t m, half, e1;     /* its constants */
    int32_t clamp;           /* the activation range is narrower than [-128, 127] */
    const tk_add_params *params;
} tk_cm4_add_plan;

/** Fill the plan for `params` (left_shift in [0, 30], checked by the caller). */
TK_CM4_ADD_STATIC void tk_cm4_add_prepare(tk_cm4_add_plan *pl, const tk_add_params *params)
{
    const int32_t s = params->output_shift;
    const int32_t left = s > 0 ? s : 0, right = s > 0 ? 0 : -s;
    /* Fast form: tables hold rescaled << (left + 1); needs |t1 + t2| < 2^30 (SMMULR input,
     * then |h| < 2^29) and right + 1 <= 22 to fold the output offset (tk_cm4_requant.h). */
    const int32_t pre = left + 1;
    const int64_t peak = tk_cm4_add_tabulate(pl->t1, params->input1_offset, params->left_shift, params->input1_multiplier,
                                  params->input1_shift, left < 28 ? pre : 0) +
                         tk_cm4_add_tabulate(pl->t2, params->input2_offset, params->left_shift, params->input2_multiplier,
                                  params->input2_shift, left < 28 ? pre : 0);
    pl->params = params;
    pl->fast = left < 28 && right <= 21 && peak < (1LL << 30) && params->output_multiplier >= 0;
    if (!pl->fast) {
        /* tables without pre-shift: the reference output arithmetic on the tabulated sums */
        tk_cm4_add_tabulate(pl->t1, params->input1_offset, params->left_shift, params->input1_multiplier, params->input1_shift, 0);
        tk_cm4_add_tabulate(pl->t2, params->input2_offset, params->left_shift, params->input2_multiplier, params->input2_shift, 0);
    }
    pl->m = params->output_multiplier;
    pl->e1 = right + 1;
    pl->half = (int32_t)((1u << right) + (uint32_t)params->output_offset * (1u << pl->e1));
    pl->clamp = params->act_min > -128 || params->act_max < 127;
}

/** output[i] = ADD(input1[i], input2[i % size2]) for i in [0, size) with a prepared plan. */
TK_CM4_ADD_STATIC void tk_cm4_add_run(const tk_cm4_add_plan *pl, int32_t size, const int8_t *input1,
                                      int32_t size2, const int8_t *input2, int8_t *output)
{
    const tk_add_params *params = pl->params;
    const int32_t *c1 = pl->t1 + 128, *c2 = pl->t2 + 128;
    const int32_t lo = params->act_min, hi = params->act_max;
    if (!pl->fast) {
        for (int32_t i = 0, j = 0; i < size; ++i, j = (j + 1 == size2) ? 0 : j + 1) {
            const int32_t raw = tk_mul_by_quantized_multiplier(c1[input1[i]] + c2[input2[j]], params->output_multiplier,
                                                               params->output_shift) + params->output_offset;
            output[i] = (int8_t)tk_clamp(raw, lo, hi);
        }
        return;
    }
    if (size2 == size) {
        if (pl->clamp) {
            tk_cm4_add_span(input1, input2, output, size, c1, c2, pl->m, pl->half, pl->e1, lo, hi);
        } else {
            tk_cm4_add_run_sat(input1, input2, output, size, c1, c2, pl->m, pl->half, pl->e1);
        }
        return;
    }
    for (int32_t i = 0; i < size; i += size2) {
        tk_cm4_add_span(input1 + i, input2, output + i, size2, c1, c2, pl->m, pl->half, pl->e1, lo, hi);
    }
}

#endif /* TK_CM4_ADD_H */
