/*
 * The Cortex-M4 DSP instructions the fast kernels use, behind one set of names:
 *   - on a core with the DSP extension (__ARM_FEATURE_DSP: Cortex-M4/M7/M33) they are the
 *     ACLE intrinsics of <arm_acle.h>, plus a few one-instruction inline-asm forms ACLE
 *     (GCC 12) lacks or the compiler will not emit from C (SXTB16 with ROR #8, SMMULR,
 *     post-increment LDRD/LDM);
 *   - everywhere else (the host tests) they are exact C equivalents, so the same kernel
 *     source runs and is verified on the host.
 *
 * Packed-register notation: [lo, hi] is a 32-bit word holding two int16 halves,
 * [b0, b1, b2, b3] a word holding four int8 bytes (b0 in bits 0..7).
 */
#ifndef TK_SIMD_H
#define TK_SIMD_H

#include <stdint.h>

#if defined(__ARM_FEATURE_DSP) && defined(__GNUC__)
#define TK_SIMD_DSP 1
#include <arm_acle.h>
#else
#define TK_SIMD_DSP 0
#endif

#define TK_INLINE static inline __attribute__((always_inline))

/* ----------------------------------------------------------------- loads and stores */

/** 4 bytes from any address (LDR handles unaligned addresses on the M4). The builtin
 * stays a single load under -ffreestanding, where plain memcpy would be a library call. */
TK_INLINE int32_t tk_read_s8x4(const int8_t *p)
{
    int32_t v;
    __builtin_memcpy(&v, p, 4);
    return v;
}

/** 4 bytes to any address. */
TK_INLINE void tk_write_s8x4(int8_t *p, int32_t v)
{
    __builtin_memcpy(p, &v, 4);
}

/** Two consecutive words from a 4-byte aligned *p (LDRD), advancing *p by 8 bytes. */
TK_INLINE void tk_ld2_ia(const int32_t **p, int32_t *a, int32_t *b)
{
#if TK_SIMD_DSP
    int32_t x, y;
    __asm__ volatile("ldrd %0, %1, [%2], #8" : "=r"(x), "=r"(y), "+r"(*p) : : "memory");
    *a = x;
    *b = y;
#else
    *a = (*p)[0];
    *b = (*p)[1];
    *p += 2;
#endif
}

/** Macro form of tk_ld2_ia writing a, b directly (they may be register-pinned variables). */
#if TK_SIMD_DSP
#define TK_LD2_IA(p, a, b) __asm__ volatile("ldrd %0, %1, [%2], #8" : "=r"(a), "=r"(b), "+r"(p) : : "memory")
#define TK_PIN(reg) __asm__(reg)
#else
#define TK_LD2_IA(p, a, b) \
    do {                   \
        (a) = (p)[0];      \
        (b) = (p)[1];      \
        (p) += 2;          \
    } while (0)
#define TK_PIN(reg)
#endif

/** Four consecutive words from a 4-byte aligned *p (one LDM), advancing *p by 16 bytes. */
#if TK_SIMD_DSP
/* LDM needs ascending register numbers: pin the destinations to r8..r11 (not r7, the
 * Thumb frame pointer of unoptimized builds). */
#define TK_LD4_IA(p, a, b, c, d)                                                            \
    do {                                                                                    \
        register int32_t tk_r4_ __asm__("r8");                                              \
        register int32_t tk_r5_ __asm__("r9");                                              \
        register int32_t tk_r6_ __asm__("r10");                                              \
        register int32_t tk_r7_ __asm__("r11");                                              \
        __asm__ volatile("ldmia %4!, {%0, %1, %2, %3}"                                      \
                         : "=r"(tk_r4_), "=r"(tk_r5_), "=r"(tk_r6_), "=r"(tk_r7_), "+r"(p) \
                         :                                                                  \
                         : "memory");                                                       \
        (a) = tk_r4_;                                                                       \
        (b) = tk_r5_;                                                                       \
        (c) = tk_r6_;                                                                       \
        (d) = tk_r7_;                                                                       \
    } while (0)
#else
#define TK_LD4_IA(p, a, b, c, d) \
    do {                         \
        (a) = (p)[0];            \
        (b) = (p)[1];            \
        (c) = (p)[2];            \
        (d) = (p)[3];            \
        (p) += 4;                \
    } while (0)
#endif

/** Copy four words from *s to *d (both 4-byte aligned; one LDM, one STM), advancing both. */
#if TK_SIMD_DSP
#define TK_COPY4_IA(d, s)                                                                   \
    do {                                                                                    \
        register int32_t tk_c8_ __asm__("r8");                                              \
        register int32_t tk_c9_ __asm__("r9");                                              \
        register int32_t tk_c10_ __asm__("r10");                                            \
        register int32_t tk_c11_ __asm__("r11");                                            \
        __asm__ volatile("ldmia %4!, {%0, %1, %2, %3}\n\tstmia %5!, {%0, %1, %2, %3}"         \
                         : "=&r"(tk_c8_), "=&r"(tk_c9_), "=&r"(tk_c10_), "=&r"(tk_c11_), "+r"(s), "+r"(d) \
                         :                                                                  \
                         : "memory");                                                       \
    } while (0)
#else
#define TK_COPY4_IA(d, s) \
    do {                  \
        (d)[0] = (s)[0];  \
        (d)[1] = (s)[1];  \
        (d)[2] = (s)[2];  \
        (d)[3] = (s)[3];  \
        (d) += 4;         \
        (s) += 4;         \
    } while (0)
#endif

/** x = *(int32_t *)p (any alignment, LDR), p += 4 bytes. */
#if TK_SIMD_DSP
#define TK_LDR_IA(p, x) __asm__ volatile("ldr %0, [%1], #4" : "=r"(x), "+r"(p) : : "memory")
#else
#define TK_LDR_IA(p, x)                   \
    do {                                  \
        __builtin_memcpy(&(x), (p), 4);   \
        (p) += 4;                         \
    } while (0)
#endif

/** Store words a, b at the int32_t pointer p (STRD), then advance p by BYTES (a literal). */
#if TK_SIMD_DSP
#define TK_STRD_IA(p, a, b, BYTES) \
    __asm__ volatile("strd %1, %2, [%0], #" #BYTES : "+r"(p) : "r"(a), "r"(b) : "memory")
#else
#define TK_STRD_IA(p, a, b, BYTES)     \
    do {                               \
        (p)[0] = (a);                  \
        (p)[1] = (b);                  \
        (p) += (BYTES) / 4;            \
    } while (0)
#endif

/* ------------------------------------------------------------ packed arithmetic */

#if !TK_SIMD_DSP
TK_INLINE int32_t tk_pack16_(int32_t lo, int32_t hi)
{
    return (int32_t)(((uint32_t)(uint16_t)lo) | ((uint32_t)(uint16_t)hi << 16));
}

TK_INLINE int32_t tk_lo16_(int32_t x)
{
    return (int16_t)(uint16_t)((uint32_t)x & 0xFFFFu);
}

TK_INLINE int32_t tk_hi16_(int32_t x)
{
    return (int16_t)(uint16_t)((uint32_t)x >> 16);
}

TK_INLINE int32_t tk_byte_(int32_t x, int n)
{
    return (int8_t)(uint8_t)(((uint32_t)x >> (8 * n)) & 0xFFu);
}
#endif

/** Rotate right by n in 1..31. */
TK_INLINE uint32_t tk_ror(uint32_t x, uint32_t n)
{
    return (x >> n) | (x << (32u - n));
}

/** SXTB16: [b0, b1, b2, b3] -> [b0, b2] sign-extended to int16. */
TK_INLINE int32_t tk_sxtb16(int32_t x)
{
#if TK_SIMD_DSP
    return (int32_t)__sxtb16((int8x4_t)x);
#else
    return tk_pack16_(tk_byte_(x, 0), tk_byte_(x, 2));
#endif
}

/** SXTB16 x, ROR #8: [b0, b1, b2, b3] -> [b1, b3] sign-extended to int16 (one instruction). */
TK_INLINE int32_t tk_sxtb16_ror8(int32_t x)
{
#if TK_SIMD_DSP
    int32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(x));
    return r;
#else
    return tk_pack16_(tk_byte_(x, 1), tk_byte_(x, 3));
#endif
}

/** SXTAB16: [lo, hi] + [b0, b2] sign-extended, per halfword (wrapping). */
TK_INLINE int32_t tk_sxtab16(int32_t a, int32_t x)
{
#if TK_SIMD_DSP
    return (int32_t)__sxtab16((int16x2_t)a, (int8x4_t)x);
#else
    return tk_pack16_(tk_lo16_(a) + tk_byte_(x, 0), tk_hi16_(a) + tk_byte_(x, 2));
#endif
}

/** SXTAB16 x, ROR #8: [lo, hi] + [b1, b3] sign-extended (one instruction). */
TK_INLINE int32_t tk_sxtab16_ror8(int32_t a, int32_t x)
{
#if TK_SIMD_DSP
    int32_t r;
    __asm__("sxtab16 %0, %1, %2, ror #8" : "=r"(r) : "r"(a), "r"(x));
    return r;
#else
    return tk_pack16_(tk_lo16_(a) + tk_byte_(x, 1), tk_hi16_(a) + tk_byte_(x, 3));
#endif
}

/** SMLAD: acc + a.lo * b.lo + a.hi * b.hi (the sum fits int32 in every use here). */
TK_INLINE int32_t tk_smlad(int32_t a, int32_t b, int32_t acc)
{
#if TK_SIMD_DSP
    return __smlad((int16x2_t)a, (int16x2_t)b, acc);
#else
    return (int32_t)((uint32_t)acc + (uint32_t)(tk_lo16_(a) * tk_lo16_(b)) +
                     (uint32_t)(tk_hi16_(a) * tk_hi16_(b)));
#endif
}

/** SMLABB: acc + a.lo * b.lo. */
TK_INLINE int32_t tk_smlabb(int32_t a, int32_t b, int32_t acc)
{
#if TK_SIMD_DSP
    return __smlabb(a, b, acc);
#else
    return (int32_t)((uint32_t)acc + (uint32_t)(tk_lo16_(a) * tk_lo16_(b)));
#endif
}

/** SMLATT: acc + a.hi * b.hi. */
TK_INLINE int32_t tk_smlatt(int32_t a, int32_t b, int32_t acc)
{
#if TK_SIMD_DSP
    return __smlatt(a, b, acc);
#else
    return (int32_t)((uint32_t)acc + (uint32_t)(tk_hi16_(a) * tk_hi16_(b)));
#endif
}

/** QADD16: per-halfword saturating add. */
TK_INLINE int32_t tk_qadd16(int32_t a, int32_t b)
{
#if TK_SIMD_DSP
    return (int32_t)__qadd16((int16x2_t)a, (int16x2_t)b);
#else
    int32_t lo = tk_lo16_(a) + tk_lo16_(b), hi = tk_hi16_(a) + tk_hi16_(b);
    lo = lo > 32767 ? 32767 : (lo < -32768 ? -32768 : lo);
    hi = hi > 32767 ? 32767 : (hi < -32768 ? -32768 : hi);
    return tk_pack16_(lo, hi);
#endif
}

/** SMMULR: (a * b + 2^31) >> 32, the rounded high word of the 64-bit product. */
TK_INLINE int32_t tk_smmulr(int32_t a, int32_t b)
{
#if TK_SIMD_DSP
    int32_t r;
    __asm__("smmulr %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));
    return r;
#else
    return (int32_t)(((int64_t)a * b + 0x80000000LL) >> 32);
#endif
}

/** SSAT #8: saturate to [-128, 127]. */
TK_INLINE int32_t tk_ssat8(int32_t x)
{
#if TK_SIMD_DSP
    return __ssat(x, 8);
#else
    return x > 127 ? 127 : (x < -128 ? -128 : x);
#endif
}

#if !TK_SIMD_DSP
/* Portable stand-in for SSUB8 + SEL: per byte lane, the larger (want_max) or smaller value. */
TK_INLINE int32_t tk_pick8_(int32_t a, int32_t b, int want_max)
{
    int32_t r = 0;
    for (int n = 0; n < 4; ++n) {
        const int32_t x = tk_byte_(a, n), y = tk_byte_(b, n);
        r |= (int32_t)((uint32_t)(uint8_t)((x > y) == want_max ? x : y) << (8 * n));
    }
    return r;
}
#endif

/** Bytewise signed max of four int8 lanes (SSUB8 sets the GE flags, SEL picks). */
TK_INLINE int32_t tk_smax8(int32_t a, int32_t b)
{
#if TK_SIMD_DSP
    int32_t r;
    __asm__("ssub8 %0, %1, %2\n\tsel %0, %1, %2" : "=&r"(r) : "r"(a), "r"(b) : "cc");
    return r;
#else
    return tk_pick8_(a, b, 1);
#endif
}

/** Bytewise signed min of four int8 lanes (the same SSUB8, SEL with the operands swapped). */
TK_INLINE int32_t tk_smin8(int32_t a, int32_t b)
{
#if TK_SIMD_DSP
    int32_t r;
    __asm__("ssub8 %0, %1, %2\n\tsel %0, %2, %1" : "=&r"(r) : "r"(a), "r"(b) : "cc");
    return r;
#else
    return tk_pick8_(a, b, 0);
#endif
}

#endif /* TK_SIMD_H */
