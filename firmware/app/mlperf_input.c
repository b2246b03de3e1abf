/* ic01 pixels to the model's int8 input; see mlperf_input.h. */
#include "mlperf_input.h"

/* numpy's round (half to even) for |v| <= 65536, without libm: the truncation is exact there
 * and so is v - t, the fraction. */
static int32_t round_half_even(float v)
{
    int32_t t = (int32_t)v;
    const float frac = v - (float)t;
    if (frac > 0.5f || (frac == 0.5f && (t & 1))) {
        t += 1;
    } else if (frac < -0.5f || (frac == -0.5f && (t & 1))) {
        t -= 1;
    }
    return t;
}

mlperf_input_map_t mlperf_input_table(const float *mean, const float *std, size_t channels, float scale,
                                      int32_t zero_point, int8_t (*table)[256])
{
    mlperf_input_map_t kind = MLPERF_MAP_SUBTRACT_128;
    for (size_t c = 0; c < channels; c++) {
        for (int32_t p = 0; p < 256; p++) {
            /* One single-precision operation per step, in the host's order (tinykd.data.scaling),
             * so both give the same int8 value for every pixel. */
            float x = (float)p - mean[c];
            x = x / std[c];
            float v = x / scale + (float)zero_point;
            /* Far outside int8 either way; keeps the conversion to int32 defined. */
            v = v > 65536.0f ? 65536.0f : (v < -65536.0f ? -65536.0f : v);
            int32_t q = round_half_even(v);
            q = q < -128 ? -128 : (q > 127 ? 127 : q);
            table[c][p] = (int8_t)q;
            if (q != p - 128) {
                kind = MLPERF_MAP_QUANTIZE;
            }
        }
    }
    return kind;
}

void mlperf_input_apply(const int8_t (*table)[256], size_t channels, const uint8_t *pixels, int8_t *out,
                        size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++) {
        out[i] = table[c][pixels[i]];
        c = (c + 1 == channels) ? 0 : c + 1;
    }
}

uint32_t mlperf_input_table_hash(const int8_t (*table)[256], size_t channels)
{
    uint32_t h = 2166136261u;
    for (size_t c = 0; c < channels; c++) {
        for (size_t p = 0; p < 256; p++) {
            h = (h ^ (uint8_t)table[c][p]) * 16777619u;
        }
    }
    return h;
}
