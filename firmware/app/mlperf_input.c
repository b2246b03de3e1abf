/* ic01 pixels to the model's int8 input; see mlperf_input.h. */
#include "mlperf_input.h"

mlperf_input_map_t mlperf_input_table(float pixel_to_real, float scale, int32_t zero_point,
                                      int8_t table[256])
{
    mlperf_input_map_t kind = MLPERF_MAP_SUBTRACT_128;
    for (int32_t p = 0; p < 256; p++) {
        /* Each step is one single-precision operation so the host reference
         * (tinykd.mlperf.reference.input_table) reproduces it bit for bit. */
        const float real = (float)p * pixel_to_real;
        float steps = real / scale;
        /* Far outside int8 either way; keeps the conversion to int32 defined. */
        steps = steps > 65536.0f ? 65536.0f : (steps < -65536.0f ? -65536.0f : steps);
        const int32_t rounded = steps >= 0.0f ? (int32_t)(steps + 0.5f) : -(int32_t)(0.5f - steps);
        int32_t q = zero_point + rounded;
        q = q < -128 ? -128 : (q > 127 ? 127 : q);
        table[p] = (int8_t)q;
        if (q != p - 128) {
            kind = MLPERF_MAP_QUANTIZE;
        }
    }
    return kind;
}

void mlperf_input_apply(const int8_t table[256], const uint8_t *pixels, int8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        out[i] = table[pixels[i]];
    }
}
