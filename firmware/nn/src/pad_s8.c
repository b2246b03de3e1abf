/* Reference PAD int8. */
#include "pad_s8.h"

#include <string.h>

tk_status tk_pad_s8(const tk_pad_params *params, const tk_dims *input_dims,
                    const int8_t *input, int8_t *output)
{
    const int32_t in[4] = {input_dims->n, input_dims->h, input_dims->w, input_dims->c};
    int32_t out[4];
    for (int k = 0; k < 4; ++k) {
        if (params->before[k] < 0 || params->after[k] < 0) {
            return TK_ERR_ARG;
        }
        out[k] = params->before[k] + in[k] + params->after[k];
    }
    if (params->value < -128 || params->value > 127) {
        return TK_ERR_ARG;
    }
    const int8_t value = (int8_t)params->value;
    int8_t *o = output;
    for (int32_t a = 0; a < out[0]; ++a) {
        const int32_t ia = a - params->before[0];
        for (int32_t b = 0; b < out[1]; ++b) {
            const int32_t ib = b - params->before[1];
            for (int32_t c = 0; c < out[2]; ++c) {
                const int32_t ic = c - params->before[2];
                const int inside = ia >= 0 && ia < in[0] && ib >= 0 && ib < in[1] && ic >= 0 && ic < in[2];
                if (!inside) {
                    memset(o, value, (size_t)out[3]);
                } else {
                    memset(o, value, (size_t)params->before[3]);
                    memcpy(o + params->before[3], input + ((ia * in[1] + ib) * in[2] + ic) * in[3], (size_t)in[3]);
                    memset(o + params->before[3] + in[3], value, (size_t)params->after[3]);
                }
                o += out[3];
            }
        }
    }
    return TK_OK;
}
