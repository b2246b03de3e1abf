/*
 * tinykd protocol framing (see protocol.h for the frame layout).
 *
 * Resynchronisation: after any error the parser hunts for the next 0xA5 0x5A pair, so garbage
 * between frames costs nothing and a corrupt frame costs at most itself plus, if its length
 * field was damaged, the frames its announced payload swallows; the host retries those.
 */
#include "protocol.h"

enum {
    ST_SYNC0 = 0,
    ST_SYNC1,
    ST_TYPE,
    ST_SEQ,
    ST_LEN,
    ST_PAYLOAD,
    ST_CRC
};

uint16_t tkp_crc16(uint16_t crc, const uint8_t *data, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        crc ^= (uint16_t)((uint16_t)data[i] << 8);
        for (int bit = 0; bit < 8; bit++) {
            crc = (crc & 0x8000u) ? (uint16_t)((crc << 1) ^ 0x1021u) : (uint16_t)(crc << 1);
        }
    }
    return crc;
}

static uint16_t crc_byte(uint16_t crc, uint8_t byte) { return tkp_crc16(crc, &byte, 1); }

void tkp_parser_init(struct tkp_parser *p, uint8_t *buf, uint16_t cap)
{
    p->buf = buf;
    p->cap = buf ? cap : 0;
    p->state = ST_SYNC0;
    p->type = 0;
    p->seq = 0;
    p->len = 0;
    p->pos = 0;
    p->crc = 0xFFFFu;
    p->rx_crc = 0;
}

int tkp_parser_busy(const struct tkp_parser *p) { return p->state != ST_SYNC0; }

int tkp_parser_expire(struct tkp_parser *p)
{
    /* A lone 0xA5 is as likely to be line noise as a frame start: only report a truncation
     * once the second sync byte has committed us to a frame. */
    int was_frame = p->state > ST_SYNC1;
    p->state = ST_SYNC0;
    return was_frame ? TKP_EV_TRUNCATED : TKP_EV_NONE;
}

int tkp_parser_feed(struct tkp_parser *p, uint8_t byte)
{
    switch (p->state) {
    case ST_SYNC0:
        if (byte == TKP_SYNC0) {
            p->state = ST_SYNC1;
        }
        return TKP_EV_NONE;
    case ST_SYNC1:
        if (byte == TKP_SYNC1) {
            p->state = ST_TYPE;
            p->crc = 0xFFFFu;
        } else if (byte != TKP_SYNC0) { /* A5 A5 5A: the second A5 may start the frame */
            p->state = ST_SYNC0;
        }
        return TKP_EV_NONE;
    case ST_TYPE:
        p->type = byte;
        p->crc = crc_byte(p->crc, byte);
        p->state = ST_SEQ;
        return TKP_EV_NONE;
    case ST_SEQ:
        p->seq = byte;
        p->crc = crc_byte(p->crc, byte);
        p->state = ST_LEN;
        p->pos = 0;
        p->len = 0;
        return TKP_EV_NONE;
    case ST_LEN:
        p->crc = crc_byte(p->crc, byte);
        p->len = (uint16_t)(p->len | ((uint16_t)byte << (8u * p->pos)));
        if (++p->pos < 2u) {
            return TKP_EV_NONE;
        }
        p->pos = 0;
        if (p->len > p->cap) {
            p->state = ST_SYNC0;
            return TKP_EV_BAD_LENGTH;
        }
        p->state = p->len ? ST_PAYLOAD : ST_CRC;
        return TKP_EV_NONE;
    case ST_PAYLOAD:
        p->buf[p->pos++] = byte;
        p->crc = crc_byte(p->crc, byte);
        if (p->pos == p->len) {
            p->pos = 0;
            p->state = ST_CRC;
        }
        return TKP_EV_NONE;
    case ST_CRC:
        p->rx_crc = (uint16_t)(p->pos ? (p->rx_crc | ((uint16_t)byte << 8)) : byte);
        if (++p->pos < 2u) {
            return TKP_EV_NONE;
        }
        p->pos = 0;
        p->state = ST_SYNC0;
        return p->rx_crc == p->crc ? TKP_EV_FRAME : TKP_EV_BAD_CRC;
    default:
        p->state = ST_SYNC0;
        return TKP_EV_NONE;
    }
}

void tkp_put_u16(uint8_t *out, uint16_t v)
{
    out[0] = (uint8_t)v;
    out[1] = (uint8_t)(v >> 8);
}

void tkp_put_u32(uint8_t *out, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        out[i] = (uint8_t)(v >> (8 * i));
    }
}

uint16_t tkp_get_u16(const uint8_t *in) { return (uint16_t)(in[0] | (in[1] << 8)); }

uint32_t tkp_get_u32(const uint8_t *in)
{
    return (uint32_t)in[0] | ((uint32_t)in[1] << 8) | ((uint32_t)in[2] << 16) |
           ((uint32_t)in[3] << 24);
}

uint16_t tkp_header(uint8_t out[TKP_HEADER_BYTES], uint8_t type, uint8_t seq, uint16_t len)
{
    out[0] = TKP_SYNC0;
    out[1] = TKP_SYNC1;
    out[2] = type;
    out[3] = seq;
    tkp_put_u16(&out[4], len);
    return tkp_crc16(0xFFFFu, &out[2], TKP_HEADER_BYTES - 2u);
}

size_t tkp_encode(uint8_t *out, size_t cap, uint8_t type, uint8_t seq, const uint8_t *payload,
                  uint16_t len)
{
    size_t total = (size_t)len + TKP_OVERHEAD;
    if (cap < total || (len && !payload)) {
        return 0;
    }
    uint16_t crc = tkp_header(out, type, seq, len);
    for (uint16_t i = 0; i < len; i++) {
        out[TKP_HEADER_BYTES + i] = payload[i];
    }
    crc = tkp_crc16(crc, payload, len);
    tkp_put_u16(&out[TKP_HEADER_BYTES + len], crc);
    return total;
}

size_t tkp_parser_size(void) { return sizeof(struct tkp_parser); }

void tkp_loader_init(struct tkp_loader *l, uint8_t *buf, uint8_t *map, uint16_t size)
{
    l->buf = buf;
    l->map = map;
    l->size = (buf && map) ? size : 0;
    l->tag = 0;
    l->filled = 0;
    l->has_tag = 0;
    for (uint16_t i = 0; i < (uint16_t)((l->size + 7u) / 8u); i++) {
        map[i] = 0;
    }
}

int tkp_loader_load(struct tkp_loader *l, const uint8_t *payload, uint16_t len)
{
    if (len <= TKP_LOAD_HEADER_BYTES || len > TKP_LOAD_HEADER_BYTES + TKP_CHUNK_MAX) {
        return TKP_ERR_LENGTH;
    }
    uint16_t tag = tkp_get_u16(payload);
    uint32_t offset = tkp_get_u16(payload + 2);
    uint32_t n = (uint32_t)len - TKP_LOAD_HEADER_BYTES;
    if (offset + n > l->size) {
        return TKP_ERR_LENGTH;
    }
    if (!l->has_tag || tag != l->tag) {
        for (uint16_t i = 0; i < (uint16_t)((l->size + 7u) / 8u); i++) {
            l->map[i] = 0;
        }
        l->tag = tag;
        l->filled = 0;
        l->has_tag = 1;
    }
    for (uint32_t i = 0; i < n; i++) {
        uint32_t at = offset + i;
        uint8_t bit = (uint8_t)(1u << (at % 8u));
        l->buf[at] = payload[TKP_LOAD_HEADER_BYTES + i];
        if (!(l->map[at / 8u] & bit)) {
            l->map[at / 8u] = (uint8_t)(l->map[at / 8u] | bit);
            l->filled++;
        }
    }
    return 0;
}

int tkp_loader_ready(const struct tkp_loader *l, const uint8_t *payload, uint16_t len)
{
    if (len != TKP_INFER_REQUEST_BYTES) {
        return TKP_ERR_LENGTH;
    }
    if (!l->has_tag || l->tag != tkp_get_u16(payload) || l->filled != l->size || l->size == 0) {
        return TKP_ERR_INCOMPLETE;
    }
    if (tkp_crc16(0xFFFFu, l->buf, l->size) != tkp_get_u16(payload + 2)) {
        return TKP_ERR_INPUT_CRC;
    }
    return 0;
}

size_t tkp_loader_size(void) { return sizeof(struct tkp_loader); }
