/*
 * STM32L475VG start-up: the vector table (16 Cortex-M4 exceptions + 82 STM32L475 interrupts)
 * and the reset handler, which enables the FPU, copies .data from flash, zeroes .bss and
 * .sram2_bss and calls main(). Faults reset the chip rather than hang: the host then sees a
 * fresh boot banner and retries instead of waiting on a dead board.
 */
#include <stdint.h>

#include "board.h"
#include "regs.h"

/* Symbols from link.ld */
extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss, _ssram2_bss, _esram2_bss, _estack;

int main(void);
void Reset_Handler(void);

static void fault_handler(void)
{
    board_reset();
}

void Default_Handler(void)
{
    board_reset();
}

#define WEAK_ALIAS(name) void name(void) __attribute__((weak, alias("Default_Handler")))
WEAK_ALIAS(NMI_Handler);
WEAK_ALIAS(SVC_Handler);
WEAK_ALIAS(DebugMon_Handler);
WEAK_ALIAS(PendSV_Handler);
WEAK_ALIAS(SysTick_Handler);
WEAK_ALIAS(USART1_IRQHandler);

#define STM32L475_IRQS 82

typedef void (*vector_t)(void);

#define X4(h) h, h, h, h
#define X8(h) X4(h), X4(h)
#define X32(h) X8(h), X8(h), X8(h), X8(h)

__attribute__((section(".isr_vector"), used)) static const vector_t vector_table[16 + STM32L475_IRQS] = {
    [0] = (vector_t)(uintptr_t)&_estack,
    [1] = Reset_Handler,
    [2] = NMI_Handler,
    [3] = fault_handler, /* HardFault */
    [4] = fault_handler, /* MemManage */
    [5] = fault_handler, /* BusFault */
    [6] = fault_handler, /* UsageFault */
    [11] = SVC_Handler,
    [12] = DebugMon_Handler,
    [14] = PendSV_Handler,
    [15] = SysTick_Handler,
    /* STM32L475 interrupts 0..36, USART1 (37), 38..81 */
    X32(Default_Handler), X4(Default_Handler), Default_Handler,
    USART1_IRQHandler,
    X32(Default_Handler), X8(Default_Handler), X4(Default_Handler),
};
_Static_assert(16 + 37 + 1 + 44 == 16 + STM32L475_IRQS, "vector table length");

void Reset_Handler(void)
{
    /* Full access to CP10/CP11 before any floating-point instruction can run. */
    SCB_CPACR |= (0xFu << 20);
    cpu_dsb();
    cpu_isb();
    SCB_VTOR = (uint32_t)(uintptr_t)vector_table;

    for (uint32_t *src = &_sidata, *dst = &_sdata; dst < &_edata;) {
        *dst++ = *src++;
    }
    for (uint32_t *dst = &_sbss; dst < &_ebss;) {
        *dst++ = 0;
    }
    for (uint32_t *dst = &_ssram2_bss; dst < &_esram2_bss;) {
        *dst++ = 0;
    }
    (void)main();
    board_reset();
}
