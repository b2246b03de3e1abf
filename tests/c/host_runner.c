/* Host test runner for an exported model: reads TINYKD_INPUT_BYTES-byte int8 inputs from
 * stdin until EOF, writes TINYKD_OUTPUT_BYTES bytes per input to stdout. Exit status:
 * 0 ok, 2 tinykd_model_check() failed, 3 tinykd_model_invoke() failed, 4 short read. */
#include <stdio.h>

#include "model.h"

int main(void)
{
    static int8_t in[TINYKD_INPUT_BYTES];
    static int8_t out[TINYKD_OUTPUT_BYTES];
    if (tinykd_model_check() != 0) {
        fprintf(stderr, "scratch check failed at layer %d\n", tinykd_model_check() - 1);
        return 2;
    }
    for (;;) {
        size_t got = fread(in, 1, sizeof in, stdin);
        if (got == 0) {
            return 0;
        }
        if (got != sizeof in) {
            return 4;
        }
        int rc = tinykd_model_invoke(in, out);
        if (rc != 0) {
            fprintf(stderr, "invoke failed at layer %d\n", rc - 1);
            return 3;
        }
        fwrite(out, 1, sizeof out, stdout);
    }
}
