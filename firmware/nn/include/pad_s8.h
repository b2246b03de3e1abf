/* PAD / PADV2, int8, up to 4 dimensions (TFLite reference). */
#ifndef TK_PAD_S8_H
#define TK_PAD_S8_H

#include "tk_types.h"

/** PAD parameters. */
typedef struct {
    int32_t before[4];  /**< elements added before each of [N, H, W, C], >= 0 */
    int32_t after[4];   /**< elements added after each of [N, H, W, C], >= 0 */
    int32_t value;      /**< int8 value of the added elements (output zero point for PAD) */
} tk_pad_params;

/**
 * output = input surrounded by params->value; output extent k = before[k] + input
 * extent k + after[k]. Input and output share scale and zero point.
 *
 * @param params      in: paddings per dimension and pad value
 * @param input_dims  in: [N, H, W, C] (lower ranks padded with leading 1s)
 * @param input       in: int8 input
 * @param output      out: int8 padded output
 * @return TK_OK or TK_ERR_ARG
 */
tk_status tk_pad_s8(const tk_pad_params *params, const tk_dims *input_dims,
                    const int8_t *input, int8_t *output);

#endif /* TK_PAD_S8_H */
