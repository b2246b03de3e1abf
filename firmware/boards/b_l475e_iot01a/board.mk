# B-L475E-IOT01A (STM32L475VG, Cortex-M4F): flags and files the firmware Makefile takes from here.
BOARD_CPU_FLAGS := -mcpu=cortex-m4 -mthumb -mfpu=fpv4-sp-d16 -mfloat-abi=hard
BOARD_SRCS      := $(BOARD_DIR)/startup.c $(BOARD_DIR)/board.c
BOARD_LDSCRIPT  := $(BOARD_DIR)/link.ld
# Limits reported by the size check (bytes); must match link.ld.
BOARD_FLASH_BYTES := 1048576
BOARD_SRAM1_BYTES := 98304
BOARD_SRAM2_BYTES := 32768
# Stack reserve at the top of SRAM2.
STACK_BYTES ?= 16384
# QEMU machine emulating this board (for `make run-qemu`).
BOARD_QEMU_MACHINE := b-l475e-iot01a
