/* Host driver: cm4_check [seed] [cases]; exit status 0 iff no mismatch. */
#include <stdio.h>
#include <stdlib.h>

#include "cm4_check.h"

static void emit(const char *line)
{
    puts(line);
}

int main(int argc, char **argv)
{
    const uint32_t seed = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 0) : 1u;
    const int32_t cases = argc > 2 ? (int32_t)strtol(argv[2], NULL, 0) : 300;
    return cm4_check_run(seed, cases, emit) == 0 ? 0 : 1;
}
