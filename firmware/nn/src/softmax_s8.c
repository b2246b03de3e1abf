/*
 * Reference SOFTMAX int8. TFLite Micro evaluates int8 softmax with gemmlowp's
 * fixed-point exp() and reciprocal; the helpers below reproduce those
 * fixed-point formats bit for bit:
 *   diff scaled to Q5.26 -> exp in Q0.31 -> sum in Q12.19 -> 1/sum in Q0.31.
 * Fixed-point "+"/"-" are plain int32 adds (they cannot overflow here), "*" is the
 * saturating rounding doubling high multiply.
 */
#include "softmax_s8.h"

#include "tk_requant.h"

#define TK_SCALED_DIFF_INT_BITS 5   /* Q5.26 input of exp() */
#define TK_ACCUM_INT_BITS 12        /* Q12.19 sum of exps */

static int32_t fx_mul(int32_t a, int32_t b)
{
    return tk_sat_rounding_doubling_high_mul(a, b);
}

/* x * 2^exponent, saturating (gemmlowp SaturatingRoundingMultiplyByPOT, exponent > 0). */
static int32_t sat_mul_by_pot(int32_t x, int exponent)
{
    const int32_t threshold = (int32_t)((1LL << (31 - exponent)) - 1);
    if (x > threshold) {
        return INT32_MAX;
    }
    if (x < -threshold) {
        return INT32_MIN;
    }
    return (int32_t)((uint32_t)x << exponent);
}

/* exp(a) for a in [-1/4, 0), a and result in Q0.31 (Taylor series around -1/8). */
static int32_t exp_on_interval_neg_quarter_to_0(int32_t a)
{
    const int32_t constant_term = 1895147668;     /* exp(-1/8) */
    const int32_t constant_1_over_3 = 715827883;  /* 1/3 */
    const int32_t x = a + (1 << 28);              /* a + 1/8 */
    const int32_t x2 = fx_mul(x, x);
    const int32_t x3 = fx_mul(x2, x);
    const int32_t x4 = fx_mul(x2, x2);
    const int32_t x4_over_4 = tk_rounding_divide_by_pot(x4, 2);
    const int32_t poly = tk_rounding_divide_by_pot(fx_mul(x4_over_4 + x3, constant_1_over_3) + x2, 1);
    return constant_term + fx_mul(constant_term, x + poly);
}

/* exp(a) for a <= 0, a in Q5.26, result in Q0.31. */
static int32_t exp_on_negative_values(int32_t a)
{
    const int frac_bits = 31 - TK_SCALED_DIFF_INT_BITS;
    const int32_t one_quarter = 1 << (frac_bits - 2);
    const int32_t mask = one_quarter - 1;
    const int32_t a_mod_quarter_minus_quarter = (a & mask) - one_quarter;
    /* Rescale Q5.26 -> Q0.31 */
    int32_t result = exp_on_interval_neg_quarter_to_0(sat_mul_by_pot(a_mod_quarter_minus_quarter, TK_SCALED_DIFF_INT_BITS));
    const int32_t remainder = a_mod_quarter_minus_quarter - a;
    /* exp(-2^k) for k = -2 .. 4 in Q0.31, applied for each set bit of the remainder. */
    static const int32_t multipliers[7] = {1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242};
    for (int k = -2; k <= 4; ++k) {
        if (TK_SCALED_DIFF_INT_BITS > k) {
            const int shift_amount = frac_bits + k;
            if (remainder & (1 << shift_amount)) {
                result = fx_mul(result, multipliers[k + 2]);
            }
        }
    }
    if (a == 0) {
        result = INT32_MAX;  /* one in Q0.31 */
    }
    return result;
}

/* 1 / (1 + x) for x in [0, 1), Q0.31 in and out (Newton-Raphson, 3 steps). */
static int32_t one_over_one_plus_x_for_x_in_0_1(int32_t a)
{
    /* RoundingHalfSum(a, one) */
    const int64_t sum = (int64_t)a + (int64_t)INT32_MAX;
    const int32_t half_denominator = (int32_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
    const int32_t constant_48_over_17 = 1515870810;     /* Q2.29 */
    const int32_t constant_neg_32_over_17 = -1010580540; /* Q2.29 */
    int32_t x = constant_48_over_17 + fx_mul(half_denominator, constant_neg_32_over_17);
    for (int i = 0; i < 3; ++i) {
        const int32_t half_denominator_times_x = fx_mul(half_denominator, x);     /* Q2.29 */
        const int32_t one_minus = (1 << 29) - half_denominator_times_x;           /* Q2.29 */
        x = x + sat_mul_by_pot(fx_mul(x, one_minus), 2);                          /* Q4.27 -> Q2.29 */
    }
    /* x / 2 as Q1.30 (same raw) -> Q0.31 */
    return sat_mul_by_pot(x, 1);
}

static int count_leading_zeros(uint32_t x)
{
    return x == 0 ? 32 : __builtin_clz(x);
}

tk_status tk_softmax_s8(const tk_softmax_params *params, int32_t rows, int32_t depth,
                        const int8_t *input, int8_t *output)
{
    if (rows < 1 || depth < 1 || params->input_left_shift < 0 || params->input_left_shift > 31) {
        return TK_ERR_ARG;
    }
    for (int32_t r = 0; r < rows; ++r) {
        const int8_t *in = input + r * depth;
        int8_t *out = output + r * depth;
        int32_t max_in_row = -128;
        for (int32_t c = 0; c < depth; ++c) {
            max_in_row = in[c] > max_in_row ? in[c] : max_in_row;
        }
        int32_t sum_of_exps = 0;  /* Q12.19 */
        for (int32_t c = 0; c < depth; ++c) {
            const int32_t diff = (int32_t)in[c] - max_in_row;
            if (diff >= params->diff_min) {
                const int32_t scaled = tk_mul_by_quantized_multiplier_gt_one(diff, params->input_multiplier,
                                                                             params->input_left_shift);
                sum_of_exps += tk_rounding_divide_by_pot(exp_on_negative_values(scaled), TK_ACCUM_INT_BITS);
            }
        }
        /* Reciprocal of the sum, as TFLite's GetReciprocal. */
        const int headroom_plus_one = count_leading_zeros((uint32_t)sum_of_exps);
        const int num_bits_over_unit = TK_ACCUM_INT_BITS - headroom_plus_one;
        const int32_t shifted_sum_minus_one =
            (int32_t)(((uint32_t)sum_of_exps << headroom_plus_one) - ((uint32_t)1 << 31));
        const int32_t shifted_scale = one_over_one_plus_x_for_x_in_0_1(shifted_sum_minus_one);

        for (int32_t c = 0; c < depth; ++c) {
            const int32_t diff = (int32_t)in[c] - max_in_row;
            if (diff >= params->diff_min) {
                const int32_t scaled = tk_mul_by_quantized_multiplier_gt_one(diff, params->input_multiplier,
                                                                             params->input_left_shift);
                const int32_t exp_in_0 = exp_on_negative_values(scaled);
                const int32_t unsat = tk_rounding_divide_by_pot(fx_mul(shifted_scale, exp_in_0),
                                                                num_bits_over_unit + 31 - 8);
                out[c] = (int8_t)tk_clamp(unsat - 128, -128, 127);
            } else {
                out[c] = -128;
            }
        }
    }
    return TK_OK;
}
