/*
 * tinykd firmware entry: bring the board up and hand the UART to the protocol front-end.
 * Everything model-specific comes from the export folder's model.h; everything board-specific
 * from firmware/boards/<board>/.
 */
#include "board.h"
#include "frontend.h"
#include "inference.h"

#ifndef TINYKD_BAUD
#error "TINYKD_BAUD must be defined by the build (make BAUD=...)"
#endif

int main(void)
{
    board_init(TINYKD_BAUD);
    /* Before the model can run: the export planned each kernel's scratch, the kernels say what
     * they need; a mismatch is reported by the front-end and no inference runs. */
    (void)inference_boot();
    frontend_run();
    board_reset();
}
