/*
 * Fixed-point requantization with TFLite's exact rounding (gemmlowp semantics,
 * "double rounding", TFLite's default build). Every kernel's int32 -> int8 step
 * goes through these so results are bit-identical with TFLite Micro.
 */
#ifndef TK_REQUANT_H
#define TK_REQUANT_H

#include <stdint.h>

/**
 * Rounding high half of 2*a*b: (a * b + 2^30) >> 31 with round-half-away-from-zero,
 * saturating the single overflow case a == b == INT32_MIN to INT32_MAX.
 */
static inline int32_t tk_sat_rounding_doubling_high_mul(int32_t a, int32_t b)
{
    if (a == b && a == INT32_MIN) {
        return INT32_MAX;
    }
    const int64_t ab = (int64_t)a * (int64_t)b;
    const int64_t nudge = ab >= 0 ? (1LL << 30) : (1LL - (1LL << 30));
    /* C division truncates toward zero, as gemmlowp relies on. */
    return (int32_t)((ab + nudge) / (1LL << 31));
}

/**
 * x / 2^exponent rounded to nearest, ties away from zero; exponent in [0, 31].
 * Relies on arithmetic right shift of negative values (gcc and arm-none-eabi-gcc).
 */
static inline int32_t tk_rounding_divide_by_pot(int32_t x, int32_t exponent)
{
    const int32_t mask = (int32_t)((1LL << exponent) - 1);
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/**
 * x * multiplier * 2^(shift - 31) as TFLite's MultiplyByQuantizedMultiplier:
 * a left shift (shift > 0) is applied before the high multiply, a right shift
 * (shift < 0) after it, each with its own rounding.
 */
static inline int32_t tk_mul_by_quantized_multiplier(int32_t x, int32_t multiplier, int32_t shift)
{
    const int32_t left = shift > 0 ? shift : 0;
    const int32_t right = shift > 0 ? 0 : -shift;
    /* Multiply in unsigned so an (ill-formed) overflow wraps instead of being UB. */
    const int32_t shifted = (int32_t)((uint32_t)x * ((uint32_t)1 << left));
    return tk_rounding_divide_by_pot(tk_sat_rounding_doubling_high_mul(shifted, multiplier), right);
}

/** TFLite's MultiplyByQuantizedMultiplierGreaterThanOne (left shift only). */
static inline int32_t tk_mul_by_quantized_multiplier_gt_one(int32_t x, int32_t multiplier, int32_t left_shift)
{
    const int32_t shifted = (int32_t)((uint32_t)x * ((uint32_t)1 << left_shift));
    return tk_sat_rounding_doubling_high_mul(shifted, multiplier);
}

/** Clamp to [lo, hi]. */
static inline int32_t tk_clamp(int32_t x, int32_t lo, int32_t hi)
{
    return x < lo ? lo : (x > hi ? hi : x);
}

#endif /* TK_REQUANT_H */
