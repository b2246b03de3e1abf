/* Randomized bit-exactness check of the Cortex-M4 kernel variants against the reference
 * kernels, shared by the host driver and the QEMU board image. */
#ifndef CM4_CHECK_H
#define CM4_CHECK_H

#include <stdint.h>

/* Called with one line of text (no newline) per finding and for the final summary. */
typedef void (*cm4_emit_fn)(const char *line);

/* Runs `cases` random cases per kernel family from `seed`; returns the number of mismatches
 * (0 = every variant agreed with its reference on every case). The last line emitted is
 * "CM4CHECK done cases=<n> compared=<n> mismatches=<n>". */
int32_t cm4_check_run(uint32_t seed, int32_t cases, cm4_emit_fn emit);

#endif
