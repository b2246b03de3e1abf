/*
 * The exported model (model.h, `tinykd export`) behind the MLPerf protocol hooks: input
 * mapping (mlperf_input.h), inference, output and dequantization. Builds for the board and for
 * the host (tests/c/mlperf_host_dut.c links it with the same model.c).
 */
#ifndef TINYKD_MLPERF_MODEL_H
#define TINYKD_MLPERF_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "mlperf_input.h"

/* Build the pixel table from the model's input quantization; returns the mapping in use. */
mlperf_input_map_t mlperf_model_init(void);

/* mlperf_input_table_hash of the pixel tables (after mlperf_model_init). */
uint32_t mlperf_model_input_hash(void);

/* Hooks for mlperf_hooks_t (ctx unused). */
const char *mlperf_model_load(void *ctx, const uint8_t *pixels, size_t n);
const char *mlperf_model_infer(void *ctx);
size_t mlperf_model_output(void *ctx, int8_t *out, size_t max);
float mlperf_model_dequantize(void *ctx, int8_t q);

/* Bytes of the model's input tensor (TINYKD_INPUT_BYTES). */
size_t mlperf_model_input_bytes(void);

/* "ic01" when the model has the benchmark's shapes (32x32x3 in, 10 out), else "tinykd". */
const char *mlperf_model_id(void);

#endif /* TINYKD_MLPERF_MODEL_H */
