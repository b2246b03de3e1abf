/*
 * A protocol front-end owns the UART once the board is up: it announces the device and serves
 * requests forever. The Makefile links exactly one, `frontend_$(PROTOCOL).c` (PROTOCOL=tinykd
 * by default), so a new host protocol is one more file here.
 */
#ifndef TINYKD_FRONTEND_H
#define TINYKD_FRONTEND_H

/* Serve the host forever; returns only if the front-end wants the chip reset. */
void frontend_run(void);

/* Identification shared by all front-ends (banner text). */
#define TINYKD_FIRMWARE_NAME "tinykd-fw"
#define TINYKD_FIRMWARE_VERSION "0.1.0"

#endif /* TINYKD_FRONTEND_H */
