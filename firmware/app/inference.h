/*
 * Timed model invocation shared by the protocol front-ends, plus the per-layer tick table
 * filled when the firmware is built with PROFILE_LAYERS=1 (TINYKD_LAYER_BEGIN/END hooks).
 */
#ifndef TINYKD_INFERENCE_H
#define TINYKD_INFERENCE_H

#include <stdint.h>

/* At boot, before any inference: run the model's own tinykd_model_check() (every kernel's
 * *_scratch_size() against the arena the export planned) and keep the result. Returns it: 0 if
 * the model fits its plan, else 1 + the first offending layer. */
int inference_boot(void);

/* What inference_boot() found (0: the model may run). The front-ends report it: the HELLO flag
 * TINYKD_HELLO_MODEL_CHECK_FAILED, the boot banner, the MLPerf info string. */
int inference_model_check(void);

/* Run the exported model on `input` (TINYKD_INPUT_BYTES) into `output` (TINYKD_OUTPUT_BYTES);
 * *ticks receives the board ticks the call took. Returns the model's status (0 = success), or
 * INFERENCE_REFUSED without running it when inference_boot() found the model does not fit its
 * plan: its kernels would write scratch past what the arena holds for them. */
#define INFERENCE_REFUSED (-1)
int inference_run(const int8_t *input, int8_t *output, uint32_t *ticks);

/* Number of layers with a tick entry: TINYKD_NUM_LAYERS in profiling builds, else 0. */
uint32_t inference_profiled_layers(void);

/* Ticks layer `i` took in the last inference (0 outside a profiling build). */
uint32_t inference_layer_ticks(uint32_t i);

#endif /* TINYKD_INFERENCE_H */
