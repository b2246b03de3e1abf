/* CONV_2D + residual ADD for Cortex-M4: the band loop of the reference (tk_conv_rows.h)
 * around a Cortex-M4 convolution, the ADD's tables built once for all bands. */
#include "conv2d_add_s8_cm4.h"

#include <stddef.h>

#include "tk_conv_rows.h"
#include "tk_cm4_add.h"

tk_status tk_conv2d_add_s8_cm4(tk_conv_cm4_fn conv, const tk_conv_params *params, const tk_channel_quant *quant,
                               const tk_dims *input_dims, const int8_t *input,
                               const tk_dims *filter_dims, const int32_t *packed_filter,
                               const int32_t *bias,
                               const tk_dims *output_dims, int8_t *output,
                               void *scratch, const tk_residual *residual, const int8_t *shortcut)
{
    const tk_add_params *add = &residual->add;
    if (conv == NULL || residual->rows < 1 || scratch == NULL || ((uintptr_t)scratch & 3u) != 0 ||
        input_dims->n != output_dims->n || add->left_shift < 0 || add->left_shift > 30 ||
        add->act_min > add->act_max) {
        return TK_ERR_ARG;
    }
    int8_t *chunk = (int8_t *)scratch;
    void *inner = chunk + tk_conv_band_bytes(residual->rows, output_dims);
    tk_cm4_add_plan plan;
    tk_cm4_add_prepare(&plan, add);
    tk_conv_band band;
    for (int32_t b = 0; b < output_dims->n; ++b) {
        for (int32_t oy = 0; oy < output_dims->h; oy += residual->rows) {
            const int32_t left = output_dims->h - oy;
            tk_conv_band_at(&band, params, input_dims, input, filter_dims, output_dims, b, oy,
                            left < residual->rows ? left : residual->rows);
            const tk_status st = conv(&band.params, quant, &band.in, band.input, filter_dims, packed_filter, bias,
                                      &band.out, chunk, inner);
            if (st != TK_OK) {
                return st;
            }
            const int8_t *other = shortcut + band.out_offset;
            const int32_t n = band.elements;
            if (residual->conv_is_input1) {
                tk_cm4_add_run(&plan, n, chunk, n, other, output + band.out_offset);
            } else {
                tk_cm4_add_run(&plan, n, other, n, chunk, output + band.out_offset);
            }
        }
    }
    return TK_OK;
}
