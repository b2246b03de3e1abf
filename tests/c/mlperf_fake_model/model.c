/* The fake model of model.h: per-class sums of every tenth input value. */
#include "model.h"

int tinykd_model_invoke(const int8_t *input, int8_t *output)
{
    int32_t acc[TINYKD_OUTPUT_BYTES] = {0};
    for (int32_t i = 0; i < TINYKD_INPUT_BYTES; i++) {
        acc[i % TINYKD_OUTPUT_BYTES] += input[i];
    }
    for (int32_t k = 0; k < TINYKD_OUTPUT_BYTES; k++) {
        int32_t v = acc[k] / 64;
        output[k] = (int8_t)(v < -128 ? -128 : (v > 127 ? 127 : v));
    }
    return 0;
}
