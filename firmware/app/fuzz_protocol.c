/*
 * Fuzz target for the frame parser (host only).
 *
 * LLVMFuzzerTestOneInput checks, for any byte string: the parser never touches memory outside
 * its buffer (sanitizers), reports only known events, every reported frame carries a CRC that
 * matches its content, and after the input plus an inter-byte timeout a well-formed frame is
 * received intact (resynchronisation always recovers). Every LOAD and INFER frame the parser
 * delivers also goes to an input loader (tkp_loader_*) over an exact-size heap buffer: it never
 * writes outside it, its count of loaded bytes matches its map, it only lets an INFER run on a
 * buffer wholly loaded under the INFER's tag with the INFER's CRC, a rejected LOAD changes
 * nothing, and a whole input then loaded in scrambled, repeated chunks is accepted byte-exact.
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

static unsigned loaded_bits(const struct tkp_loader *l)
{
    unsigned n = 0;
    for (unsigned i = 0; i < l->size; i++) {
        n += (l->map[i / 8u] >> (i % 8u)) & 1u;
    }
    return n;
}

/* One frame the parser delivered, applied to the loader as the firmware would. */
static void loader_frame(struct tkp_loader *l, uint8_t type, const uint8_t *payload, uint16_t len)
{
    if (type == TKP_LOAD) {
        uint16_t old_tag = l->tag, old_filled = l->filled;
        uint8_t old_has = l->has_tag;
        int st = tkp_loader_load(l, payload, len);
        check(st == 0 || st == TKP_ERR_LENGTH, "unknown status from load");
        if (st != 0) {
            check(l->tag == old_tag && l->filled == old_filled && l->has_tag == old_has,
                  "a rejected LOAD changed the loader");
        } else {
            uint16_t off = tkp_get_u16(payload + 2), n = (uint16_t)(len - TKP_LOAD_HEADER_BYTES);
            check(l->has_tag && l->tag == tkp_get_u16(payload), "LOAD did not take its tag");
            check(memcmp(l->buf + off, payload + TKP_LOAD_HEADER_BYTES, n) == 0, "LOAD data not stored");
        }
        check(l->filled <= l->size && l->filled == loaded_bits(l), "loaded count disagrees with the map");
    } else if (type == TKP_INFER) {
        int st = tkp_loader_ready(l, payload, len);
        check(st == 0 || st == TKP_ERR_LENGTH || st == TKP_ERR_INCOMPLETE || st == TKP_ERR_INPUT_CRC,
              "unknown status from ready");
        if (st == 0) {
            check(l->has_tag && l->tag == tkp_get_u16(payload) && l->filled == l->size && l->size > 0,
                  "INFER allowed on an incomplete buffer or another tag");
            check(tkp_crc16(0xFFFFu, l->buf, l->size) == tkp_get_u16(payload + 2),
                  "INFER allowed with another CRC");
        }
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
    /* The input buffer and its map, also exact-size heap blocks: 0 .. 600 bytes. */
    uint16_t in_size = (uint16_t)(size > 1 ? (data[1] | (data[0] << 8)) % 601u : 37u);
    uint8_t *in_buf = malloc(in_size ? in_size : 1u);
    uint8_t *in_map = malloc(in_size ? (in_size + 7u) / 8u : 1u);
    struct tkp_loader l;
    tkp_loader_init(&l, in_buf, in_map, in_size);
    check(l.filled == 0 && !l.has_tag && loaded_bits(&l) == 0, "loader not empty after init");

    for (size_t i = 0; i < size; i++) {
        int ev = tkp_parser_feed(&p, data[i]);
        check(ev >= TKP_EV_NONE && ev <= TKP_EV_BAD_LENGTH, "unknown event from feed");
        if (ev == TKP_EV_FRAME) {
            check(p.len <= cap, "frame longer than the buffer");
            uint8_t hdr[TKP_HEADER_BYTES];
            uint16_t crc = tkp_header(hdr, p.type, p.seq, p.len);
            crc = tkp_crc16(crc, p.buf, p.len);
            check(crc == tkp_get_u16(&data[i - 1]), "frame accepted with a wrong CRC");
            loader_frame(&l, p.type, p.buf, p.len);
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

    /* Recovery of the loader: a whole input under a fresh tag, in scrambled chunks of 1 ..
     * TKP_CHUNK_MAX bytes with repeats, then an INFER with its CRC runs on exactly that input. */
    if (in_size) {
        uint8_t want[600], msg[TKP_LOAD_HEADER_BYTES + TKP_CHUNK_MAX], infer[TKP_INFER_REQUEST_BYTES];
        uint16_t tag = (uint16_t)(l.tag + 1u);
        uint32_t x = (uint32_t)size * 2654435761u + 1u;
        for (uint16_t i = 0; i < in_size; i++) {
            want[i] = (uint8_t)(i * 13u + size);
        }
        tkp_put_u16(infer, tag);
        tkp_put_u16(infer + 2, tkp_crc16(0xFFFFu, want, in_size));
        for (unsigned round = 0; l.tag != tag || l.filled < in_size; round++) {
            check(round < 100000u, "loader never filled");
            x = x * 1664525u + 1013904223u;
            uint16_t off = (uint16_t)((x >> 8) % in_size);
            uint16_t n = (uint16_t)(1u + (x >> 20) % TKP_CHUNK_MAX);
            if (off + n > in_size) {
                n = (uint16_t)(in_size - off);
            }
            check(l.tag != tag || tkp_loader_ready(&l, infer, sizeof infer) == TKP_ERR_INCOMPLETE,
                  "INFER allowed before the buffer was whole");
            tkp_put_u16(msg, tag);
            tkp_put_u16(msg + 2, off);
            memcpy(msg + TKP_LOAD_HEADER_BYTES, want + off, n);
            check(tkp_loader_load(&l, msg, (uint16_t)(TKP_LOAD_HEADER_BYTES + n)) == 0, "valid LOAD refused");
        }
        check(tkp_loader_ready(&l, infer, sizeof infer) == 0, "whole buffer refused");
        check(memcmp(l.buf, want, in_size) == 0, "loaded buffer differs from the input");
        tkp_put_u16(infer, (uint16_t)(tag + 1u));
        check(tkp_loader_ready(&l, infer, sizeof infer) == TKP_ERR_INCOMPLETE, "INFER of another tag allowed");
        tkp_put_u16(infer, tag);
        tkp_put_u16(infer + 2, (uint16_t)(tkp_crc16(0xFFFFu, want, in_size) ^ 1u));
        check(tkp_loader_ready(&l, infer, sizeof infer) == TKP_ERR_INPUT_CRC, "INFER with a wrong CRC allowed");
    }
    free(in_map);
    free(in_buf);
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
            } else if (pick == 3 && size + TKP_LOAD_HEADER_BYTES + 64u + TKP_OVERHEAD <= want) {
                /* a LOAD (small tag, offset near the input sizes) or an INFER naming a tag */
                uint8_t payload[TKP_LOAD_HEADER_BYTES + 64u];
                int load = (int)(rng() % 3u);
                uint16_t len = load ? (uint16_t)(rng() % (sizeof payload + 1u)) : TKP_INFER_REQUEST_BYTES;
                for (uint16_t i = 0; i < len; i++) {
                    payload[i] = (uint8_t)rng();
                }
                if (len >= 4) {
                    tkp_put_u16(payload, (uint16_t)(rng() % 3u));
                    if (load) {
                        tkp_put_u16(payload + 2, (uint16_t)(rng() % 640u));
                    }
                }
                size += tkp_encode(&input[size], sizeof input - size, load ? TKP_LOAD : TKP_INFER,
                                   (uint8_t)rng(), payload, len);
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
