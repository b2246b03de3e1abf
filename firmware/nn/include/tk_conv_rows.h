/*
 * Internal to the kernels (firmware/nn/src): a band of output rows of a convolution as a convolution of
 * its own (the fused residual kernels run the unfused convolution kernels band by band).
 * Output rows [oy, oy + rows) of image b need input rows [top, bottom) (top may be
 * negative, bottom past the image: padding); the band's convolution sees only the input
 * rows inside the image, with pad_h = the padding rows above them, so every tap reads the
 * same input element (or the same padding) as in the whole convolution.
 */
#ifndef TK_CONV_ROWS_H
#define TK_CONV_ROWS_H

#include <stdint.h>

#include "tk_types.h"

typedef struct {
    tk_conv_params params;
    tk_dims in;
    tk_dims out;
    const int8_t *input;
    int32_t out_offset;   /* element offset of the band's first output in the whole output */
    int32_t elements;     /* outputs in the band */
} tk_conv_band;

static inline void tk_conv_band_at(tk_conv_band *band, const tk_conv_params *params, const tk_dims *input_dims,
                                   const int8_t *input, const tk_dims *filter_dims, const tk_dims *output_dims,
                                   int32_t b, int32_t oy, int32_t rows)
{
    const int32_t reach = (filter_dims->h - 1) * params->dilation_h + 1;
    const int32_t top = oy * params->stride_h - params->pad_h;
    const int32_t bottom = (oy + rows - 1) * params->stride_h - params->pad_h + reach;
    const int32_t lo = top < 0 ? 0 : (top > input_dims->h ? input_dims->h : top);
    const int32_t hi = bottom > input_dims->h ? input_dims->h : (bottom < lo ? lo : bottom);
    band->params = *params;
    band->params.pad_h = lo - top;
    band->in = (tk_dims){1, hi - lo, input_dims->w, input_dims->c};
    band->out = (tk_dims){1, rows, output_dims->w, output_dims->c};
    band->input = input + ((b * input_dims->h + lo) * input_dims->w) * input_dims->c;
    band->out_offset = ((b * output_dims->h + oy) * output_dims->w) * output_dims->c;
    band->elements = rows * output_dims->w * output_dims->c;
}

static inline int32_t tk_conv_band_bytes(int32_t rows, const tk_dims *output_dims)
{
    return (rows * output_dims->w * output_dims->c + 3) & ~3;
}

#endif /* TK_CONV_ROWS_H */
