/* Receive ring (rx_ring.h): pure C11, no board dependency. */
#include "rx_ring.h"

#include <stddef.h>

void rx_ring_init(struct rx_ring *r, volatile uint8_t *buf, uint32_t cap)
{
    if (buf == NULL) {
        cap = 0;
    }
    while (cap & (cap - 1u)) {
        cap &= cap - 1u; /* clear the lowest set bit until one is left */
    }
    r->buf = buf;
    r->cap = cap;
    r->head = 0;
    r->tail = 0;
    r->dropped = 0;
}

int rx_ring_put(struct rx_ring *r, uint8_t byte)
{
    uint32_t head = r->head;
    if (head - r->tail >= r->cap) {
        r->dropped++;
        return 0;
    }
    r->buf[head & (r->cap - 1u)] = byte;
    r->head = head + 1u;
    return 1;
}

int rx_ring_get(struct rx_ring *r, uint8_t *out)
{
    uint32_t tail = r->tail;
    if (tail == r->head) {
        return 0;
    }
    *out = r->buf[tail & (r->cap - 1u)];
    r->tail = tail + 1u;
    return 1;
}

uint32_t rx_ring_count(const struct rx_ring *r) { return r->head - r->tail; }
