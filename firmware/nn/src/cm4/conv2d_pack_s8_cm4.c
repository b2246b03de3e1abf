/* Filter packing of the Cortex-M4 convolutions: plain C, it runs on the host (export-time
 * layout reference and tests), not per inference. */
#include "conv2d_pack_s8_cm4.h"

static int32_t pair16(int32_t lo, int32_t hi)
{
    return (int32_t)(((uint32_t)(uint16_t)(int16_t)lo) | ((uint32_t)(uint16_t)(int16_t)hi << 16));
}

int32_t tk_conv2d_pack_s8_cm4_words(int32_t out_c, int32_t k)
{
    return out_c * ((k + 3) & ~3) / 2;
}

/* Reduction element r of a channel's row in the kernel's order: identity, or for the 3x3
 * path (kx, ky, c) order over channels padded to a multiple of 4, read from the (ky, kx, c)
 * filter (zeros for the padding channels). */
static int8_t element(const int8_t *row, int32_t r, int32_t in_c_3x3)
{
    if (in_c_3x3 == 0) {
        return row[r];
    }
    const int32_t wc = (in_c_3x3 + 3) & ~3;
    const int32_t c = r % wc, tap = r / wc;   /* tap = kx * 3 + ky */
    return c < in_c_3x3 ? row[((tap % 3) * 3 + tap / 3) * in_c_3x3 + c] : 0;
}

static void pack(const int8_t *filter, int32_t out_c, int32_t k, int32_t *packed, int32_t in_c_3x3, int32_t w8)
{
    const int32_t row_len = in_c_3x3 ? 9 * in_c_3x3 : k;   /* int8 per channel in `filter` */
    const int32_t groups = (k + 3) / 4;
    for (int32_t o0 = 0; o0 < out_c;) {
        const int32_t nb = tk_cm4_block(out_c - o0);
        for (int32_t g = 0; g < groups; ++g) {
            for (int32_t c = 0; c < nb; ++c) {
                const int8_t *row = filter + (o0 + c) * row_len;
                int32_t v[4];
                for (int32_t t = 0; t < 4; ++t) {
                    v[t] = 4 * g + t < k ? element(row, 4 * g + t, in_c_3x3) : 0;
                }
                if (w8) {   /* the four int8 as they are: SXTB16 (ROR 8) makes even/odd */
                    *packed++ = (int32_t)((uint32_t)(uint8_t)v[0] | (uint32_t)(uint8_t)v[1] << 8 |
                                          (uint32_t)(uint8_t)v[2] << 16 | (uint32_t)(uint8_t)v[3] << 24);
                    continue;
                }
                *packed++ = pair16(v[0], v[2]);
                *packed++ = pair16(v[1], v[3]);
            }
        }
        o0 += nb;
    }
}

void tk_conv2d_pack_s8_cm4(const int8_t *filter, int32_t out_c, int32_t k, int32_t *packed)
{
    pack(filter, out_c, k, packed, 0, 0);
}

void tk_conv2d_pack8_s8_cm4(const int8_t *filter, int32_t out_c, int32_t k, int32_t *packed)
{
    pack(filter, out_c, k, packed, 0, 1);
}

void tk_conv2d_3x3_pack8_s8_cm4(const int8_t *filter, int32_t out_c, int32_t in_c, int32_t *packed)
{
    pack(filter, out_c, 9 * ((in_c + 3) & ~3), packed, in_c, 1);
}

void tk_conv2d_3x3_pack_s8_cm4(const int8_t *filter, int32_t out_c, int32_t in_c, int32_t *packed)
{
    pack(filter, out_c, 9 * ((in_c + 3) & ~3), packed, in_c, 0);
}
