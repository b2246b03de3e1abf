# B-L475E-IOT01A (STM32L475VG, Cortex-M4F): flags and files the firmware Makefile takes from here.
# The board's facts (memory map, clock, QEMU machine) live in board.yaml beside this file.
BOARD_CPU_FLAGS := -mcpu=cortex-m4 -mthumb -mfpu=fpv4-sp-d16 -mfloat-abi=hard
BOARD_SRCS      := $(BOARD_DIR)/startup.c $(BOARD_DIR)/board.c
BOARD_LDSCRIPT  := $(BOARD_DIR)/link.ld
include $(FW_DIR)/boards/board_yaml.mk
