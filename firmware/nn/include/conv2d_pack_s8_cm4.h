/* Filter packing of the Cortex-M4 CONV_2D variants (conv2d_s8_cm4, conv2d_1x1_s8_cm4,
 * conv2d_3x3_s8_cm4): done once, at export time, so the kernels read ready int16 pairs
 * from flash instead of expanding int8 weights into RAM on every call. */
#ifndef TK_CONV2D_PACK_S8_CM4_H
#define TK_CONV2D_PACK_S8_CM4_H

#include "tk_types.h"

/** Channels in the next block of the packed layout when `rest` remain: pairs, then a last
 * single channel (the Cortex-M4 convolutions walk the blocks the same way). */
static inline int32_t tk_cm4_block(int32_t rest)
{
    return rest >= 2 ? 2 : 1;
}

/**
 * int32 words of the packed filter: C_out * K4 / 2, where K = K_h * K_w * C_in and K4 is K
 * rounded up to a multiple of 4 (twice the int8 filter's bytes, plus the zero padding).
 *
 * @param out_c  output channels (C_out)
 * @param k      reduction length K_h * K_w * C_in
 */
int32_t tk_conv2d_pack_s8_cm4_words(int32_t out_c, int32_t k);

/**
 * Pack an int8 filter [C_out, K] (K = K_h * K_w * C_in, the TFLite OHWI order) for the
 * Cortex-M4 convolutions. Channels go in pairs (a last odd channel alone); within a
 * block, per group of 4 reduction elements
 * k..k+3 and per channel, two words of int16 pairs: even = [w(k), w(k+2)] and
 * odd = [w(k+1), w(k+3)] (low half first), K zero-padded to K4.
 * tinykd/export/kernels_cm4.py:pack_filter() is the exporter's copy of this layout.
 *
 * @param filter  in: int8 [C_out, K]
 * @param out_c   output channels (C_out)
 * @param k       reduction length K
 * @param packed  out: tk_conv2d_pack_s8_cm4_words(out_c, k) int32 words
 */
void tk_conv2d_pack_s8_cm4(const int8_t *filter, int32_t out_c, int32_t k, int32_t *packed);

/**
 * Pack a 3x3 filter [C_out, 3, 3, C_in] for conv2d_3x3_s8_cm4, whose reduction runs in
 * (kx, ky, c) order over C4 = C_in rounded up to a multiple of 4 channels:
 * tk_conv2d_pack_s8_cm4() of the filter transposed to [C_out, 3 (K_w), 3 (K_h), C4], the
 * added channels zero.
 *
 * @param filter  in: int8 [C_out, 3, 3, C_in]
 * @param out_c   output channels (C_out)
 * @param in_c    input channels (C_in)
 * @param packed  out: tk_conv2d_pack_s8_cm4_words(out_c, 9 * C4) int32 words
 */
void tk_conv2d_3x3_pack_s8_cm4(const int8_t *filter, int32_t out_c, int32_t in_c, int32_t *packed);

/**
 * The int8 layout of the same filter (the *_w8_cm4 convolutions): the same blocks and groups,
 * but per group and channel one word holding w(k), w(k+1), w(k+2), w(k+3) as int8 (byte 0
 * first), which SXTB16 and SXTB16 ROR 8 turn into the even and odd pairs in the inner loop:
 * half the flash, 4 more instructions per 2 x 2 block and group. out_c * K4 / 4 words.
 * tinykd/export/kernels_cm4.py:pack_filter(..., int8=True) is the exporter's copy.
 */
void tk_conv2d_pack8_s8_cm4(const int8_t *filter, int32_t out_c, int32_t k, int32_t *packed);

/** tk_conv2d_3x3_pack_s8_cm4()'s order in the int8 layout of tk_conv2d_pack8_s8_cm4(). */
void tk_conv2d_3x3_pack8_s8_cm4(const int8_t *filter, int32_t out_c, int32_t in_c, int32_t *packed);

#endif /* include guard */
