/*
 * The few STM32L475VG / Cortex-M4 registers this board support needs (RM0351, ARMv7-M ARM).
 * Written here instead of vendoring CMSIS or the ST HAL.
 */
#ifndef TINYKD_B_L475E_IOT01A_REGS_H
#define TINYKD_B_L475E_IOT01A_REGS_H

#include <stdint.h>

#define REG32(addr) (*(volatile uint32_t *)(uintptr_t)(addr))

/* ---- Reset and clock control (RCC) ---- */
#define RCC_BASE            0x40021000u
#define RCC_CR              REG32(RCC_BASE + 0x00u)
#define RCC_CFGR            REG32(RCC_BASE + 0x08u)
#define RCC_PLLCFGR         REG32(RCC_BASE + 0x0Cu)
#define RCC_AHB2ENR         REG32(RCC_BASE + 0x4Cu)
#define RCC_APB2ENR         REG32(RCC_BASE + 0x60u)
#define RCC_CR_MSION        (1u << 0)
#define RCC_CR_MSIRDY       (1u << 1)
#define RCC_CR_PLLON        (1u << 24)
#define RCC_CR_PLLRDY       (1u << 25)
#define RCC_CFGR_SW_MASK    (3u << 0)
#define RCC_CFGR_SW_PLL     (3u << 0)
#define RCC_CFGR_SWS_MASK   (3u << 2)
#define RCC_CFGR_SWS_PLL    (3u << 2)
#define RCC_PLLCFGR_SRC_MSI (1u << 0)
#define RCC_PLLCFGR_PLLN(n) ((uint32_t)(n) << 8)
#define RCC_PLLCFGR_PLLREN  (1u << 24)
#define RCC_AHB2ENR_GPIOBEN (1u << 1)
#define RCC_APB2ENR_USART1EN (1u << 14)

/* ---- Flash interface: wait states and caches ---- */
#define FLASH_ACR           REG32(0x40022000u)
#define FLASH_ACR_LATENCY_MASK 7u
#define FLASH_ACR_PRFTEN    (1u << 8)
#define FLASH_ACR_ICEN      (1u << 9)
#define FLASH_ACR_DCEN      (1u << 10)

/* ---- GPIO port B ---- */
#define GPIOB_BASE          0x48000400u
#define GPIOB_MODER         REG32(GPIOB_BASE + 0x00u)
#define GPIOB_OSPEEDR       REG32(GPIOB_BASE + 0x08u)
#define GPIOB_PUPDR         REG32(GPIOB_BASE + 0x0Cu)
#define GPIOB_AFRL          REG32(GPIOB_BASE + 0x20u)

/* ---- USART1 ---- */
#define USART1_BASE         0x40013800u
#define USART1_CR1          REG32(USART1_BASE + 0x00u)
#define USART1_CR2          REG32(USART1_BASE + 0x04u)
#define USART1_CR3          REG32(USART1_BASE + 0x08u)
#define USART1_BRR          REG32(USART1_BASE + 0x0Cu)
#define USART1_ISR          REG32(USART1_BASE + 0x1Cu)
#define USART1_ICR          REG32(USART1_BASE + 0x20u)
#define USART1_RDR          REG32(USART1_BASE + 0x24u)
#define USART1_TDR          REG32(USART1_BASE + 0x28u)
#define USART_CR1_UE        (1u << 0)
#define USART_CR1_RE        (1u << 2)
#define USART_CR1_TE        (1u << 3)
#define USART_CR1_RXNEIE    (1u << 5)
#define USART_ISR_FE        (1u << 1)
#define USART_ISR_NF        (1u << 2)
#define USART_ISR_ORE       (1u << 3)
#define USART_ISR_RXNE      (1u << 5)
#define USART_ISR_TC        (1u << 6)
#define USART_ISR_TXE       (1u << 7)
#define USART_ICR_FECF      (1u << 1)
#define USART_ICR_NCF       (1u << 2)
#define USART_ICR_ORECF     (1u << 3)
#define USART1_IRQn         37u

/* ---- Cortex-M4 system control space ---- */
#define SYST_CSR            REG32(0xE000E010u)
#define SYST_RVR            REG32(0xE000E014u)
#define SYST_CVR            REG32(0xE000E018u)
#define SYST_CSR_ENABLE     (1u << 0)
#define SYST_CSR_TICKINT    (1u << 1)
#define SYST_CSR_CLKSOURCE  (1u << 2)   /* 1 = processor clock */
#define NVIC_ISER(n)        REG32(0xE000E100u + 4u * (n))
#define SCB_ICSR            REG32(0xE000ED04u)
#define SCB_ICSR_PENDSTSET  (1u << 26)
#define SCB_ICSR_PENDSTCLR  (1u << 25)
#define SCB_VTOR            REG32(0xE000ED08u)
#define SCB_AIRCR           REG32(0xE000ED0Cu)
#define SCB_AIRCR_VECTKEY   (0x05FAu << 16)
#define SCB_AIRCR_SYSRESETREQ (1u << 2)
#define SCB_CPACR           REG32(0xE000ED88u)
#define DEMCR               REG32(0xE000EDFCu)
#define DEMCR_TRCENA        (1u << 24)
#define DWT_CTRL            REG32(0xE0001000u)
#define DWT_CYCCNT          REG32(0xE0001004u)
#define DWT_CTRL_CYCCNTENA  (1u << 0)

static inline void cpu_dsb(void) { __asm volatile("dsb" ::: "memory"); }
static inline void cpu_isb(void) { __asm volatile("isb" ::: "memory"); }
static inline void cpu_irq_disable(void) { __asm volatile("cpsid i" ::: "memory"); }
static inline void cpu_irq_enable(void) { __asm volatile("cpsie i" ::: "memory"); }
static inline void cpu_wfi(void) { __asm volatile("wfi" ::: "memory"); }

#endif /* TINYKD_B_L475E_IOT01A_REGS_H */
