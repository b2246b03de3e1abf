/* ADD int8 for Cortex-M4: tabulated input rescaling, SMMULR output requantization. */
#include "add_s8_cm4.h"

#include "tk_cm4_requant.h"

/* Rescaled value of every int8 input value, pre-shifted for SMMULR; returns max |entry|.
 * Where |(offset + x) << (left_shift + left + 1)| < 2^30 for the whole range, the SMMULR
 * form of tk_mul_by_quantized_multiplier (tk_cm4_requant.h) is exact and needs no 64-bit
 * arithmetic, and the entries are monotonic in x (rounding is), so the peak is at an end;
 * elsewhere the reference arithmetic runs. */
static int64_t tabulate(int32_t *table, int32_t offset, int32_t left_shift, int32_t mult, int32_t shift,
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
TK_INLINE int32_t add_one(int32_t t, int32_t m, int32_t half, int32_t e1)
{
    const int32_t h = tk_smmulr(t, m);
    return tk_ssat8((half + h * 2 + (h >> 31)) >> e1);
}

/* The common case, activation range [-128, 127]: SSAT is the whole clamp. Four outputs a
 * turn, every load and store post-indexed. */
static void add_run_sat(const int8_t *a, const int8_t *b, int8_t *out, int32_t n, const int32_t *c1,
                        const int32_t *c2, int32_t m, int32_t half, int32_t e1)
{
    for (int32_t r = n & 3; r > 0; --r) {
        const int32_t x = *a++, y = *b++;
        *out++ = (int8_t)add_one(c1[x] + c2[y], m, half, e1);
    }
    for (int32_t r = n >> 2; r > 0; --r) {
        const int32_t x0 = *a++, y0 = *b++, x1 = *a++, y1 = *b++;
        const int32_t x2 = *a++, y2 = *b++, x3 = *a++, y3 = *b++;
        *out++ = (int8_t)add_one(c1[x0] + c2[y0], m, half, e1);
        *out++ = (int8_t)add_one(c1[x1] + c2[y1], m, half, e1);
        *out++ = (int8_t)add_one(c1[x2] + c2[y2], m, half, e1);
        *out++ = (int8_t)add_one(c1[x3] + c2[y3], m, half, e1);
    }
}

static void add_run(const int8_t *a, const int8_t *b, int8_t *out, int32_t n, const int32_t *c1,
                    const int32_t *c2, int32_t m, int32_t half, int32_t e1, int32_t lo, int32_t hi)
{
    for (int32_t i = 0; i < n; ++i) {
        out[i] = (int8_t)tk_clamp(add_one(c1[a[i]] + c2[b[i]], m, half, e1), lo, hi);
    }
}

tk_status tk_add_s8_cm4(const tk_add_params *params, int32_t size, const int8_t *input1,
                        int32_t size2, const int8_t *input2, int8_t *output)
{
    if (size < 0 || size2 < 1 || size % size2 != 0 || params->left_shift < 0 || params->left_shift > 30 ||
        params->act_min > params->act_max) {
        return TK_ERR_ARG;
    }
    const int32_t s = params->output_shift;
    const int32_t left = s > 0 ? s : 0, right = s > 0 ? 0 : -s;
    int32_t t1[256], t2[256];
    /* Fast form: tables hold rescaled << (left + 1); needs |t1 + t2| < 2^30 (SMMULR input,
     * then |h| < 2^29) and right + 1 <= 22 to fold the output offset (tk_cm4_requant.h). */
    const int32_t pre = left + 1;
    const int64_t peak = tabulate(t1, params->input1_offset, params->left_shift, params->input1_multiplier,
                                  params->input1_shift, left < 28 ? pre : 0) +
                         tabulate(t2, params->input2_offset, params->left_shift, params->input2_multiplier,
                                  params->input2_shift, left < 28 ? pre : 0);
    const int32_t fast = left < 28 && right <= 21 && peak < (1LL << 30) && params->output_multiplier >= 0;
    const int32_t *c1 = t1 + 128, *c2 = t2 + 128;
    const int32_t lo = params->act_min, hi = params->act_max;
    if (!fast) {
        /* tables without pre-shift: the reference output arithmetic on the tabulated sums */
        tabulate(t1, params->input1_offset, params->left_shift, params->input1_multiplier, params->input1_shift, 0);
        tabulate(t2, params->input2_offset, params->left_shift, params->input2_multiplier, params->input2_shift, 0);
        for (int32_t i = 0, j = 0; i < size; ++i, j = (j + 1 == size2) ? 0 : j + 1) {
            const int32_t raw = tk_mul_by_quantized_multiplier(c1[input1[i]] + c2[input2[j]], params->output_multiplier,
                                                               s) + params->output_offset;
            output[i] = (int8_t)tk_clamp(raw, lo, hi);
        }
        return TK_OK;
    }
    const int32_t m = params->output_multiplier, e1 = right + 1;
    const int32_t half = (int32_t)((1u << right) + (uint32_t)params->output_offset * (1u << e1));
    const int32_t clamp = lo > -128 || hi < 127;
    if (size2 == size) {
        if (clamp) {
            add_run(input1, input2, output, size, c1, c2, m, half, e1, lo, hi);
        } else {
            add_run_sat(input1, input2, output, size, c1, c2, m, half, e1);
        }
        return TK_OK;
    }
    for (int32_t i = 0; i < size; i += size2) {
        add_run(input1 + i, input2, output + i, size2, c1, c2, m, half, e1, lo, hi);
    }
    return TK_OK;
}
