# Reads a board's board.yaml (flat `key: value` lines; tinykd.device.board reads the same file)
# into the variables the Makefile uses. Included by each board's board.mk.
BOARD_YAML := $(BOARD_DIR)/board.yaml
ifeq ($(wildcard $(BOARD_YAML)),)
$(error BOARD=$(BOARD) has no $(BOARD_YAML))
endif
board_fact = $(or $(shell sed -n 's/^$(1):[[:space:]]*\([^[:space:]#]*\).*/\1/p' $(BOARD_YAML)),$(error $(BOARD_YAML) has no $(1)))
# Limits reported by the size check (bytes).
BOARD_FLASH_BYTES  := $(call board_fact,flash_bytes)
BOARD_SRAM1_BYTES  := $(call board_fact,sram1_bytes)
BOARD_SRAM2_BYTES  := $(call board_fact,sram2_bytes)
# Stack reserve at the top of SRAM2.
STACK_BYTES        ?= $(call board_fact,stack_bytes)
# QEMU machine emulating this board (for `make run-qemu`).
BOARD_QEMU_MACHINE := $(call board_fact,qemu_machine)
# The core clock board.c sets up (UART baud divisor, HELLO's core_hz) and the name the banner,
# HELLO and the MLPerf front-end report (board.h's BOARD_NAME).
BOARD_CFLAGS  := -DBOARD_CORE_HZ=$(call board_fact,core_hz)u -DBOARD_NAME=\"$(call board_fact,name)\"
# The link script's MEMORY regions take origins and lengths from these symbols.
BOARD_LDFLAGS := $(foreach r,flash sram1 sram2,-Wl,--defsym=__board_$(r)_origin=$(call board_fact,$(r)_origin) \
                   -Wl,--defsym=__board_$(r)_bytes=$(call board_fact,$(r)_bytes))
