/*
 * The semihosting bulk front-end (firmware flavour `semihost`, image tinykd-semihost.elf): the
 * QEMU board reads the test images from a host file and writes its answers to another, at memory
 * speed instead of byte by byte through the emulated USART1. It links the same board support,
 * inference_run() and model objects as the UART firmware; only this file replaces
 * frontend_tinykd.c. Semihosting needs a debugger (QEMU's `-semihosting-config
 * enable=on,target=native`): this image is for the emulator only and is never flashed to a board.
 *
 * Files, in the emulator's working directory (all integers little-endian; CRC = CRC-16/CCITT-FALSE
 * as the UART protocol's, src/tinykd/device/bulk.py is the host side):
 *
 *   tinykd-bulk.in    written by the host
 *     0   char[4] "TKBI"   4 u32 image count   8 u32 input bytes per image
 *     12  u16 version (1)  14 u16 CRC of bytes 0..13
 *     16  count records:   int8 input[input bytes], u16 CRC of the input
 *
 *   tinykd-bulk.out   written by the device
 *     0   char[4] "TKBO"   4 u16 version (1)   6 u16 n = HELLO payload bytes   8 HELLO payload
 *     8+n one record per image, in input order: u32 ticks, int8 output[output bytes],
 *         u16 CRC of ticks and output
 *
 * On success the device ends the emulation with SYS_EXIT ApplicationExit (QEMU exit status 0);
 * on a bad input file (magic, version, header CRC, input size, length, a record's CRC) or a failed
 * invoke it prints one `tinykd-semihost: error: ...` line on the semihosting console and exits
 * with RunTimeErrorUnknown (status 1). A fault resets the chip, which QEMU's -no-reboot ends.
 */
#include <string.h>

#include "board.h"
#include "frontend.h"
#include "inference.h"
#include "model.h"
#include "protocol.h"
#include "semihost.h"
#include "tinykd_hello.h"

#define BULK_VERSION 1u
#define IN_NAME "tinykd-bulk.in"
#define OUT_NAME "tinykd-bulk.out"
#define IN_HEADER_BYTES 16u
#define IN_RECORD_BYTES (TINYKD_INPUT_BYTES + TKP_CRC_BYTES)
#define OUT_HEADER_BYTES 8u
#define OUT_RECORD_BYTES (4u + TINYKD_OUTPUT_BYTES + TKP_CRC_BYTES)

_Static_assert(TINYKD_HELLO_BYTES <= 0xFFFFu, "HELLO payload above 64 KiB");

/* The same buffers (size, SRAM2, 16-byte alignment) as the UART front-end hands the model. */
static uint8_t in_record[IN_RECORD_BYTES] BOARD_SRAM2_BSS;
static int8_t model_output[TINYKD_OUTPUT_BYTES] BOARD_SRAM2_BSS;
static uint8_t out_record[OUT_RECORD_BYTES] BOARD_SRAM2_BSS;
/* Table-driven CRC-16/CCITT-FALSE: ~6 instructions a byte instead of ~40 (protocol.c's bitwise
 * loop), so checking a 32x32x3 image costs well under 1 % of an inference. */
static uint16_t crc_table[256] BOARD_SRAM2_BSS;

static void crc_table_init(void)
{
    for (unsigned i = 0; i < 256u; i++) {
        const uint8_t byte = (uint8_t)i;
        crc_table[i] = tkp_crc16(0, &byte, 1);
    }
}

static uint16_t crc16(uint16_t crc, const uint8_t *data, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        crc = (uint16_t)((uint16_t)(crc << 8) ^ crc_table[(uint8_t)((crc >> 8) ^ data[i])]);
    }
    return crc;
}

/* One error line, built without printf. */
static char message[160];
static size_t message_len;

static void say(const char *text)
{
    size_t n = strlen(text);
    if (n > sizeof message - 1u - message_len) {
        n = sizeof message - 1u - message_len;
    }
    memcpy(message + message_len, text, n);
    message_len += n;
    message[message_len] = '\0';
}

static void say_u32(uint32_t v)
{
    char digits[11];
    size_t n = sizeof digits - 1u;
    digits[n] = '\0';
    do {
        digits[--n] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v != 0u);
    say(digits + n);
}

static void fail_begin(void)
{
    message_len = 0;
    say("tinykd-semihost: error: ");
}

static void fail_end(void) __attribute__((noreturn));
static void fail_end(void)
{
    say("\n");
    semihost_write0(message);
    semihost_exit(SEMIHOST_EXIT_FAILURE);
}

static void fail(const char *text) __attribute__((noreturn));
static void fail(const char *text)
{
    fail_begin();
    say(text);
    fail_end();
}

static void fail_image(uint32_t index, const char *text) __attribute__((noreturn));
static void fail_image(uint32_t index, const char *text)
{
    fail_begin();
    say("image ");
    say_u32(index);
    say(": ");
    say(text);
    fail_end();
}

static void write_all(int32_t handle, const void *data, size_t n)
{
    if (semihost_write(handle, data, n) != 0u) {
        fail("cannot write " OUT_NAME " (disk full?)");
    }
}

static void write_header(int32_t out)
{
    uint8_t head[OUT_HEADER_BYTES + TINYKD_HELLO_BYTES];
    memcpy(head, "TKBO", 4);
    tkp_put_u16(head + 4, BULK_VERSION);
    tkp_put_u16(head + 6, (uint16_t)TINYKD_HELLO_BYTES);
    tinykd_hello(head + OUT_HEADER_BYTES, (uint16_t)(TINYKD_INPUT_BYTES > 0xFFFFu ? 0xFFFFu : TINYKD_INPUT_BYTES));
    write_all(out, head, sizeof head);
}

/* Validate the input header against the model and the file's length; returns the image count. */
static uint32_t read_header(int32_t in)
{
    uint8_t head[IN_HEADER_BYTES];
    int32_t length = semihost_flen(in);
    if (length < (int32_t)IN_HEADER_BYTES || semihost_read(in, head, sizeof head) != 0u) {
        fail(IN_NAME " is shorter than its 16-byte header");
    }
    if (memcmp(head, "TKBI", 4) != 0) {
        fail(IN_NAME " does not start with TKBI: not a tinykd bulk input file");
    }
    if (tkp_crc16(0xFFFFu, head, 14) != tkp_get_u16(head + 14)) {
        fail(IN_NAME ": header CRC mismatch (corrupt file)");
    }
    if (tkp_get_u16(head + 12) != BULK_VERSION) {
        fail_begin();
        say(IN_NAME " has format version ");
        say_u32(tkp_get_u16(head + 12));
        say("; this firmware reads version ");
        say_u32(BULK_VERSION);
        fail_end();
    }
    const uint32_t count = tkp_get_u32(head + 4);
    const uint32_t input_bytes = tkp_get_u32(head + 8);
    if (input_bytes != TINYKD_INPUT_BYTES) {
        fail_begin();
        say("the input images are ");
        say_u32(input_bytes);
        say(" bytes; the model takes ");
        say_u32(TINYKD_INPUT_BYTES);
        fail_end();
    }
    const uint32_t body = (uint32_t)length - IN_HEADER_BYTES;
    if (body % IN_RECORD_BYTES != 0u || body / IN_RECORD_BYTES != count) {
        fail_begin();
        say(IN_NAME " holds ");
        say_u32(body / IN_RECORD_BYTES);
        say(body % IN_RECORD_BYTES ? " whole images and a partial one" : " images");
        say("; its header announces ");
        say_u32(count);
        say(" (truncated or padded file)");
        fail_end();
    }
    return count;
}

void frontend_run(void)
{
    crc_table_init();
    const int32_t out = semihost_open(OUT_NAME, sizeof OUT_NAME - 1u, SEMIHOST_OPEN_WB);
    if (out < 0) {
        fail("cannot create " OUT_NAME " in the emulator's working directory");
    }
    write_header(out);
    if (inference_model_check() != 0) { /* the header's HELLO says so too */
        fail("tinykd_model_check() failed at boot: a kernel needs more scratch than the export planned");
    }
    const int32_t in = semihost_open(IN_NAME, sizeof IN_NAME - 1u, SEMIHOST_OPEN_RB);
    if (in < 0) {
        fail("cannot open " IN_NAME " in the emulator's working directory");
    }
    const uint32_t count = read_header(in);
    for (uint32_t i = 0; i < count; i++) {
        if (semihost_read(in, in_record, IN_RECORD_BYTES) != 0u) {
            fail_image(i, IN_NAME " ends inside this record (truncated while running)");
        }
        if (crc16(0xFFFFu, in_record, TINYKD_INPUT_BYTES) != tkp_get_u16(in_record + TINYKD_INPUT_BYTES)) {
            fail_image(i, "CRC mismatch (corrupt input file)");
        }
        uint32_t ticks = 0;
        if (inference_run((const int8_t *)in_record, model_output, &ticks) != 0) {
            fail_image(i, "the model's invoke function failed");
        }
        tkp_put_u32(out_record, ticks);
        memcpy(out_record + 4, model_output, TINYKD_OUTPUT_BYTES);
        tkp_put_u16(out_record + 4 + TINYKD_OUTPUT_BYTES, crc16(0xFFFFu, out_record, 4u + TINYKD_OUTPUT_BYTES));
        write_all(out, out_record, OUT_RECORD_BYTES);
    }
    semihost_close(in);
    semihost_close(out);
    semihost_exit(SEMIHOST_EXIT_SUCCESS);
}
