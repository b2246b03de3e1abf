/*
 * Board interface used by the application. Every board folder implements these functions;
 * the application and the kernels never touch registers themselves, so another board is one
 * new folder under firmware/boards/ with the same five files.
 */
#ifndef TINYKD_BOARD_H
#define TINYKD_BOARD_H

#include <stddef.h>
#include <stdint.h>

/* Which counter board_ticks() reads. Reported in HELLO so the host knows what a tick is. */
enum board_timer {
    BOARD_TIMER_DWT = 0,     /* DWT CYCCNT: one tick = one core clock cycle            */
    BOARD_TIMER_SYSTICK = 1  /* SysTick (core clock source), extended to 32 bits in its IRQ;
                                used where the DWT does not count (QEMU reads it as 0) */
};

/* Board name for the banner and HELLO: board.yaml's `name`, passed in by board.mk. */
#ifndef BOARD_NAME
#error "BOARD_NAME (board.yaml name) is not defined: build with firmware/Makefile"
#endif

/* Places a (zero-initialised) buffer in SRAM2 instead of SRAM1, leaving SRAM1 to the arena. */
#define BOARD_SRAM2_BSS __attribute__((section(".sram2_bss"), aligned(16)))

/* Core clock to board.yaml's core_hz, USART1 (PB6 TX / PB7 RX, the ST-LINK virtual COM port) at `baud`
 * 8N1 with interrupt-driven reception, the tick counter, interrupts enabled. */
void board_init(uint32_t baud);

/* Core clock in Hz after board_init (BOARD_CORE_HZ, board.yaml core_hz). */
uint32_t board_core_hz(void);

/* Free-running 32-bit tick counter at the core clock (wraps after 2^32 core clock cycles). */
uint32_t board_ticks(void);

/* Start of a timed section (an inference): makes the board_ticks() differences that follow
 * depend only on the code executed, not on when this point was reached. With the DWT it does
 * nothing. With SysTick it restarts the counter's tick grid here (the ticks so far carry over,
 * less the partial tick in progress), so under QEMU `-icount` a measurement is exactly
 * repeatable instead of moving by +-1 tick with the phase left by the idle loop. */
void board_measure_begin(void);

/* The counter board_ticks() reads (decided at boot: does the DWT count?). */
enum board_timer board_timer(void);

/* Blocking write of `n` bytes to the UART. */
void board_uart_write(const uint8_t *data, size_t n);

/* Take one received byte from the receive ring buffer: 1 if a byte was stored in *out, else 0. */
int board_uart_read(uint8_t *out);

/* Number of received bytes dropped because the ring buffer or the UART overran since boot. */
uint32_t board_uart_overruns(void);

/* Sleep until the next interrupt (a received byte or a timer wrap, at least every ~0.21 s). */
void board_idle(void);

/* System reset through the NVIC (the host sees a fresh boot banner). Does not return. */
void board_reset(void) __attribute__((noreturn));

#endif /* TINYKD_BOARD_H */
