/*
 * Front-end for the MLPerf Tiny benchmark (`firmware.protocol: mlperf`, make PROTOCOL=mlperf,
 * which also links app/mlperf_*.c): USART1 speaks the EEMBC/MLPerf Tiny text protocol
 * (mlperf_protocol.h) instead of tinykd's binary frames, so a benchmark host runner can drive
 * the board. main.c has brought the board up (board_init) before frontend_run().
 */
#include <stdint.h>
#include <string.h>

#include "board.h"
#include "frontend.h"
#include "inference.h"
#include "mlperf_model.h"
#include "mlperf_protocol.h"
#include "model.h"

/* The vendor string the runner shows for m-name-dut-[...]. */
#define MLPERF_VENDOR TINYKD_FIRMWARE_NAME " " TINYKD_FIRMWARE_VERSION " on " BOARD_NAME
/* Runners identify the benchmark firmware by this profile string. */
#define MLPERF_FIRMWARE "ULPMark for tinyML Firmware V0.0.1"

/* The 32-bit board tick counter wraps after 2^32 core clock cycles; extending it at every read (the
 * protocol reads it after every inference, the idle loop at least every SysTick wrap) makes
 * the microsecond clock wrap only at 2^32 us, as the benchmark's own timestamps do. */
static uint64_t clock_ticks;
static uint32_t clock_last;

static uint32_t now_us(void *ctx)
{
    (void)ctx;
    uint32_t t = board_ticks();
    clock_ticks += (uint32_t)(t - clock_last);
    clock_last = t;
    return (uint32_t)(clock_ticks / (board_core_hz() / 1000000u));
}

static void write_uart(void *ctx, const char *s, size_t n)
{
    (void)ctx;
    board_uart_write((const uint8_t *)s, n);
}

/* 3 KB of db buffer plus the line: in SRAM2, leaving SRAM1 to the model's arena. */
static mlperf_state_t state BOARD_SRAM2_BSS;

static char info[160];

static void append(const char *s)
{
    size_t n = strlen(info);
    size_t k = strlen(s);
    if (n + k < sizeof info) {
        memcpy(info + n, s, k + 1u);
    }
}

/* A model whose tinykd_model_check() failed at boot never runs: its kernels would write past
 * the scratch the export planned. */
static const char *infer_checked(void *ctx)
{
    return inference_model_check() != 0 ? "tinykd_model_check failed at boot" : mlperf_model_infer(ctx);
}

static mlperf_hooks_t hooks = {
    .write = write_uart,
    .now_us = now_us,
    .load = mlperf_model_load,
    .infer = infer_checked,
    .output = mlperf_model_output,
    .dequantize = mlperf_model_dequantize,
    .vendor = MLPERF_VENDOR,
    .firmware = MLPERF_FIRMWARE,
    .input_bytes = TINYKD_INPUT_BYTES,
};

void frontend_run(void)
{
    clock_last = board_ticks();
    mlperf_input_map_t map = mlperf_model_init();

    append("model-sha256=" TINYKD_MODEL_SHA256);
    append(map == MLPERF_MAP_SUBTRACT_128 ? ",input=subtract-128" : ",input=quantize");
    char hash[sizeof ",input-table=" + 8] = ",input-table=";
    const uint32_t h = mlperf_model_input_hash();
    for (size_t i = 0; i < 8; i++) {
        hash[sizeof ",input-table=" - 1 + i] = "0123456789abcdef"[(h >> (28 - 4 * i)) & 0xfu];
    }
    hash[sizeof hash - 1] = '\0';
    append(hash);
    append(board_timer() == BOARD_TIMER_DWT ? ",timer=dwt" : ",timer=systick");
    if (inference_model_check() != 0) {
        append(",model-check=failed"); /* tinykd_model_check() at boot: infer is refused */
    }
    hooks.info = info;
    hooks.model = mlperf_model_id();
    mlperf_init(&state, &hooks);

    for (;;) {
        uint8_t c;
        while (board_uart_read(&c)) {
            mlperf_feed(&state, (char)c);
        }
        (void)now_us(NULL);
        board_idle();
    }
}
