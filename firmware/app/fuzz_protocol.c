/*
 * Fuzz target for the frame parser (host only).
 *
 * LLVMFuzzerTestOneInput checks, for any byte string: the parser never touches memory outside
 * its buffer (sanitizers), reports only known events, every reported frame carries a CRC that
 * matches its content, and after the input plus an inter-byte timeout a well-formed frame is
 * received intact (resynchronisation always recovers).
 *
 * Built with clang -fsanitize=fuzzer it is a libFuzzer target; built with -DTKP_FUZZ_MAIN it has
 * its own main() that feeds N pseudo-random inputs biased towards the parser's structure
 * (sync pairs, plausible lengths, valid frames with flipped bits), for toolchains without
 * libFuzzer (Debian's gcc).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol.h"

#define FUZZ_CAP 300u

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_protocol: invariant violated: %s\n", what);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The buffer is exactly `cap` bytes on the heap so ASan catches any overrun. */
    uint16_t cap = (uint16_t)(size ? data[0] % (FUZZ_CAP + 1u) : FUZZ_CAP);
    uint8_t *buf = malloc(cap ? cap : 1u);
    struct tkp_parser p;
    tkp_parser_init(&p, cap ? buf : NULL, cap);

    for (size_t i = 0; i < size; i++) {
        int ev = tkp_parser_feed(&p, data[i]);
        check(ev >= TKP_EV_NONE && ev <= TKP_EV_BAD_LENGTH, "unknown event from feed");
        if (ev == TKP_EV_FRAME) {
            check(p.len <= cap, "frame longer than the buffer");
            uint8_t hdr[TKP_HEADER_BYTES];
            uint16_t crc = tkp_header(hdr, p.type, p.seq, p.len);
            crc = tkp_crc16(crc, p.buf, p.len);
            check(crc == tkp_get_u16(&data[i - 1]), "frame accepted with a wrong CRC");
        }
    }
    int ev = tkp_parser_expire(&p);
    check(ev == TKP_EV_NONE || ev == TKP_EV_TRUNCATED, "unknown event from expire");
    check(!tkp_parser_busy(&p), "parser busy after expire");

    /* Recovery: a valid frame right after the timeout must come through unchanged. */
    uint8_t payload[FUZZ_CAP];
    uint16_t len = (uint16_t)(size % (cap + 1u));
    for (uint16_t i = 0; i < len; i++) {
        payload[i] = (uint8_t)(i * 37u + size);
    }
    uint8_t frame[FUZZ_CAP + TKP_OVERHEAD];
    size_t n = tkp_encode(frame, sizeof frame, 0x02, (uint8_t)size, payload, len);
    check(n == len + TKP_OVERHEAD, "encode failed");
    int frames = 0;
    for (size_t i = 0; i < n; i++) {
        ev = tkp_parser_feed(&p, frame[i]);
        if (ev == TKP_EV_FRAME) {
            frames++;
            check(i == n - 1, "frame completed early");
            check(p.type == 0x02 && p.seq == (uint8_t)size && p.len == len, "header changed");
            check(len == 0 || memcmp(p.buf, payload, len) == 0, "payload changed");
        } else {
            check(ev == TKP_EV_NONE, "error event on a valid frame");
        }
    }
    check(frames == 1, "valid frame after resync not received");
    free(buf);
    return 0;
}

#ifdef TKP_FUZZ_MAIN
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint32_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

int main(int argc, char **argv)
{
    long runs = argc > 1 ? strtol(argv[1], NULL, 10) : 100000;
    if (argc > 2) {
        rng_state ^= (uint64_t)strtoull(argv[2], NULL, 10) * 0x2545F4914F6CDD1Dull;
    }
    static uint8_t input[4096];
    for (long r = 0; r < runs; r++) {
        size_t size = 0, want = rng() % sizeof input;
        input[size++] = (uint8_t)rng();
        while (size < want) {
            uint32_t pick = rng() % 8u;
            if (pick == 0 && size + 2 <= want) { /* a sync pair */
                input[size++] = TKP_SYNC0;
                input[size++] = TKP_SYNC1;
            } else if (pick == 1 && size + 6 <= want) { /* a header with a plausible length */
                uint16_t len = (uint16_t)(rng() % (FUZZ_CAP + 8u));
                tkp_header(&input[size], (uint8_t)rng(), (uint8_t)rng(), len);
                size += 6;
            } else if (pick == 2 && size + FUZZ_CAP + TKP_OVERHEAD <= want) { /* a valid frame, */
                uint8_t payload[FUZZ_CAP];                                 /* maybe damaged */
                uint16_t len = (uint16_t)(rng() % (FUZZ_CAP + 1u));
                for (uint16_t i = 0; i < len; i++) {
                    payload[i] = (uint8_t)rng();
                }
                size_t n = tkp_encode(&input[size], sizeof input - size, (uint8_t)rng(),
                                      (uint8_t)rng(), payload, len);
                if (n && rng() % 2u) {
                    input[size + rng() % n] ^= (uint8_t)(1u << (rng() % 8u));
                }
                if (n && rng() % 4u == 0) {
                    n -= rng() % n; /* truncated */
                }
                size += n;
            } else {
                input[size++] = (uint8_t)rng();
            }
        }
        LLVMFuzzerTestOneInput(input, size);
    }
    printf("fuzz_protocol: %ld inputs, all invariants held\n", runs);
    return 0;
}
#endif
