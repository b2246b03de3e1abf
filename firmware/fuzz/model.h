/*
 * A stand-in for an exported model (the macros and entry point of `tinykd export`'s model.h)
 * for the host fuzzer of the UART front-end (fuzz_frontend.c, which defines the functions).
 * 300 input bytes, so a whole input takes two LOAD chunks (TKP_CHUNK_MAX is 256).
 */
#ifndef TINYKD_MODEL_H
#define TINYKD_MODEL_H

#include <stdint.h>

#define TINYKD_INPUT_BYTES 300
#define TINYKD_OUTPUT_BYTES 10
#define TINYKD_ARENA_BYTES 0
#define TINYKD_INPUT_RANK 4
#define TINYKD_INPUT_SHAPE {1, 10, 10, 3}
#define TINYKD_OUTPUT_RANK 2
#define TINYKD_OUTPUT_SHAPE {1, 10}
#define TINYKD_INPUT_SCALE 0.00392156886f
#define TINYKD_INPUT_ZERO_POINT (-128)
#define TINYKD_OUTPUT_SCALE 0.00390625f
#define TINYKD_OUTPUT_ZERO_POINT (-128)
#define TINYKD_MODEL_SHA256 "f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0"
#define TINYKD_MACS 3000
#define TINYKD_NUM_LAYERS 3

int tinykd_model_invoke(const int8_t *input, int8_t *output);
int tinykd_model_check(void);

#endif /* TINYKD_MODEL_H */
