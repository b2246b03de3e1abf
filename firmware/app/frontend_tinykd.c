/*
 * The tinykd binary protocol front-end (protocol.h): boot banner + BOOT frame, then HELLO,
 * INFER, RESET and PROFILE requests. Malformed input gets an ERROR frame and the parser hunts
 * for the next frame; nothing the host sends can stop the loop.
 */
#include <string.h>

#include "board.h"
#include "frontend.h"
#include "inference.h"
#include "model.h"
#include "protocol.h"
#include "tinykd_hello.h"

#define RX_CAP (TINYKD_INPUT_BYTES > 64 ? TINYKD_INPUT_BYTES : 64)
#if RX_CAP > 65535
#error "the model input does not fit a protocol frame (64 KiB payload limit)"
#endif

/* Request payloads (the model input) are received straight into this buffer. */
static uint8_t rx_payload[RX_CAP] BOARD_SRAM2_BSS;
static int8_t model_output[TINYKD_OUTPUT_BYTES] BOARD_SRAM2_BSS;

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

static void send_infer(uint8_t seq)
{
    uint32_t ticks = 0;
    int status = inference_run((const int8_t *)rx_payload, model_output, &ticks);
    if (status != 0) {
        send_error(TKP_ERR_MODEL, TKP_INFER, seq);
        return;
    }
    uint8_t head[4];
    tkp_put_u32(head, ticks);
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
                               " protocol tinykd/1 board " BOARD_NAME " model " TINYKD_MODEL_SHA256
                               "\r\n";
    board_uart_write((const uint8_t *)text, sizeof text - 1);
    const char *timer = board_timer() == BOARD_TIMER_DWT ? "timer dwt-cyccnt\r\n" : "timer systick\r\n";
    board_uart_write((const uint8_t *)timer, (size_t)strlen(timer));
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
    case TKP_INFER:
        if (p->len != TINYKD_INPUT_BYTES) {
            break;
        }
        send_infer(p->seq);
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
