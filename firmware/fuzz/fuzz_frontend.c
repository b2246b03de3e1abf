/*
 * Fuzz target for the UART front-end (host only): the firmware's own request loop and request
 * handler (app/frontend_tinykd.c: frontend_run, handle_frame and the send_* answers), its
 * receive ring (app/rx_ring.c), app/inference.c and app/tinykd_hello.c, built for the host
 * around a host board (the board.h functions below) and the fake model of model.h.
 *
 * An input is a few configuration bytes (ring size, burst sizes, how often the line pauses, the
 * timer, the tick counter's and the ring counters' start, near their 2^32 wrap when the driver
 * picks so) and then the bytes the host sends. The host board delivers them into the ring the
 * way the UART interrupt does: in bursts while the board idles, and also while it transmits, so
 * a burst that finds the ring full loses bytes (counted as overruns, as on the board). A pause
 * moves the tick counter past the truncation timeout. RESET restarts frontend_run with an
 * empty ring, as the chip's reset does.
 *
 * Checked, for any input: no access outside any buffer (ASan, with exact-size heap buffers for
 * the ring), no undefined behaviour (UBSan), and the board's whole output is byte for byte what
 * an independent model of the protocol (oracle() below, written from protocol.h) answers to the
 * bytes the front-end actually took from the ring: the boot banner and BOOT frame, one answer or
 * ERROR frame per frame and per truncated frame, INFER outputs and tick counts of the fake model
 * run on exactly the loaded input, PROFILE tick tables, HELLO's overrun count. The ring is also
 * checked on its own against a plain queue (ring_check).
 *
 * Built with clang -fsanitize=fuzzer it is a libFuzzer target; built with -DTKP_FUZZ_MAIN it
 * has its own main() that feeds N pseudo-random inputs made of the protocol's requests (whole
 * inputs loaded in scrambled chunks then INFER, HELLO, PROFILE, RESET, bad lengths and types,
 * damaged and cut frames, garbage), for toolchains without libFuzzer (Debian's gcc). Build it
 * once more with -DTINYKD_PROFILE_LAYERS=1 -include app/layer_hooks.h for the profiling build.
 */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "board.h"
#include "frontend.h"
#include "inference.h"
#include "model.h"
#include "protocol.h"
#include "rx_ring.h"
#include "tinykd_hello.h"

#ifndef TINYKD_LAYER_BEGIN
#define TINYKD_LAYER_BEGIN(i) ((void)0)
#define TINYKD_LAYER_END(i) ((void)0)
#endif
#ifdef TINYKD_PROFILE_LAYERS
#define PROFILED 1
#else
#define PROFILED 0
#endif

#define CONFIG_BYTES 13u
#define TAPE_MAX 4096u
#define LOG_MAX (3u * TAPE_MAX)
#define OUT_MAX (1u << 20)
#define CORE_HZ BOARD_CORE_HZ /* the board's clock (board.yaml core_hz, from the Makefile) */
#define TIMEOUT_TICKS (CORE_HZ / 1000u * TKP_TRUNCATION_TIMEOUT_MS)
/* The largest request payload the front-end takes (HELLO reports it): one LOAD chunk. */
#define REQUEST_CAP (TKP_LOAD_HEADER_BYTES + TKP_CHUNK_MAX)

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_frontend: invariant violated: %s\n", what);
        abort();
    }
}

/* ---- per-input pseudo-random choices of the host board (xorshift32, seeded by the input) ---- */

static uint32_t board_rng;

static uint32_t next(void)
{
    board_rng ^= board_rng << 13;
    board_rng ^= board_rng >> 17;
    board_rng ^= board_rng << 5;
    return board_rng;
}

/* ---- the host board ---------------------------------------------------------------------- */

static struct rx_ring ring;
static volatile uint8_t *ring_buf;
static uint32_t ring_cap, ring_start, burst_max, pause_one_in;
static uint32_t now;
static enum board_timer timer;
static const uint8_t *tape;
static size_t tape_len, tape_pos;
static int final_pause_done;
static jmp_buf tape_end;

static uint8_t out_buf[OUT_MAX];
static size_t out_len;

/* What the front-end took from the ring, in order: a byte (with the overrun count at that
 * moment, which a HELLO answered after it reports), or a pause of the line. */
struct log_entry {
    int16_t byte; /* -1: pause */
    uint32_t overruns;
};
static struct log_entry rx_log[LOG_MAX];
static size_t log_len;

static uint32_t stat_dropped, stat_pauses;

static void ring_reset(void)
{
    rx_ring_init(&ring, ring_buf, ring_cap);
    check(ring.cap == ring_cap, "ring capacity not kept");
    ring.head = ring.tail = ring_start; /* test only: start the counters near their wrap */
}

/* The UART interrupt: up to n bytes of the tape arrive. */
static void arrive(uint32_t n)
{
    while (n-- && tape_pos < tape_len) {
        uint32_t count = rx_ring_count(&ring), dropped = ring.dropped;
        if (rx_ring_put(&ring, tape[tape_pos++])) {
            check(count < ring.cap && rx_ring_count(&ring) == count + 1u, "put into a full ring");
        } else {
            check(count == ring.cap && ring.dropped == dropped + 1u, "put refused with room left");
            stat_dropped++;
        }
    }
}

static void pause_line(void)
{
    check(log_len < LOG_MAX, "log full");
    now += TIMEOUT_TICKS + 1u;
    rx_log[log_len++] = (struct log_entry){-1, 0};
    stat_pauses++;
}

uint32_t board_core_hz(void) { return CORE_HZ; }

uint32_t board_ticks(void) { return now; }

void board_measure_begin(void) {}

enum board_timer board_timer(void) { return timer; }

uint32_t board_uart_overruns(void) { return ring.dropped; }

void board_uart_write(const uint8_t *data, size_t n)
{
    check(out_len + n <= OUT_MAX, "harness output buffer too small");
    memcpy(out_buf + out_len, data, n);
    out_len += n;
    if (next() % 8u == 0) {
        arrive(next() % (burst_max + 1u)); /* bytes keep coming while the board transmits */
    }
}

int board_uart_read(uint8_t *out)
{
    uint32_t count = rx_ring_count(&ring);
    check(count <= ring.cap, "ring holds more than its capacity");
    if (!rx_ring_get(&ring, out)) {
        check(count == 0, "get refused from a non-empty ring");
        return 0;
    }
    check(rx_ring_count(&ring) == count - 1u, "get did not take one byte");
    check(log_len < LOG_MAX, "log full");
    rx_log[log_len++] = (struct log_entry){*out, board_uart_overruns()};
    return 1;
}

void board_idle(void)
{
    if (rx_ring_count(&ring) != 0) {
        return; /* a pending interrupt: the board's WFI returns at once */
    }
    if (tape_pos < tape_len) {
        if (pause_one_in && next() % pause_one_in == 0 && log_len < 2u * TAPE_MAX) {
            pause_line();
        } else {
            /* an idle board drains the ring as fast as bytes come: no loss here */
            arrive(1u + next() % (burst_max < ring.cap ? burst_max : ring.cap));
        }
        return;
    }
    if (!final_pause_done) {
        final_pause_done = 1;
        pause_line();
        return;
    }
    longjmp(tape_end, 1);
}

/* ---- the fake model: 3 layers whose ticks and outputs depend on the input ------------------- */

static uint32_t fake_layer_ticks(const int8_t *in, int layer)
{
    return 40u + (uint32_t)(uint8_t)in[layer] * (uint32_t)(layer + 1);
}

static void fake_output(const int8_t *in, int8_t *out)
{
    for (int k = 0; k < TINYKD_OUTPUT_BYTES; k++) {
        uint32_t acc = 0;
        for (int i = k; i < TINYKD_INPUT_BYTES; i += TINYKD_OUTPUT_BYTES) {
            acc += (uint32_t)(uint8_t)in[i] * (uint32_t)(k + 1);
        }
        out[k] = (int8_t)((int)(acc & 0xFFu) - 128);
    }
}

/* The boot-time scratch check: failing (layer 1) for 1 input in 4, chosen by the input's
 * configuration; the board then flags it in HELLO and the banner and refuses every INFER. */
static int fake_check;
static unsigned long stat_check_failed;

int tinykd_model_check(void) { return fake_check; }

/* A failing invoke (status 7) for 1 input in 32, so the ERROR MODEL answer is reached too. */
static int fake_status(const int8_t *in) { return ((uint8_t)in[1] & 0x1Fu) == 0x0Eu ? 7 : 0; }

int tinykd_model_invoke(const int8_t *input, int8_t *output)
{
    for (int layer = 0; layer < TINYKD_NUM_LAYERS; layer++) {
        TINYKD_LAYER_BEGIN(layer);
        now += fake_layer_ticks(input, layer);
        TINYKD_LAYER_END(layer);
    }
    if (fake_status(input)) {
        return fake_status(input);
    }
    fake_output(input, output);
    return 0;
}

/* ---- the oracle: what the board must have sent ------------------------------------------- */

static uint8_t want[OUT_MAX];
static size_t want_len;
/* inference.c's layer table outlives a RESET here (the host has no reset to clear RAM) and the
 * inputs, so the oracle's copy does too. */
static uint32_t last_layer_ticks[TINYKD_NUM_LAYERS];
static unsigned long stat_answers[256], stat_errors[16];

static void want_bytes(const void *data, size_t n)
{
    check(want_len + n <= OUT_MAX, "oracle output buffer too small");
    memcpy(want + want_len, data, n);
    want_len += n;
}

static void want_frame(uint8_t type, uint8_t seq, const uint8_t *payload, uint16_t len)
{
    uint8_t frame[512];
    size_t n = tkp_encode(frame, sizeof frame, type, seq, payload, len);
    check(n == (size_t)len + TKP_OVERHEAD, "oracle frame does not fit");
    want_bytes(frame, n);
    stat_answers[type]++;
}

static void want_error(uint8_t code, uint8_t type, uint8_t seq)
{
    const uint8_t payload[3] = {code, type, seq};
    want_frame(TKP_ERROR, seq, payload, sizeof payload);
    stat_errors[code & 15u]++;
}

static void want_boot(void)
{
    char text[256];
    int n = snprintf(text, sizeof text, "\r\n%s %s protocol tinykd/%d board %s model %s\r\ntimer %s\r\n",
                     TINYKD_FIRMWARE_NAME, TINYKD_FIRMWARE_VERSION, TKP_VERSION_NUMBER, BOARD_NAME,
                     TINYKD_MODEL_SHA256, timer == BOARD_TIMER_DWT ? "dwt-cyccnt" : "systick");
    check(n > 0 && (size_t)n < sizeof text, "banner too long");
    want_bytes(text, (size_t)n);
    if (fake_check) {
        static const char failed[] = "model check failed: a kernel needs more scratch than the export planned\r\n";
        want_bytes(failed, sizeof failed - 1);
    }
    uint8_t version[2];
    tkp_put_u16(version, TKP_VERSION);
    want_frame(TKP_BOOT, 0, version, sizeof version);
}

static void want_hello(uint8_t seq, uint32_t overruns)
{
    uint8_t h[TINYKD_HELLO_BYTES];
    tinykd_hello(h, REQUEST_CAP);
    /* the fields that come from the board and the front-end, not from model.h */
    check(tkp_get_u16(h) == TKP_VERSION && h[2] == (uint8_t)timer && h[3] == (PROFILED | (fake_check ? 2 : 0)), "HELLO header");
    check(tkp_get_u32(h + 4) == CORE_HZ && tkp_get_u32(h + 12) == TINYKD_INPUT_BYTES, "HELLO sizes");
    check(tkp_get_u16(h + 26) == REQUEST_CAP, "HELLO max request");
    check(memcmp(h + TINYKD_HELLO_FIXED_BYTES, BOARD_NAME, sizeof BOARD_NAME - 1u) == 0, "HELLO board");
    tkp_put_u32(h + 126, overruns); /* as the board counted them when the request arrived */
    want_frame(TKP_HELLO | TKP_RESPONSE, seq, h, sizeof h);
}

/* One request, answered as protocol.h says; returns 1 after a RESET (the board restarts). */
static int want_answer(const struct tkp_parser *p, struct tkp_loader *l, uint32_t overruns)
{
    int status;
    switch (p->type) {
    case TKP_HELLO:
        if (p->len != 0) {
            break;
        }
        want_hello(p->seq, overruns);
        return 0;
    case TKP_LOAD:
        status = tkp_loader_load(l, p->buf, p->len);
        if (status) {
            want_error((uint8_t)status, TKP_LOAD, p->seq);
        } else {
            uint8_t ack[8];
            memcpy(ack, p->buf, 4);
            tkp_put_u16(ack + 4, (uint16_t)(p->len - TKP_LOAD_HEADER_BYTES));
            tkp_put_u16(ack + 6, l->filled);
            want_frame(TKP_LOAD | TKP_RESPONSE, p->seq, ack, sizeof ack);
        }
        return 0;
    case TKP_INFER:
        status = tkp_loader_ready(l, p->buf, p->len);
        if (status) {
            want_error((uint8_t)status, TKP_INFER, p->seq);
            return 0;
        }
        if (fake_check) { /* refused before the model runs: no ticks, no layer table */
            want_error(TKP_ERR_MODEL, TKP_INFER, p->seq);
            return 0;
        }
        {
            const int8_t *in = (const int8_t *)l->buf;
            uint8_t answer[6 + TINYKD_OUTPUT_BYTES];
            uint32_t ticks = 0;
            for (int layer = 0; layer < TINYKD_NUM_LAYERS; layer++) {
                last_layer_ticks[layer] = fake_layer_ticks(in, layer);
                ticks += last_layer_ticks[layer];
            }
            if (fake_status(in)) {
                want_error(TKP_ERR_MODEL, TKP_INFER, p->seq);
                return 0;
            }
            memcpy(answer, p->buf, 2);
            tkp_put_u32(answer + 2, ticks);
            fake_output(in, (int8_t *)(answer + 6));
            want_frame(TKP_INFER | TKP_RESPONSE, p->seq, answer, sizeof answer);
        }
        return 0;
    case TKP_RESET:
        if (p->len != 0) {
            break;
        }
        want_frame(TKP_RESET | TKP_RESPONSE, p->seq, NULL, 0);
        return 1;
    case TKP_PROFILE:
        if (p->len != 0) {
            break;
        }
        if (!PROFILED) {
            want_error(TKP_ERR_UNSUPPORTED, TKP_PROFILE, p->seq);
        } else {
            uint8_t table[2 + 4 * TINYKD_NUM_LAYERS];
            tkp_put_u16(table, TINYKD_NUM_LAYERS);
            for (int layer = 0; layer < TINYKD_NUM_LAYERS; layer++) {
                tkp_put_u32(table + 2 + 4 * layer, last_layer_ticks[layer]);
            }
            want_frame(TKP_PROFILE | TKP_RESPONSE, p->seq, table, sizeof table);
        }
        return 0;
    default:
        want_error(TKP_ERR_TYPE, p->type, p->seq);
        return 0;
    }
    want_error(TKP_ERR_LENGTH, p->type, p->seq);
    return 0;
}

static void oracle(void)
{
    static uint8_t payload[REQUEST_CAP], input[TINYKD_INPUT_BYTES], map[(TINYKD_INPUT_BYTES + 7) / 8];
    struct tkp_parser p;
    struct tkp_loader l;
    want_len = 0;
    tkp_parser_init(&p, payload, REQUEST_CAP);
    tkp_loader_init(&l, input, map, TINYKD_INPUT_BYTES);
    want_boot();
    for (size_t i = 0; i < log_len; i++) {
        if (rx_log[i].byte < 0) {
            if (tkp_parser_busy(&p) && tkp_parser_expire(&p) == TKP_EV_TRUNCATED) {
                want_error(TKP_ERR_TRUNCATED, p.type, p.seq);
            }
            continue;
        }
        switch (tkp_parser_feed(&p, (uint8_t)rx_log[i].byte)) {
        case TKP_EV_FRAME:
            if (want_answer(&p, &l, rx_log[i].overruns)) {
                tkp_parser_init(&p, payload, REQUEST_CAP);
                tkp_loader_init(&l, input, map, TINYKD_INPUT_BYTES);
                want_boot();
            }
            break;
        case TKP_EV_BAD_CRC:
            want_error(TKP_ERR_CRC, p.type, p.seq);
            break;
        case TKP_EV_BAD_LENGTH:
            want_error(TKP_ERR_LENGTH, p.type, p.seq);
            break;
        default:
            break;
        }
    }
}

/* ---- the ring on its own, against a plain queue ------------------------------------------- */

static void ring_check(const uint8_t *data, size_t size)
{
    uint32_t asked = size ? data[0] % 70u : 16u; /* 0 .. 69 bytes: powers of two and others */
    volatile uint8_t *buf = malloc(asked ? asked : 1u);
    struct rx_ring r;
    rx_ring_init(&r, size > 1 && data[1] == 0 ? NULL : buf, asked);
    if (size > 1 && data[1] == 0) {
        check(r.cap == 0, "a ring without storage has room");
    } else {
        check((r.cap & (r.cap - 1u)) == 0 && r.cap <= asked && (asked == 0 || 2u * r.cap > asked),
              "capacity is not the largest power of two that fits");
    }
    r.head = r.tail = size > 5 ? tkp_get_u32(data + 2) : 0xFFFFFFF0u; /* test only: near the wrap */
    uint8_t queue[64];
    uint32_t first = 0, count = 0, dropped = 0;
    for (size_t i = CONFIG_BYTES; i < size; i++) {
        uint8_t b = data[i];
        if (b & 1u) {
            int ok = rx_ring_put(&r, b);
            check(ok == (count < r.cap), "put disagrees with the queue");
            if (ok) {
                queue[(first + count++) % 64u] = b;
            } else {
                dropped++;
            }
        } else {
            uint8_t got;
            int ok = rx_ring_get(&r, &got);
            check(ok == (count > 0), "get disagrees with the queue");
            if (ok) {
                check(got == queue[first], "get returned another byte");
                first = (first + 1u) % 64u;
                count--;
            }
        }
        check(rx_ring_count(&r) == count && r.dropped == dropped, "count or drops disagree");
    }
    for (uint8_t got; count; count--, first = (first + 1u) % 64u) {
        check(rx_ring_get(&r, &got) && got == queue[first], "drain lost a byte");
    }
    uint8_t got;
    check(!rx_ring_get(&r, &got) && rx_ring_count(&r) == 0, "ring not empty after the drain");
    free((void *)buf);
}

/* ---- the fuzz target ---------------------------------------------------------------------- */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint32_t caps[4] = {16u, 64u, 256u, 1024u}, bursts[4] = {1u, 8u, 64u, 300u};
    static const uint32_t pauses[4] = {0u, 0u, 64u, 8u};
    uint8_t config[CONFIG_BYTES] = {0};
    memcpy(config, data, size < CONFIG_BYTES ? size : CONFIG_BYTES);
    ring_cap = caps[config[0] & 3u];
    burst_max = bursts[(config[0] >> 2) & 3u];
    pause_one_in = pauses[(config[0] >> 4) & 3u];
    timer = (config[0] >> 6) & 1u ? BOARD_TIMER_DWT : BOARD_TIMER_SYSTICK;
    board_rng = tkp_get_u32(config + 1) | 1u;
    now = tkp_get_u32(config + 5);
    ring_start = tkp_get_u32(config + 9);
    fake_check = (config[0] & 0x80u) && (config[12] & 1u) ? 2 : 0;
    stat_check_failed += fake_check != 0;
    tape = data + (size < CONFIG_BYTES ? size : CONFIG_BYTES);
    tape_len = size < CONFIG_BYTES ? 0 : size - CONFIG_BYTES;
    if (tape_len > TAPE_MAX) {
        tape_len = TAPE_MAX;
    }
    tape_pos = 0;
    final_pause_done = 0;
    out_len = 0;
    log_len = 0;
    ring_buf = malloc(ring_cap); /* exactly the ring, so ASan sees any slot outside it */
    ring_reset();

    if (!setjmp(tape_end)) {
        for (;;) {
            (void)inference_boot(); /* what main() does before the front-end */
            frontend_run();         /* returns after a RESET: the chip restarts, its RAM starts over */
            ring_reset();
        }
    }
    oracle();
    if (out_len != want_len || memcmp(out_buf, want, out_len) != 0) {
        size_t at = 0;
        while (at < out_len && at < want_len && out_buf[at] == want[at]) {
            at++;
        }
        fprintf(stderr, "fuzz_frontend: the board sent %zu bytes, the protocol wants %zu; first "
                        "difference at byte %zu\n", out_len, want_len, at);
        check(0, "board output differs from the protocol");
    }
    free((void *)ring_buf);
    ring_check(data, size);
    return 0;
}

#ifdef TKP_FUZZ_MAIN
/* ---- a driver for toolchains without libFuzzer: inputs made of the protocol's requests ----- */

static uint64_t gen_state = 0x9E3779B97F4A7C15ull;

static uint32_t rng(void)
{
    gen_state ^= gen_state << 13;
    gen_state ^= gen_state >> 7;
    gen_state ^= gen_state << 17;
    return (uint32_t)(gen_state >> 16);
}

static uint8_t input[CONFIG_BYTES + TAPE_MAX];
static size_t input_len;

/* Append one frame, now and then damaged (a flipped bit) or cut short. */
static void put_frame(uint8_t type, const uint8_t *payload, uint16_t len, int may_damage)
{
    size_t n = tkp_encode(input + input_len, sizeof input - input_len, type, (uint8_t)rng(), payload, len);
    if (n == 0) {
        return;
    }
    if (may_damage && rng() % 16u == 0) {
        input[input_len + rng() % n] ^= (uint8_t)(1u << (rng() % 8u));
    }
    if (may_damage && rng() % 32u == 0) {
        n -= 1u + rng() % (n - 1u);
    }
    input_len += n;
}

/* A whole input under `tag` in scrambled chunks (some repeated), then INFER with its CRC. */
static void put_image(uint16_t tag)
{
    uint8_t image[TINYKD_INPUT_BYTES], msg[TKP_LOAD_HEADER_BYTES + TKP_CHUNK_MAX], infer[4];
    for (unsigned i = 0; i < sizeof image; i++) {
        image[i] = (uint8_t)rng();
    }
    uint8_t covered[TINYKD_INPUT_BYTES] = {0};
    unsigned left = sizeof image;
    for (unsigned guard = 0; left && guard < 12u; guard++) {
        uint16_t off = (uint16_t)(rng() % sizeof image);
        uint16_t n = (uint16_t)(1u + rng() % TKP_CHUNK_MAX);
        if (guard >= 8u) { /* finish: the first gap, whole */
            for (off = 0; covered[off]; off++) {
            }
            n = TKP_CHUNK_MAX;
        }
        if (off + n > (int)sizeof image) {
            n = (uint16_t)(sizeof image - off);
        }
        tkp_put_u16(msg, tag);
        tkp_put_u16(msg + 2, off);
        memcpy(msg + TKP_LOAD_HEADER_BYTES, image + off, n);
        put_frame(TKP_LOAD, msg, (uint16_t)(TKP_LOAD_HEADER_BYTES + n), 1);
        for (unsigned i = off; i < off + n; i++) {
            left -= !covered[i];
            covered[i] = 1;
        }
    }
    tkp_put_u16(infer, rng() % 8u ? tag : (uint16_t)(tag + 1u));
    tkp_put_u16(infer + 2, (uint16_t)(tkp_crc16(0xFFFFu, image, sizeof image) ^ (rng() % 8u ? 0u : 1u)));
    put_frame(TKP_INFER, infer, sizeof infer, 1);
    if (rng() % 4u == 0) {
        put_frame(TKP_INFER, infer, sizeof infer, 1); /* a resent INFER runs the same input */
    }
}

static void make_input(void)
{
    for (unsigned i = 0; i < CONFIG_BYTES; i++) {
        input[i] = (uint8_t)rng();
    }
    if (rng() % 2u) {
        tkp_put_u32(input + 5, 0xFFFFFFFFu - rng() % (3u * TIMEOUT_TICKS)); /* ticks wrap soon */
    }
    if (rng() % 2u) {
        tkp_put_u32(input + 9, 0xFFFFFFFFu - rng() % 2048u); /* ring counters wrap soon */
    }
    input_len = CONFIG_BYTES;
    size_t end = CONFIG_BYTES + rng() % TAPE_MAX;
    uint8_t payload[TKP_LOAD_HEADER_BYTES + TKP_CHUNK_MAX + 8];
    while (input_len < end && input_len + 600u < sizeof input) {
        uint32_t pick = rng() % 16u;
        uint16_t len = 0;
        if (pick < 5) {
            put_image((uint16_t)(rng() % 4u));
            continue;
        }
        if (pick == 11) { /* garbage, sometimes with sync pairs in it */
            for (uint32_t n = rng() % 40u; n--;) {
                input[input_len++] = rng() % 8u ? (uint8_t)rng() : (rng() % 2u ? TKP_SYNC0 : TKP_SYNC1);
            }
            continue;
        }
        if (pick == 12) { /* a header announcing more than the board takes, or a cut header */
            uint8_t hdr[TKP_HEADER_BYTES];
            tkp_header(hdr, (uint8_t)rng(), (uint8_t)rng(), (uint16_t)(REQUEST_CAP + rng() % 2000u));
            size_t n = rng() % 2u ? sizeof hdr : 2u + rng() % 4u;
            memcpy(input + input_len, hdr, n);
            input_len += n;
            continue;
        }
        uint8_t type;
        switch (pick) {
        case 5: type = TKP_HELLO; break;
        case 6: type = TKP_PROFILE; break;
        case 7: type = rng() % 4u ? TKP_HELLO : TKP_RESET; break;
        case 8: type = TKP_LOAD; break;
        case 9: type = TKP_INFER; break;
        default: type = (uint8_t)rng(); break; /* unknown types, responses, BOOT, ERROR */
        }
        if (type == TKP_LOAD) {
            len = (uint16_t)(rng() % (sizeof payload + 1u));
        } else if (type == TKP_INFER) {
            len = (uint16_t)(rng() % 4u ? 4u : rng() % 8u);
        } else {
            len = (uint16_t)(rng() % 4u ? 0u : rng() % 8u);
        }
        for (uint16_t i = 0; i < len; i++) {
            payload[i] = (uint8_t)rng();
        }
        if (type == TKP_LOAD && len >= 4) {
            tkp_put_u16(payload, (uint16_t)(rng() % 4u));
            tkp_put_u16(payload + 2, (uint16_t)(rng() % (TINYKD_INPUT_BYTES + 40u)));
        }
        put_frame(type, payload, len, 1);
    }
}

int main(int argc, char **argv)
{
    long runs = argc > 1 ? strtol(argv[1], NULL, 10) : 20000;
    if (argc > 2) {
        gen_state ^= (uint64_t)strtoull(argv[2], NULL, 10) * 0x2545F4914F6CDD1Dull;
    }
    for (long r = 0; r < runs; r++) {
        make_input();
        LLVMFuzzerTestOneInput(input, input_len);
    }
    printf("fuzz_frontend: %ld inputs, all invariants held%s\n", runs, PROFILED ? " (profiling build)" : "");
    printf("answers: hello %lu load %lu infer %lu reset %lu profile %lu boot %lu\n",
           stat_answers[TKP_HELLO | TKP_RESPONSE], stat_answers[TKP_LOAD | TKP_RESPONSE],
           stat_answers[TKP_INFER | TKP_RESPONSE], stat_answers[TKP_RESET | TKP_RESPONSE],
           stat_answers[TKP_PROFILE | TKP_RESPONSE], stat_answers[TKP_BOOT]);
    printf("errors:");
    for (unsigned code = 1; code <= TKP_ERR_INPUT_CRC; code++) {
        printf(" %u:%lu", code, stat_errors[code]);
    }
    printf("\nmodel check failed at boot: %lu inputs", stat_check_failed);
    printf("\nline: %lu bytes dropped by a full ring, %lu pauses\n", (unsigned long)stat_dropped,
           (unsigned long)stat_pauses);
    return 0;
}
#endif
