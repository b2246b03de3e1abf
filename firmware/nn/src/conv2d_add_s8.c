/* Reference CONV_2D + residual ADD: the unfused reference kernels, band by band (see
 * tk_conv_rows.h), so the arithmetic is theirs by construction. */
#include "conv2d_add_s8.h"

#include <stddef.h>

#include "conv2d_s8.h"
#include "tk_conv_rows.h"

int32_t tk_conv2d_add_s8_chunk_size(const tk_residual *residual, const tk_dims *output_dims)
{
    return tk_conv_band_bytes(residual->rows, output_dims);
}

tk_status tk_conv2d_add_s8(const tk_conv_params *params, const tk_channel_quant *quant,
                           const tk_dims *input_dims, const int8_t *input,
                           const tk_dims *filter_dims, const int8_t *filter,
                           const int32_t *bias,
                           const tk_dims *output_dims, int8_t *output,
                           void *scratch, const tk_residual *residual, const int8_t *shortcut)
{
    if (residual->rows < 1 || scratch == NULL || ((uintptr_t)scratch & 3u) != 0 || input_dims->n != output_dims->n) {
        return TK_ERR_ARG;
    }
    int8_t *chunk = (int8_t *)scratch;
    void *inner = chunk + tk_conv2d_add_s8_chunk_size(residual, output_dims);
    tk_conv_band band;
    for (int32_t b = 0; b < output_dims->n; ++b) {
        for (int32_t oy = 0; oy < output_dims->h; oy += residual->rows) {
            const int32_t left = output_dims->h - oy;
            tk_conv_band_at(&band, params, input_dims, input, filter_dims, output_dims, b, oy,
                            left < residual->rows ? left : residual->rows);
            tk_status st = tk_conv2d_s8(&band.params, quant, &band.in, band.input, filter_dims, filter, bias,
                                        &band.out, chunk, inner);
            if (st != TK_OK) {
                return st;
            }
            const int8_t *other = shortcut + band.out_offset;
            const int32_t n = band.elements;
            st = residual->conv_is_input1 ? tk_add_s8(&residual->add, n, chunk, n, other, output + band.out_offset)
                                          : tk_add_s8(&residual->add, n, other, n, chunk, output + band.out_offset);
            if (st != TK_OK) {
                return st;
            }
        }
    }
    return TK_OK;
}
