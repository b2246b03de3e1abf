/*
 * Host entry points for tinykd.export.scratch (scratch.py beside this file): a kernel's
 * *_scratch_size() companion called with plain integers, so the exporter plans exactly the
 * scratch the C asks for without a Python copy of the formulas or of the structs. Compiled
 * with firmware/nn/src for the host at export time, never for a board.
 *
 * v: the input, filter and output dims (n, h, w, c each), then stride_h, stride_w, pad_h, pad_w,
 * dilation_h, dilation_w: the geometry a scratch size may depend on. The quantization fields of
 * the parameters stay 0; no scratch size reads them.
 */
#include <stdint.h>

#include "conv2d_add_s8.h"
#include "tk_types.h"

typedef int32_t (*tkh_conv_size)(const tk_conv_params *, const tk_dims *, const tk_dims *, const tk_dims *);
typedef int32_t (*tkh_dw_size)(const tk_dims *, const tk_dims *, const tk_dims *);

int32_t tkh_conv_scratch(tkh_conv_size fn, const int32_t *v);
int32_t tkh_dw_scratch(tkh_dw_size fn, const int32_t *v);
int32_t tkh_chunk_bytes(int32_t rows, const int32_t *output_dims);

static tk_dims dims(const int32_t *v)
{
    const tk_dims d = {v[0], v[1], v[2], v[3]};
    return d;
}

int32_t tkh_conv_scratch(tkh_conv_size fn, const int32_t *v)
{
    const tk_dims in = dims(v), filter = dims(v + 4), out = dims(v + 8);
    tk_conv_params p = {0};
    p.stride_h = v[12];
    p.stride_w = v[13];
    p.pad_h = v[14];
    p.pad_w = v[15];
    p.dilation_h = v[16];
    p.dilation_w = v[17];
    return fn(&p, &in, &filter, &out);
}

int32_t tkh_dw_scratch(tkh_dw_size fn, const int32_t *v)
{
    const tk_dims in = dims(v), filter = dims(v + 4), out = dims(v + 8);
    return fn(&in, &filter, &out);
}

/* The fused CONV_2D + ADD call's band buffer, ahead of its convolution's own scratch. */
int32_t tkh_chunk_bytes(int32_t rows, const int32_t *output_dims)
{
    tk_residual r = {0};
    r.rows = rows;
    const tk_dims out = dims(output_dims);
    return tk_conv2d_add_s8_chunk_size(&r, &out);
}
