/*
 * tinykd UART protocol, version 2: framing, CRC, a byte-at-a-time frame parser and the chunked
 * input loader.
 *
 * Pure C11 with no board dependency: the firmware uses it, and the host builds it (shared
 * library for the Python tests, fuzz driver) to test exactly the code that runs on the board.
 * src/tinykd/device/protocol.py is the host-side twin; keep the two in step.
 *
 * Frame (all multi-byte fields little-endian):
 *
 *   offset  size  field
 *   0       1     sync 0xA5
 *   1       1     sync 0x5A
 *   2       1     type     (enum tkp_type)
 *   3       1     seq      request sequence number, echoed in the response
 *   4       2     length   payload bytes, 0 .. parser capacity
 *   6       len   payload
 *   6+len   2     CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF) over type, seq, length, payload
 *
 * Requests have the top bit of `type` clear, responses set (request | 0x80). The device also
 * sends two unsolicited frames: BOOT once after every reset, ERROR for a malformed frame.
 *
 * Version 2 moves the input tensor in LOAD chunks of at most TKP_CHUNK_MAX bytes, each one
 * acknowledged, so line noise costs the resend of one small frame instead of the whole tensor;
 * INFER then runs the model on the loaded buffer. Each image has its own 16-bit tag: a LOAD with
 * a new tag starts a new buffer, and an INFER is refused unless every byte of the buffer was
 * loaded under its tag and the buffer's CRC is the one it names.
 */
#ifndef TINYKD_PROTOCOL_H
#define TINYKD_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

#define TKP_VERSION_NUMBER 2 /* also in the boot banner: "protocol tinykd/2" */
#define TKP_VERSION ((uint16_t)TKP_VERSION_NUMBER)
#define TKP_SYNC0 0xA5u
#define TKP_SYNC1 0x5Au
#define TKP_HEADER_BYTES 6u
#define TKP_CRC_BYTES 2u
#define TKP_OVERHEAD (TKP_HEADER_BYTES + TKP_CRC_BYTES)
#define TKP_RESPONSE 0x80u
/* Largest LOAD data per frame, and the LOAD / INFER request headers (u16 tag, u16 offset /
 * u16 tag, u16 CRC-16 of the whole input). */
#define TKP_CHUNK_MAX 256u
#define TKP_LOAD_HEADER_BYTES 4u
#define TKP_INFER_REQUEST_BYTES 4u
/* A frame whose bytes stop arriving for this long is reported as truncated (device side). */
#define TKP_TRUNCATION_TIMEOUT_MS 300u

enum tkp_type {
    TKP_HELLO = 0x01,   /* ()            -> HELLO|0x80: device and model description    */
    TKP_INFER = 0x02,   /* (u16 tag, u16 input CRC) -> INFER|0x80: u16 tag, u32 ticks,
                                            int8 output; the model runs on the LOAD buffer */
    TKP_RESET = 0x03,   /* ()            -> RESET|0x80, then a system reset and a BOOT     */
    TKP_PROFILE = 0x04, /* ()            -> PROFILE|0x80: u16 n, u32 ticks[n] of the last
                                            inference per layer (profiling builds only)   */
    TKP_LOAD = 0x05,    /* (u16 tag, u16 offset, data[1..TKP_CHUNK_MAX]) -> LOAD|0x80: u16 tag,
                                            u16 offset, u16 length, u16 bytes loaded for tag */
    TKP_BOOT = 0x70,    /* unsolicited after reset: u16 protocol version                   */
    TKP_ERROR = 0x7F    /* unsolicited: u8 code, u8 offending type, u8 offending seq      */
};

enum tkp_error {
    TKP_ERR_CRC = 1,         /* CRC mismatch: the frame was dropped                          */
    TKP_ERR_LENGTH = 2,      /* length above the parser capacity or wrong for the type       */
    TKP_ERR_TYPE = 3,        /* unknown request type                                         */
    TKP_ERR_TRUNCATED = 4,   /* bytes stopped arriving in the middle of a frame              */
    TKP_ERR_MODEL = 5,       /* the model's invoke function failed                           */
    TKP_ERR_UNSUPPORTED = 6, /* request known but not built into this firmware               */
    TKP_ERR_INCOMPLETE = 7,  /* INFER: the buffer is not wholly loaded under the named tag    */
    TKP_ERR_INPUT_CRC = 8    /* INFER: the loaded buffer's CRC is not the one named           */
};

/* What feeding one byte produced. */
enum tkp_event {
    TKP_EV_NONE = 0,       /* byte consumed, nothing complete yet                          */
    TKP_EV_FRAME = 1,      /* a valid frame is in parser->type/seq/len/buf                  */
    TKP_EV_BAD_CRC = 2,    /* a complete frame failed its CRC; parser is hunting for sync   */
    TKP_EV_BAD_LENGTH = 3, /* header announced more than `cap` bytes; parser is hunting      */
    TKP_EV_TRUNCATED = 4   /* tkp_parser_expire() found a frame in progress and dropped it   */
};

/* Parser state; treat fields as read-only outside protocol.c except type/seq/len/buf after
 * TKP_EV_FRAME (and type/seq after an error event: the offending frame's header, if read). */
struct tkp_parser {
    uint8_t *buf;    /* payload storage supplied by the caller                               */
    uint16_t cap;    /* its size in bytes: the largest payload accepted                       */
    uint8_t state;   /* internal                                                             */
    uint8_t type;    /* type of the frame being received / just received                     */
    uint8_t seq;     /* its sequence number                                                  */
    uint16_t len;    /* its payload length                                                   */
    uint16_t pos;    /* internal: bytes of the current field received                        */
    uint16_t crc;    /* internal: running CRC                                                */
    uint16_t rx_crc; /* internal: received CRC                                               */
};

/* CRC-16/CCITT-FALSE, continuing from `crc` (start with 0xFFFF). */
uint16_t tkp_crc16(uint16_t crc, const uint8_t *data, size_t n);

/* Reset `p` to hunt for a frame, storing payloads of up to `cap` bytes in `buf`. */
void tkp_parser_init(struct tkp_parser *p, uint8_t *buf, uint16_t cap);

/* Feed one received byte; returns an enum tkp_event. Never reads or writes outside buf[0..cap). */
int tkp_parser_feed(struct tkp_parser *p, uint8_t byte);

/* Nonzero while a frame has begun (sync seen) but not yet ended. */
int tkp_parser_busy(const struct tkp_parser *p);

/* Inter-byte timeout expired: drop a frame in progress (TKP_EV_TRUNCATED) or do nothing. */
int tkp_parser_expire(struct tkp_parser *p);

/* Write the 6-byte header of a frame into `out` and return the CRC state after it; continue
 * with tkp_crc16(state, payload, len) and append the result with tkp_put_u16(). */
uint16_t tkp_header(uint8_t out[TKP_HEADER_BYTES], uint8_t type, uint8_t seq, uint16_t len);

/* Encode a whole frame into `out` (capacity `cap`): returns its size, or 0 if it does not fit. */
size_t tkp_encode(uint8_t *out, size_t cap, uint8_t type, uint8_t seq, const uint8_t *payload,
                  uint16_t len);

/* Little-endian field helpers shared by the firmware and the host tests. */
void tkp_put_u16(uint8_t *out, uint16_t v);
void tkp_put_u32(uint8_t *out, uint32_t v);
uint16_t tkp_get_u16(const uint8_t *in);
uint32_t tkp_get_u32(const uint8_t *in);

/* sizeof(struct tkp_parser), for hosts that allocate it opaquely (Python ctypes). */
size_t tkp_parser_size(void);

/* The input buffer the LOAD frames fill. `map` holds one bit per buffer byte (set = loaded
 * under `tag`), so chunks may come in any order, repeat, or overlap; `filled` counts the set
 * bits. Fields are read-only outside protocol.c. */
struct tkp_loader {
    uint8_t *buf;    /* the input tensor, `size` bytes                                        */
    uint8_t *map;    /* (size + 7) / 8 bytes                                                  */
    uint16_t size;   /* input bytes                                                           */
    uint16_t tag;    /* tag of the buffer being loaded (valid when has_tag)                   */
    uint16_t filled; /* bytes loaded under `tag`                                              */
    uint8_t has_tag; /* 0 until the first LOAD after init                                     */
};

/* Empty loader over `buf` (`size` bytes) and `map` ((size + 7) / 8 bytes). */
void tkp_loader_init(struct tkp_loader *l, uint8_t *buf, uint8_t *map, uint16_t size);

/* Apply a LOAD payload: 0 when stored (a new tag forgets the old buffer first), else an enum
 * tkp_error (TKP_ERR_LENGTH: no data, more than TKP_CHUNK_MAX, or past the end of the buffer;
 * the buffer is then unchanged). */
int tkp_loader_load(struct tkp_loader *l, const uint8_t *payload, uint16_t len);

/* May an INFER with this payload run? 0 if the buffer is wholly loaded under its tag and has its
 * CRC, else TKP_ERR_LENGTH, TKP_ERR_INCOMPLETE or TKP_ERR_INPUT_CRC. The buffer stays loaded, so
 * a resent INFER (its answer was lost) runs the same input again. */
int tkp_loader_ready(const struct tkp_loader *l, const uint8_t *payload, uint16_t len);

/* sizeof(struct tkp_loader), for the Python ctypes tests. */
size_t tkp_loader_size(void);

#endif /* TINYKD_PROTOCOL_H */
