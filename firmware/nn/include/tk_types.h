/*
 * Shared types of the tinykd int8 kernels: tensor dimensions, quantization
 * parameters and the status every kernel returns.
 *
 * Calling convention (all kernels):
 *   - activations are int8, NHWC, densely packed, batch first;
 *   - dimensions and quantization parameters arrive in the small structs below,
 *     filled in at export time (tinykd's codegen) and stored in flash;
 *   - a kernel that needs temporary memory takes a `scratch` pointer supplied by
 *     the caller and has a `<kernel>_scratch_size()` companion returning the
 *     bytes it needs; the reference kernels need none, optimized variants with the
 *     same signature may. Nothing is allocated at run time.
 *   - kernels never modify their inputs, and input and output must not overlap, except
 *     where a kernel documents that its output may be one of its inputs (ADD, requantize,
 *     the fused residual convolutions): the arena planner then shares the buffer.
 */
#ifndef TK_TYPES_H
#define TK_TYPES_H

#include <stdint.h>

/** Result of a kernel call. */
typedef enum {
    TK_OK = 0,              /**< success */
    TK_ERR_ARG = -1,        /**< a parameter is outside its documented range */
    TK_ERR_SHAPE = -2,      /**< input, weight and output dimensions disagree */
} tk_status;

/**
 * Dimensions of a 4-D tensor. Activations: [N, H, W, C]. Convolution filters:
 * n = output channels, h = kernel height, w = kernel width, c = input channels
 * per group. Lower-rank tensors use leading 1s (a [N, C] tensor is {N, 1, 1, C}).
 */
typedef struct {
    int32_t n;
    int32_t h;
    int32_t w;
    int32_t c;
} tk_dims;

/**
 * Per-output-channel requantization: real multiplier M = multiplier * 2^(shift - 31),
 * with multiplier in [2^30, 2^31 - 1] (or 0) and shift in [-31, 30], computed at
 * export time exactly as TFLite's QuantizeMultiplier. Per-tensor quantized weights
 * repeat the same pair for every channel.
 */
typedef struct {
    const int32_t *multiplier;  /**< [C_out] Q31 multipliers */
    const int32_t *shift;       /**< [C_out] power-of-two exponents (> 0: left) */
} tk_channel_quant;

/** Convolution parameters (CONV_2D). */
typedef struct {
    int32_t input_offset;   /**< -(input zero point), in [-127, 128] */
    int32_t output_offset;  /**< output zero point, in [-128, 127] */
    int32_t stride_h;       /**< vertical stride, >= 1 */
    int32_t stride_w;       /**< horizontal stride, >= 1 */
    int32_t pad_h;          /**< implicit zero rows above the input, >= 0 */
    int32_t pad_w;          /**< implicit zero columns left of the input, >= 0 */
    int32_t dilation_h;     /**< vertical dilation, >= 1 */
    int32_t dilation_w;     /**< horizontal dilation, >= 1 */
    int32_t act_min;        /**< lower clamp of the output, >= -128 */
    int32_t act_max;        /**< upper clamp of the output, <= 127, >= act_min */
} tk_conv_params;

/** Depthwise convolution parameters (DEPTHWISE_CONV_2D). */
typedef struct {
    int32_t input_offset;     /**< -(input zero point), in [-127, 128] */
    int32_t output_offset;    /**< output zero point, in [-128, 127] */
    int32_t stride_h;         /**< vertical stride, >= 1 */
    int32_t stride_w;         /**< horizontal stride, >= 1 */
    int32_t pad_h;            /**< implicit zero rows above the input, >= 0 */
    int32_t pad_w;            /**< implicit zero columns left of the input, >= 0 */
    int32_t dilation_h;       /**< vertical dilation, >= 1 */
    int32_t dilation_w;       /**< horizontal dilation, >= 1 */
    int32_t depth_multiplier; /**< output channels per input channel, >= 1 */
    int32_t act_min;          /**< lower clamp of the output, >= -128 */
    int32_t act_max;          /**< upper clamp of the output, <= 127, >= act_min */
} tk_dw_conv_params;

/** Fully-connected parameters (FULLY_CONNECTED). */
typedef struct {
    int32_t input_offset;   /**< -(input zero point), in [-127, 128] */
    int32_t filter_offset;  /**< -(weight zero point); 0 for TFLite int8 weights */
    int32_t output_offset;  /**< output zero point, in [-128, 127] */
    int32_t act_min;        /**< lower clamp of the output, >= -128 */
    int32_t act_max;        /**< upper clamp of the output, <= 127, >= act_min */
} tk_fc_params;

/** Pooling parameters (MAX_POOL_2D, AVERAGE_POOL_2D). */
typedef struct {
    int32_t filter_h;   /**< window height, >= 1 */
    int32_t filter_w;   /**< window width, >= 1 */
    int32_t stride_h;   /**< vertical stride, >= 1 */
    int32_t stride_w;   /**< horizontal stride, >= 1 */
    int32_t pad_h;      /**< rows above the input skipped by the window, >= 0 */
    int32_t pad_w;      /**< columns left of the input skipped by the window, >= 0 */
    int32_t act_min;    /**< lower clamp of the output, >= -128 */
    int32_t act_max;    /**< upper clamp of the output, <= 127, >= act_min */
} tk_pool_params;

#endif /* TK_TYPES_H */
