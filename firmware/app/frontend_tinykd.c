/*
 * The tinykd binary protocol front-end (protocol.h): boot banner + BOOT frame, then HELLO,
 * LOAD, INFER, RESET and PROFILE requests. Malformed input gets an ERROR frame and the parser
 * hunts for the next frame; nothing the host sends can stop the loop.
 */
#include <string.h>

#include "board.h"
#include "frontend.h"
#include "inference.h"
#include "model.h"
#include "protocol.h"
#include "tinykd_hello.h"

#if TINYKD_INPUT_BYTES > 65535
#error "the model input does not fit the LOAD offsets (64 KiB limit)"
#endif
/* Requests are at most one LOAD chunk: a frame damaged on the line costs its own resend only. */
#define RX_CAP (TKP_LOAD_HEADER_BYTES + TKP_CHUNK_MAX)

#define STR_(x) #x
#define STR(x) STR_(x)

static uint8_t rx_payload[RX_CAP] BOARD_SRAM2_BSS;
/* The model input, filled by LOAD frames; one bit per byte says what has been loaded. */
static uint8_t model_input[TINYKD_INPUT_BYTES] BOARD_SRAM2_BSS;
static uint8_t input_map[(TINYKD_INPUT_BYTES + 7u) / 8u] BOARD_SRAM2_BSS;
static int8_t model_output[TINYKD_OUTPUT_BYTES] BOARD_SRAM2_BSS;
static struct tkp_loader loader;

/* Frames are written in pieces so the output tensor is never copied. */
static uint16_t frame_crc;

static void frame_begin(uint8_t type, uint8_t seq, uint16_t len)
{
    uint8_t header[TKP_HEADER_BYTES];
    frame_crc = tkp_header(header, type, seq, len);
    board_uart_write(header, sizeof header);
}

static void frame_part(const void *data, uint16_t len)
{
    frame_crc = tkp_crc16(frame_crc, data, len);
    board_uart_write(data, len);
}

static void frame_end(void)
{
    uint8_t crc[TKP_CRC_BYTES];
    tkp_put_u16(crc, frame_crc);
    board_uart_write(crc, sizeof crc);
}

static void send_error(uint8_t code, uint8_t type, uint8_t seq)
{
    const uint8_t payload[3] = {code, type, seq};
    frame_begin(TKP_ERROR, seq, sizeof payload);
    frame_part(payload, sizeof payload);
    frame_end();
}

static void send_hello(uint8_t seq)
{
    uint8_t p[TINYKD_HELLO_BYTES];
    tinykd_hello(p, RX_CAP);
    frame_begin(TKP_HELLO | TKP_RESPONSE, seq, (uint16_t)sizeof p);
    frame_part(p, sizeof p);
    frame_end();
}

static void send_load(const struct tkp_parser *p)
{
    int status = tkp_loader_load(&loader, p->buf, p->len);
    if (status != 0) {
        send_error((uint8_t)status, TKP_LOAD, p->seq);
        return;
    }
    uint8_t ack[8];
    memcpy(ack, p->buf, 4); /* tag, offset */
    tkp_put_u16(ack + 4, (uint16_t)(p->len - TKP_LOAD_HEADER_BYTES));
    tkp_put_u16(ack + 6, loader.filled);
    frame_begin(TKP_LOAD | TKP_RESPONSE, p->seq, sizeof ack);
    frame_part(ack, sizeof ack);
    frame_end();
}

static void send_infer(const struct tkp_parser *p)
{
    int status = tkp_loader_ready(&loader, p->buf, p->len);
    if (status != 0) {
        send_error((uint8_t)status, TKP_INFER, p->seq);
        return;
    }
    uint8_t seq = p->seq;
    uint8_t head[6];
    memcpy(head, p->buf, 2); /* the tag, before the output so a stale answer cannot pass */
    uint32_t ticks = 0;
    if (inference_run((const int8_t *)model_input, model_output, &ticks) != 0) {
        send_error(TKP_ERR_MODEL, TKP_INFER, seq);
        return;
    }
    tkp_put_u32(head + 2, ticks);
    frame_begin(TKP_INFER | TKP_RESPONSE, seq, (uint16_t)(sizeof head + TINYKD_OUTPUT_BYTES));
    frame_part(head, sizeof head);
    frame_part(model_output, TINYKD_OUTPUT_BYTES);
    frame_end();
}

static void send_profile(uint8_t seq)
{
    uint32_t n = inference_profiled_layers();
    if (n == 0) {
        send_error(TKP_ERR_UNSUPPORTED, TKP_PROFILE, seq);
        return;
    }
    uint8_t field[4];
    frame_begin(TKP_PROFILE | TKP_RESPONSE, seq, (uint16_t)(2u + 4u * n));
    tkp_put_u16(field, (uint16_t)n);
    frame_part(field, 2);
    for (uint32_t i = 0; i < n; i++) {
        tkp_put_u32(field, inference_layer_ticks(i));
        frame_part(field, 4);
    }
    frame_end();
}

static void banner(void)
{
    static const char text[] = "\r\n" TINYKD_FIRMWARE_NAME " " TINYKD_FIRMWARE_VERSION
                               " protocol tinykd/" STR(TKP_VERSION_NUMBER) " board " BOARD_NAME " model " TINYKD_MODEL_SHA256
                               "\r\n";
    board_uart_write((const uint8_t *)text, sizeof text - 1);
    const char *timer = board_timer() == BOARD_TIMER_DWT ? "timer dwt-cyccnt\r\n" : "timer systick\r\n";
    board_uart_write((const uint8_t *)timer, (size_t)strlen(timer));
    if (inference_model_check() != 0) {
        static const char failed[] = "model check failed: a kernel needs more scratch than the export planned\r\n";
        board_uart_write((const uint8_t *)failed, sizeof failed - 1);
    }
    uint8_t version[2];
    tkp_put_u16(version, TKP_VERSION);
    frame_begin(TKP_BOOT, 0, sizeof version);
    frame_part(version, sizeof version);
    frame_end();
}

/* Returns nonzero when the chip should be reset. */
static int handle_frame(const struct tkp_parser *p)
{
    switch (p->type) {
    case TKP_HELLO:
        if (p->len != 0) {
            break;
        }
        send_hello(p->seq);
        return 0;
    case TKP_LOAD:
        send_load(p); /* the loader checks the length */
        return 0;
    case TKP_INFER:
        send_infer(p);
        return 0;
    case TKP_RESET:
        if (p->len != 0) {
            break;
        }
        frame_begin(TKP_RESET | TKP_RESPONSE, p->seq, 0);
        frame_end();
        return 1;
    case TKP_PROFILE:
        if (p->len != 0) {
            break;
        }
        send_profile(p->seq);
        return 0;
    default:
        send_error(TKP_ERR_TYPE, p->type, p->seq);
        return 0;
    }
    send_error(TKP_ERR_LENGTH, p->type, p->seq);
    return 0;
}

void frontend_run(void)
{
    static struct tkp_parser parser;
    const uint32_t timeout_ticks = board_core_hz() / 1000u * TKP_TRUNCATION_TIMEOUT_MS;
    uint32_t last_byte = board_ticks();

    tkp_parser_init(&parser, rx_payload, RX_CAP);
    tkp_loader_init(&loader, model_input, input_map, TINYKD_INPUT_BYTES);
    banner();
    for (;;) {
        uint8_t byte;
        if (!board_uart_read(&byte)) {
            if (tkp_parser_busy(&parser) && board_ticks() - last_byte > timeout_ticks) {
                if (tkp_parser_expire(&parser) == TKP_EV_TRUNCATED) {
                    send_error(TKP_ERR_TRUNCATED, parser.type, parser.seq);
                }
            }
            board_idle();
            continue;
        }
        last_byte = board_ticks();
        switch (tkp_parser_feed(&parser, byte)) {
        case TKP_EV_FRAME:
            if (handle_frame(&parser)) {
                return;
            }
            break;
        case TKP_EV_BAD_CRC:
            send_error(TKP_ERR_CRC, parser.type, parser.seq);
            break;
        case TKP_EV_BAD_LENGTH:
            send_error(TKP_ERR_LENGTH, parser.type, parser.seq);
            break;
        default:
            break;
        }
    }
}
