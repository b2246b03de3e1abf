/*
 * B-L475E-IOT01A board support: the core clock of board.yaml, USART1 on the ST-LINK virtual COM port,
 * a core-clock tick counter. Verified on QEMU's `-M b-l475e-iot01a` and written to RM0351.
 */
#include "board.h"

#include "regs.h"
#include "rx_ring.h"

/* board.yaml's core_hz, passed in by board.mk: the rate clock_init below sets up (the UART
 * divisor and HELLO's core_hz follow from it, so they cannot disagree with the description). */
#ifndef BOARD_CORE_HZ
#error "BOARD_CORE_HZ (board.yaml core_hz) is not defined: build with firmware/Makefile"
#endif
#define CORE_HZ BOARD_CORE_HZ

/* The PLL takes MSI's 4 MHz x PLLN / PLLR (2), so PLLN follows from core_hz; the VCO (4 MHz x
 * PLLN) must stay in 64..344 MHz and the system clock at or below 80 MHz (RM0351 6.2.5). */
#define MSI_HZ 4000000u
#define PLLN (CORE_HZ * 2u / MSI_HZ)
_Static_assert(PLLN * MSI_HZ == CORE_HZ * 2u && PLLN >= 16u && CORE_HZ <= 80000000u,
               "board.yaml core_hz must be a multiple of 2 MHz from 32 to 80 MHz (MSI 4 MHz x PLLN / 2)");

/* Receive ring: the UART interrupt fills it so bytes arriving during an inference are kept. */
#define RX_RING_BYTES 1024u
_Static_assert((RX_RING_BYTES & (RX_RING_BYTES - 1u)) == 0, "the ring uses a power-of-two size");
static volatile uint8_t rx_buf[RX_RING_BYTES];
static struct rx_ring rx;
static volatile uint32_t uart_overruns; /* bytes the UART itself lost (ORE), by the interrupt */

static volatile uint32_t systick_wraps;      /* since SysTick was last anchored */
static uint32_t systick_base;                /* ticks counted before that anchor */
static enum board_timer timer_in_use;

static void clock_init(void)
{
    /* MSI (4 MHz after reset) x PLLN / 2 = core_hz; 4 flash wait states (what 80 MHz, and
     * anything above 64 MHz, needs: RM0351 table 9, range 1) before the switch. */
    RCC_CR |= RCC_CR_MSION;
    while (!(RCC_CR & RCC_CR_MSIRDY)) {
    }
    FLASH_ACR = (FLASH_ACR & ~FLASH_ACR_LATENCY_MASK) | 4u | FLASH_ACR_PRFTEN | FLASH_ACR_ICEN |
                FLASH_ACR_DCEN;
    /* RM0351 asks to read the latency back before raising the clock. QEMU leaves the flash
     * interface unimplemented (reads 0), so the wait is bounded instead of endless. */
    for (int i = 0; i < 64 && (FLASH_ACR & FLASH_ACR_LATENCY_MASK) != 4u; i++) {
    }
    RCC_CR &= ~RCC_CR_PLLON;
    while (RCC_CR & RCC_CR_PLLRDY) {
    }
    /* PLLM = /1, PLLR = /2 (field value 0) */
    RCC_PLLCFGR = RCC_PLLCFGR_SRC_MSI | RCC_PLLCFGR_PLLN(PLLN) | RCC_PLLCFGR_PLLREN;
    RCC_CR |= RCC_CR_PLLON;
    while (!(RCC_CR & RCC_CR_PLLRDY)) {
    }
    RCC_CFGR = (RCC_CFGR & ~RCC_CFGR_SW_MASK) | RCC_CFGR_SW_PLL;
    while ((RCC_CFGR & RCC_CFGR_SWS_MASK) != RCC_CFGR_SWS_PLL) {
    }
}

static void uart_init(uint32_t baud)
{
    RCC_AHB2ENR |= RCC_AHB2ENR_GPIOBEN;
    RCC_APB2ENR |= RCC_APB2ENR_USART1EN;
    (void)RCC_APB2ENR; /* read back: the clock must be running before the first access */

    /* PB6 = USART1_TX, PB7 = USART1_RX: alternate function 7, high speed, pull-up on RX. */
    GPIOB_MODER = (GPIOB_MODER & ~(0xFu << 12)) | (0xAu << 12);
    GPIOB_OSPEEDR |= (0xFu << 12);
    GPIOB_PUPDR = (GPIOB_PUPDR & ~(0xFu << 12)) | (0x1u << 14);
    GPIOB_AFRL = (GPIOB_AFRL & ~(0xFFu << 24)) | (0x77u << 24);

    /* PCLK2 = core clock (APB2 prescaler 1); 16x oversampling: BRR = fck / baud, rounded.
     * BRR first: QEMU checks it whenever CR1 is written. */
    USART1_BRR = (CORE_HZ + baud / 2u) / baud;
    USART1_CR1 = 0;
    USART1_CR2 = 0;
    USART1_CR3 = 0;
    USART1_CR1 = USART_CR1_UE | USART_CR1_TE | USART_CR1_RE | USART_CR1_RXNEIE;
    NVIC_ISER(USART1_IRQn / 32u) = 1u << (USART1_IRQn % 32u);
}

static void timer_init(void)
{
    /* SysTick always runs: it wakes board_idle() and is the fallback tick counter. */
    SYST_RVR = 0x00FFFFFFu;
    SYST_CVR = 0;
    SYST_CSR = SYST_CSR_ENABLE | SYST_CSR_TICKINT | SYST_CSR_CLKSOURCE;

    /* Prefer the DWT cycle counter, but only if it actually counts (QEMU reads it as 0). */
    DEMCR |= DEMCR_TRCENA;
    DWT_CYCCNT = 0;
    DWT_CTRL |= DWT_CTRL_CYCCNTENA;
    for (volatile int i = 0; i < 16; i++) {
    }
    timer_in_use = DWT_CYCCNT != 0u ? BOARD_TIMER_DWT : BOARD_TIMER_SYSTICK;
}

void board_init(uint32_t baud)
{
    cpu_irq_disable();
    rx_ring_init(&rx, rx_buf, RX_RING_BYTES);
    clock_init();
    timer_init();
    uart_init(baud);
    cpu_irq_enable();
}

uint32_t board_core_hz(void) { return CORE_HZ; }

enum board_timer board_timer(void) { return timer_in_use; }

/* Ticks since SysTick was anchored (a write to CVR). After the write the counter reads 0 for
 * one tick, then RVR, RVR-1, ..., 1, then 0 again as the wrap is signalled: with RVR = 2^24-1
 * that is (2^24 - CVR) mod 2^24 ticks into the current wrap. Interrupts must be off. */
static uint32_t systick_elapsed(void)
{
    /* A wrap between reading the wrap count and the counter would lose 2^24 ticks: account
     * for a wrap that is pending but not yet serviced, and read the counter after it. */
    uint32_t wraps = systick_wraps;
    uint32_t value = SYST_CVR;
    if (SCB_ICSR & SCB_ICSR_PENDSTSET) {
        wraps++;
        value = SYST_CVR;
    }
    return (wraps << 24) + ((0x01000000u - value) & 0x00FFFFFFu);
}

static uint32_t systick_ticks(void)
{
    cpu_irq_disable();
    uint32_t ticks = systick_base + systick_elapsed();
    cpu_irq_enable();
    return ticks;
}

uint32_t board_ticks(void)
{
    return timer_in_use == BOARD_TIMER_DWT ? DWT_CYCCNT : systick_ticks();
}

void board_measure_begin(void)
{
    if (timer_in_use != BOARD_TIMER_SYSTICK) {
        return; /* the DWT counts every cycle: there is no tick phase to lose */
    }
    /* The tick grid runs from the last CVR write (QEMU's ptimer takes "now" as its next event
     * when the count is written), so restarting it here makes the ticks of what follows depend
     * only on the instructions executed from here on, not on when the host's bytes arrived.
     * The ticks so far move into systick_base, so board_ticks() never goes backwards; the
     * partial tick in progress (< 1 tick) is dropped. */
    cpu_irq_disable();
    uint32_t ticks = systick_base + systick_elapsed();
    SYST_CVR = 0;
    SCB_ICSR = SCB_ICSR_PENDSTCLR; /* a wrap pending here is already counted in `ticks` */
    systick_wraps = 0;
    systick_base = ticks;
    cpu_irq_enable();
}

void board_uart_write(const uint8_t *data, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        while (!(USART1_ISR & USART_ISR_TXE)) {
        }
        USART1_TDR = data[i];
    }
    while (!(USART1_ISR & USART_ISR_TC)) {
    }
}

int board_uart_read(uint8_t *out) { return rx_ring_get(&rx, out); }

uint32_t board_uart_overruns(void) { return uart_overruns + rx.dropped; }

void board_idle(void)
{
    cpu_irq_disable();
    if (rx_ring_count(&rx) == 0) {
        cpu_wfi(); /* wakes on a pending interrupt even with PRIMASK set */
    }
    cpu_irq_enable();
}

void board_reset(void)
{
    cpu_dsb();
    SCB_AIRCR = SCB_AIRCR_VECTKEY | SCB_AIRCR_SYSRESETREQ;
    cpu_dsb();
    for (;;) {
    }
}

void USART1_IRQHandler(void)
{
    uint32_t isr = USART1_ISR;
    if (isr & (USART_ISR_ORE | USART_ISR_FE | USART_ISR_NF)) {
        if (isr & USART_ISR_ORE) {
            uart_overruns++;
        }
        USART1_ICR = USART_ICR_ORECF | USART_ICR_FECF | USART_ICR_NCF;
    }
    while (USART1_ISR & USART_ISR_RXNE) {
        (void)rx_ring_put(&rx, (uint8_t)USART1_RDR); /* a full ring counts the byte in rx.dropped */
    }
}

void SysTick_Handler(void) { systick_wraps++; }
