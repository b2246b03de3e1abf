/*
 * A single-producer, single-consumer byte ring: a receive interrupt puts bytes in, the main loop
 * takes them out, with no lock. Boards use it for the UART (bytes arriving during an inference
 * are kept); the host fuzzer (firmware/fuzz/fuzz_frontend.c) builds the very same code.
 *
 * `head` and `tail` count the bytes ever put and taken and wrap at 2^32; a capacity that is a
 * power of two divides 2^32, so `head % cap` stays the right slot across the wrap and
 * `head - tail` is the fill level. Each counter is written by one side only, and the slot is
 * written before `head` moves past it (volatile accesses keep that order; a single core needs no
 * barrier), so the consumer never reads a slot the producer has not finished.
 */
#ifndef TINYKD_RX_RING_H
#define TINYKD_RX_RING_H

#include <stdint.h>

struct rx_ring {
    volatile uint8_t *buf;     /* `cap` bytes                                                */
    uint32_t cap;              /* a power of two, or 0                                       */
    volatile uint32_t head;    /* bytes put: written by the producer only                    */
    volatile uint32_t tail;    /* bytes taken: written by the consumer only                  */
    volatile uint32_t dropped; /* bytes refused because the ring was full (producer only)    */
};

/* An empty ring over `buf`, using the largest power of two <= `cap` bytes of it. */
void rx_ring_init(struct rx_ring *r, volatile uint8_t *buf, uint32_t cap);

/* Producer (interrupt): store `byte`; 1 if stored, 0 if the ring was full (counted in dropped). */
int rx_ring_put(struct rx_ring *r, uint8_t byte);

/* Consumer (main loop): take the oldest byte into *out; 1 if there was one, else 0. */
int rx_ring_get(struct rx_ring *r, uint8_t *out);

/* Bytes waiting (either side; a snapshot while the other side runs). */
uint32_t rx_ring_count(const struct rx_ring *r);

#endif /* TINYKD_RX_RING_H */
