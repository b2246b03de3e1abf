/* Bare-metal driver of the random kernel check (the real DSP instructions): runs on the
 * board or QEMU's b-l475e-iot01a, prints the findings and the summary line on USART1, then
 * idles. Seed and case count are fixed at build time (-DCM4_SEED=, -DCM4_CASES=). */
#include <string.h>

#include "board.h"
#include "cm4_check.h"

#ifndef CM4_SEED
#define CM4_SEED 1u
#endif
#ifndef CM4_CASES
#define CM4_CASES 200
#endif

static void emit(const char *line)
{
    board_uart_write((const uint8_t *)line, strlen(line));
    board_uart_write((const uint8_t *)"\r\n", 2);
}

int main(void)
{
    board_init(115200u);
    emit("CM4CHECK start");
    (void)cm4_check_run(CM4_SEED, CM4_CASES, emit);
    for (;;) {
        board_idle();
    }
}
