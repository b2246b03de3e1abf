/*
 * Timed model invocation shared by the protocol front-ends, plus the per-layer tick table
 * filled when the firmware is built with PROFILE_LAYERS=1 (TINYKD_LAYER_BEGIN/END hooks).
 */
#ifndef TINYKD_INFERENCE_H
#define TINYKD_INFERENCE_H

#include <stdint.h>

/* Run the exported model on `input` (TINYKD_INPUT_BYTES) into `output` (TINYKD_OUTPUT_BYTES);
 * *ticks receives the board ticks the call took. Returns the model's status (0 = success). */
int inference_run(const int8_t *input, int8_t *output, uint32_t *ticks);

/* Number of layers with a tick entry: TINYKD_NUM_LAYERS in profiling builds, else 0. */
uint32_t inference_profiled_layers(void);

/* Ticks layer `i` took in the last inference (0 outside a profiling build). */
uint32_t inference_layer_ticks(uint32_t i);

#endif /* TINYKD_INFERENCE_H */
