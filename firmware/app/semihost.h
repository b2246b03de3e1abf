/*
 * ARM semihosting (Arm "Semihosting for AArch32 and AArch64", version 2): the few operations the
 * QEMU bulk front-end uses. A semihosting call is a `bkpt 0xAB` that the debugger (or QEMU with
 * `-semihosting-config enable=on,target=native`) services; without one attached, the breakpoint
 * halts or faults the core. Only the semihosting firmware flavour (bulk_semihost.c,
 * tinykd-semihost.elf) includes this header; the image flashed to a board never does.
 */
#ifndef TINYKD_SEMIHOST_H
#define TINYKD_SEMIHOST_H

#include <stddef.h>
#include <stdint.h>

enum semihost_op {
    SEMIHOST_SYS_OPEN = 0x01,
    SEMIHOST_SYS_CLOSE = 0x02,
    SEMIHOST_SYS_WRITE0 = 0x04,
    SEMIHOST_SYS_WRITE = 0x05,
    SEMIHOST_SYS_READ = 0x06,
    SEMIHOST_SYS_FLEN = 0x0C,
    SEMIHOST_SYS_EXIT = 0x18
};

/* SYS_OPEN modes (ISO C fopen modes "rb" and "wb"). */
#define SEMIHOST_OPEN_RB 1u
#define SEMIHOST_OPEN_WB 5u

/* SYS_EXIT reasons: QEMU exits with status 0 for ApplicationExit, 1 for anything else. */
#define SEMIHOST_EXIT_SUCCESS 0x20026u /* ADP_Stopped_ApplicationExit */
#define SEMIHOST_EXIT_FAILURE 0x20023u /* ADP_Stopped_RunTimeErrorUnknown */

static inline uint32_t semihost_call(uint32_t op, uintptr_t arg)
{
    register uint32_t r0 __asm("r0") = op;
    register uintptr_t r1 __asm("r1") = arg;
    __asm volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

/* Open `name` (NUL-terminated) with `mode`; returns a handle, or -1. */
static inline int32_t semihost_open(const char *name, size_t len, uint32_t mode)
{
    const uint32_t args[3] = {(uint32_t)(uintptr_t)name, mode, (uint32_t)len};
    return (int32_t)semihost_call(SEMIHOST_SYS_OPEN, (uintptr_t)args);
}

static inline void semihost_close(int32_t handle)
{
    const uint32_t args[1] = {(uint32_t)handle};
    (void)semihost_call(SEMIHOST_SYS_CLOSE, (uintptr_t)args);
}

/* Bytes NOT transferred (0 = all of them), as the semihosting specification defines. */
static inline uint32_t semihost_read(int32_t handle, void *buf, size_t n)
{
    const uint32_t args[3] = {(uint32_t)handle, (uint32_t)(uintptr_t)buf, (uint32_t)n};
    return semihost_call(SEMIHOST_SYS_READ, (uintptr_t)args);
}

static inline uint32_t semihost_write(int32_t handle, const void *buf, size_t n)
{
    const uint32_t args[3] = {(uint32_t)handle, (uint32_t)(uintptr_t)buf, (uint32_t)n};
    return semihost_call(SEMIHOST_SYS_WRITE, (uintptr_t)args);
}

/* Length of an open file in bytes, or -1. */
static inline int32_t semihost_flen(int32_t handle)
{
    const uint32_t args[1] = {(uint32_t)handle};
    return (int32_t)semihost_call(SEMIHOST_SYS_FLEN, (uintptr_t)args);
}

/* A NUL-terminated string to the debugger's console. */
static inline void semihost_write0(const char *text)
{
    (void)semihost_call(SEMIHOST_SYS_WRITE0, (uintptr_t)text);
}

static inline void semihost_exit(uint32_t reason) __attribute__((noreturn));
static inline void semihost_exit(uint32_t reason)
{
    (void)semihost_call(SEMIHOST_SYS_EXIT, reason);
    for (;;) {
    }
}

#endif /* TINYKD_SEMIHOST_H */
