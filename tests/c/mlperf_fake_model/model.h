/*
 * A stand-in for an exported model (same macros and entry point as `tinykd export`'s model.h)
 * for the host tests of the MLPerf protocol: output[k] = clamp(sum of input[i] over i % 10 == k,
 * divided by 64 with C's truncation, to -128..127). tests/test_mlperf.py computes the same.
 * Its input quantization can be changed with -DFAKE_INPUT_SCALE / -DFAKE_INPUT_ZERO_POINT.
 */
#ifndef TINYKD_FAKE_MODEL_H
#define TINYKD_FAKE_MODEL_H

#include <stdint.h>

#ifndef FAKE_INPUT_SCALE
#define FAKE_INPUT_SCALE 0.00392156886f
#endif
#ifndef FAKE_INPUT_ZERO_POINT
#define FAKE_INPUT_ZERO_POINT (-128)
#endif

#define TINYKD_INPUT_BYTES 3072
#define TINYKD_OUTPUT_BYTES 10
#define TINYKD_ARENA_BYTES 0
#define TINYKD_INPUT_RANK 4
#define TINYKD_INPUT_SHAPE {1, 32, 32, 3}
#define TINYKD_OUTPUT_RANK 2
#define TINYKD_OUTPUT_SHAPE {1, 10}
#define TINYKD_INPUT_SCALE FAKE_INPUT_SCALE
#define TINYKD_INPUT_ZERO_POINT FAKE_INPUT_ZERO_POINT
#define TINYKD_OUTPUT_SCALE 0.00390625f
#define TINYKD_OUTPUT_ZERO_POINT (-128)
#define TINYKD_MODEL_SHA256 "0000000000000000000000000000000000000000000000000000000000000000"
#define TINYKD_MACS 3072
#define TINYKD_NUM_LAYERS 1

int tinykd_model_invoke(const int8_t *input, int8_t *output);

#endif /* TINYKD_FAKE_MODEL_H */
