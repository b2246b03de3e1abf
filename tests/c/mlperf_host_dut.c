/*
 * Host build of the MLPerf Tiny DUT: the firmware's protocol and model glue
 * (firmware/app/mlperf_*.c) around an exported model - or the fake in mlperf_fake_model/ -
 * speaking over stdin/stdout, so tests/test_mlperf.py can drive the exact protocol without
 * QEMU. Time is virtual: the clock advances MLPERF_HOST_US_PER_INFER microseconds per
 * inference and one per timestamp read, so replies are deterministic.
 */
#include <stdio.h>

#include "mlperf_model.h"
#include "mlperf_protocol.h"
#include "model.h"

#ifndef MLPERF_HOST_US_PER_INFER
#define MLPERF_HOST_US_PER_INFER 1500u
#endif

static uint32_t clock_us = 1000u;

static uint32_t now_us(void *ctx)
{
    (void)ctx;
    return clock_us++;
}

static const char *infer(void *ctx)
{
    clock_us += MLPERF_HOST_US_PER_INFER;
    return mlperf_model_infer(ctx);
}

static void write_stdout(void *ctx, const char *s, size_t n)
{
    (void)ctx;
    fwrite(s, 1, n, stdout);
}

static mlperf_state_t state;

int main(void)
{
    mlperf_input_map_t map = mlperf_model_init();
    static mlperf_hooks_t hooks = {
        .write = write_stdout,
        .now_us = now_us,
        .load = mlperf_model_load,
        .infer = infer,
        .output = mlperf_model_output,
        .dequantize = mlperf_model_dequantize,
        .vendor = "tinykd host",
        .firmware = "ULPMark for tinyML Firmware V0.0.1",
        .input_bytes = TINYKD_INPUT_BYTES,
    };
    hooks.model = mlperf_model_id();
    hooks.info = map == MLPERF_MAP_SUBTRACT_128 ? "model-sha256=" TINYKD_MODEL_SHA256
                                                  ",input=subtract-128,timer=virtual"
                                                : "model-sha256=" TINYKD_MODEL_SHA256
                                                  ",input=quantize,timer=virtual";
    mlperf_init(&state, &hooks);
    fflush(stdout);
    int c;
    while ((c = getchar()) != EOF) {
        mlperf_feed(&state, (char)c);
        if (c == '%') {
            fflush(stdout);
        }
    }
    return 0;
}
