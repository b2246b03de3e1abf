/* MEAN (e.g. global average pooling), int8, as TFLite Micro evaluates it. */
#ifndef TK_MEAN_S8_H
#define TK_MEAN_S8_H

#include "tk_types.h"

/** How the int32 sum over the reduced elements becomes int8 (chosen at export). */
typedef enum {
    /** Input and output share scale and zero point: out = (int8)(sum / count), C division. */
    TK_MEAN_DIVIDE = 0,
    /** Otherwise: out = clamp(requant(sum - input_zp * count) + output_zp), the 1/count
     *  factor folded into multiplier/shift at export time (TFLite's QuantizedMeanOrSum). */
    TK_MEAN_RESCALE = 1,
} tk_mean_mode;

/** MEAN parameters. */
typedef struct {
    uint32_t axis_mask;        /**< bit k set: dimension k of [N, H, W, C] is reduced (k: 0=N .. 3=C); != 0 */
    tk_mean_mode mode;         /**< arithmetic path, see tk_mean_mode */
    int32_t input_zero_point;  /**< input zero point, in [-128, 127] (TK_MEAN_RESCALE) */
    int32_t output_zero_point; /**< output zero point, in [-128, 127] (TK_MEAN_RESCALE) */
    int32_t multiplier;        /**< Q31 multiplier including 1/count (TK_MEAN_RESCALE) */
    int32_t shift;             /**< its exponent, in [-31, 30] (TK_MEAN_RESCALE) */
} tk_mean_params;

/**
 * Mean over the dimensions in params->axis_mask. The output holds the remaining
 * dimensions in the input's order (reduced dimensions have extent 1; whether the
 * graph keeps them does not change the memory layout).
 *
 * @param params      in: reduced axes, arithmetic path, requantization
 * @param input_dims  in: [N, H, W, C] (lower ranks padded with leading 1s)
 * @param input       in: int8 input
 * @param output      out: int8, product of the non-reduced extents elements
 * @return TK_OK or TK_ERR_ARG
 */
tk_status tk_mean_s8(const tk_mean_params *params, const tk_dims *input_dims,
                     const int8_t *input, int8_t *output);

#endif /* TK_MEAN_S8_H */
