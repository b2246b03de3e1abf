/* ADD int8 for Cortex-M4: tabulated input rescaling, SMMULR output requantization. */
#include "add_s8_cm4.h"

#include "tk_cm4_requant.h"

/* Rescaled value of every int8 input value, pre-shifted for SMMULR; returns max |entry|. */
static int64_t tabulate(int32_t *table, int32_t offset, int32_t left_shift, int32_t mult, int32_t shift,
                        int32_t pre_shift)
{
    int64_t peak = 0;
    for (int32_t x = -128; x < 128; ++x) {
        const int32_t v = tk_mul_by_quantized_multiplier((offset + x) * (1 << left_shift), mult, shift);
        const int64_t s = (int64_t)v * ((int64_t)1 << pre_shift);
        table[x + 128] = (int32_t)s;
        peak = s < 0 ? (-s > peak ? -s : peak) : (s > peak ? s : peak);
    }
    return peak;
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
#define TK_ADD_ONE(a, b)                                                      \
    do {                                                                      \
        const int32_t h_ = tk_smmulr(c1[(a)] + c2[(b)], m);                   \
        int32_t r_ = tk_ssat8((half + h_ * 2 + (h_ >> 31)) >> e1);            \
        if (clamp) {                                                          \
            r_ = r_ < lo ? lo : (r_ > hi ? hi : r_);                          \
        }                                                                     \
        *out++ = (int8_t)r_;                                                  \
    } while (0)
    const int32_t clamp = lo > -128 || hi < 127;
    int8_t *out = output;
    if (size2 == size) {
        const int8_t *a = input1, *b = input2, *end = input1 + (size & ~1);
        while (a != end) {
            TK_ADD_ONE(a[0], b[0]);
            TK_ADD_ONE(a[1], b[1]);
            a += 2;
            b += 2;
        }
        if (size & 1) {
            TK_ADD_ONE(a[0], b[0]);
        }
    } else {
        for (int32_t i = 0; i < size; i += size2) {
            for (int32_t j = 0; j < size2; ++j) {
                TK_ADD_ONE(input1[i + j], input2[j]);
            }
        }
    }
#undef TK_ADD_ONE
    return TK_OK;
}
