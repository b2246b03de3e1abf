/*
 * The HELLO description of the device and its model (protocol.h, src/tinykd/device/protocol.py
 * Hello), shared by the UART front-end (the HELLO response) and the semihosting bulk front-end
 * (the header of its output file), so both describe the device with the very same bytes.
 */
#ifndef TINYKD_HELLO_H
#define TINYKD_HELLO_H

#include <stdint.h>

#include "board.h"

/* HELLO payload, protocol version 2 (the layout of version 1; offsets in bytes; see
 * src/tinykd/device/protocol.py HELLO_FORMAT):
 *   0 u16 protocol version      2 u8 timer (0 DWT, 1 SysTick)  3 u8 flags (bit0: PROFILE,
 *                                                                  bit1: model check failed)
 *   4 u32 core clock Hz         8 u32 arena bytes             12 u32 input bytes
 *  16 u32 output bytes         20 u32 MACs per inference      24 u16 layers
 *  26 u16 max request payload  28 u8 input rank               29 u8 output rank
 *  30 u16[4] input shape       38 u16[4] output shape
 *  46 f32 input scale          50 i32 input zero point
 *  54 f32 output scale         58 i32 output zero point
 *  62 char[64] sha256 of the deployed .tflite (lower-case hex)
 * 126 u32 UART bytes dropped since boot
 * 130 board name (ASCII, rest of the payload)
 * The max request payload is a LOAD frame's (tag, offset, TKP_CHUNK_MAX bytes) on the UART. */
#define TINYKD_HELLO_FIXED_BYTES 130u
#define TINYKD_HELLO_PROFILE 0x01u
/* tinykd_model_check() failed at boot (inference_boot): the board refuses every INFER. */
#define TINYKD_HELLO_MODEL_CHECK_FAILED 0x02u
#define TINYKD_HELLO_BYTES (TINYKD_HELLO_FIXED_BYTES + sizeof BOARD_NAME - 1u)

/* Fill `out` with the HELLO payload; `max_request` is the largest request payload accepted. */
void tinykd_hello(uint8_t out[TINYKD_HELLO_BYTES], uint16_t max_request);

#endif /* TINYKD_HELLO_H */
