/*
 * The MLPerf Tiny / EEMBC benchmark's UART protocol (the "DUT" side), as spoken by the reference
 * submissions of the image-classification benchmark (ic01), so any MLPerf Tiny host runner
 * (EEMBC EnergyRunner, the mlcommons/tiny runner, `tinykd mlperf`) can drive a tinykd board.
 *
 * Commands are ASCII, end with '%', and every reply ends with "m-ready\r\n":
 *
 *   name%              m-name-dut-[<vendor string>]
 *   profile%           m-profile-[<firmware string>]  m-model-[ic01]
 *   help%              one line per command
 *   timestamp%         m-lap-us-<now>
 *   db load N%         m-[Expecting N bytes]          (starts a new input buffer of N bytes)
 *   db <hex>%          appends bytes; m-load-done once N bytes have arrived
 *   db print%          m-buffer-xx-xx-... (8 bytes a line)
 *   infer N W%         m-warmup-start-W  m-warmup-done  m-infer-start-N  m-lap-us-<t0>
 *                      m-lap-us-<t1>  m-infer-done  m-results-[v0,...,v9]
 *   results%           m-results-[...] of the last inference
 *   raw%               (tinykd extension) m-raw-[q0,...] the int8 output tensor of the last
 *                      inference, for bit-exact checks against a host reference
 *   info%              (tinykd extension) m-info-[model-sha256=...,input=...,timer=...]
 *
 * Faults never wedge the parser: an unknown or malformed command, a line longer than
 * MLPERF_LINE_MAX characters (the rest of it up to the next '%' is discarded) or `db` data
 * beyond the announced length gets one "e-[...]" line, then "m-ready", and the device keeps
 * working. '\r' and '\n' are ignored, so a terminal user may type commands by hand.
 *
 * This file is plain C11 with no board or model dependency: the firmware passes the hooks
 * below, the host unit tests pass fakes.
 */
#ifndef TINYKD_MLPERF_PROTOCOL_H
#define TINYKD_MLPERF_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

/* Longest command accepted, '%' excluded. The reference monitor truncates at 80 characters;
 * runners send `db` chunks of at most 31 bytes (65 characters), tinykd's runner 126 (255). */
#ifndef MLPERF_LINE_MAX
#define MLPERF_LINE_MAX 255
#endif

/* Capacity of the `db` buffer in bytes: the model's input (3072 = 32x32x3 for ic01). */
#ifndef MLPERF_DB_CAPACITY
#define MLPERF_DB_CAPACITY 3072
#endif

/* Largest output vector printed by m-results (ic01 has 10 classes). */
#ifndef MLPERF_MAX_RESULTS
#define MLPERF_MAX_RESULTS 16
#endif

/* Largest N or W accepted by `infer` (keeps N * inference time far from timer ambiguity). */
#define MLPERF_MAX_ITERATIONS 100000u

/* What the protocol needs from the device. `ctx` is passed back unchanged. */
typedef struct mlperf_hooks {
    void *ctx;
    /* Write n bytes to the host (blocking). */
    void (*write)(void *ctx, const char *s, size_t n);
    /* Microseconds from the core timer, free-running, wrapping at 2^32. */
    uint32_t (*now_us)(void *ctx);
    /* Convert n input bytes (uint8 pixels, HWC) into the model's input tensor; 0 on success,
     * else a message for the e-[...] line. n is always the model's input size. */
    const char *(*load)(void *ctx, const uint8_t *bytes, size_t n);
    /* Run one inference on the loaded input; 0 on success, else an error message. */
    const char *(*infer)(void *ctx);
    /* Copy the raw int8 output of the last inference into out[0..max); returns the count. */
    size_t (*output)(void *ctx, int8_t *out, size_t max);
    /* Dequantize one output value: (q - zero_point) * scale, in float as the reference does. */
    float (*dequantize)(void *ctx, int8_t q);
    /* Strings for name/profile: vendor (inside m-name-dut-[...]), firmware, model ("ic01"). */
    const char *vendor;
    const char *firmware;
    const char *model;
    /* Free text for the tinykd `info` command (model hash, input mapping, timer). */
    const char *info;
    /* Bytes the model's input needs (3072); `infer` refuses any other loaded size. */
    size_t input_bytes;
} mlperf_hooks_t;

typedef struct mlperf_state {
    const mlperf_hooks_t *hooks;
    char line[MLPERF_LINE_MAX + 1];
    size_t line_len;
    size_t line_overflow;  /* characters dropped from the current over-long line */
    uint8_t db[MLPERF_DB_CAPACITY];
    size_t db_size;        /* announced by `db load N` */
    size_t db_pos;         /* bytes received so far */
    int have_output;       /* an inference has completed since boot */
} mlperf_state_t;

/* Reset the state and print the boot lines "m-init-done" and "m-ready". */
void mlperf_init(mlperf_state_t *st, const mlperf_hooks_t *hooks);

/* Feed one received character; a complete command ('%') is executed before returning. */
void mlperf_feed(mlperf_state_t *st, char c);

/* Execute one command line (without the '%'); it is modified in place. */
void mlperf_execute(mlperf_state_t *st, char *line);

/* Format v like printf("%.3f", (double)v), exactly (round half to even on the exact binary
 * value), without needing printf's float support. Writes a NUL-terminated string to out
 * (at least 48 bytes) and returns its length. NaN and infinities print as "nan", "inf", "-inf". */
size_t mlperf_format_fixed3(float v, char *out);

#endif /* TINYKD_MLPERF_PROTOCOL_H */
