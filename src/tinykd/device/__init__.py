"""Talking to the board: the UART protocol, QEMU, flashing backends, on-device evaluation."""
