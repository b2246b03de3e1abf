/* Shared by the pooling kernels (reference and Cortex-M4): argument checks and the part of a
 * window that lies inside the input. */
#ifndef TK_POOL_H
#define TK_POOL_H

#include "tk_types.h"

/** TK_ERR_ARG for a bad window, stride or clamp, TK_ERR_SHAPE if the dimensions disagree. */
static inline tk_status tk_pool_check(const tk_pool_params *params, const tk_dims *input_dims,
                                      const tk_dims *output_dims)
{
    if (params->stride_h < 1 || params->stride_w < 1 || params->filter_h < 1 ||
        params->filter_w < 1 || params->act_min > params->act_max) {
        return TK_ERR_ARG;
    }
    if (output_dims->c != input_dims->c || output_dims->n != input_dims->n) {
        return TK_ERR_SHAPE;
    }
    return TK_OK;
}

/** Taps [*start, *end) of a `filter`-wide window at input position `origin` (negative inside
 * the padding) that fall within an input of `size`. */
static inline void tk_pool_span(int32_t origin, int32_t filter, int32_t size, int32_t *start, int32_t *end)
{
    *start = origin < 0 ? -origin : 0;
    *end = filter < size - origin ? filter : size - origin;
}

#endif /* TK_POOL_H */
