"""MLPerf Tiny image classification (ic01): the host side of the benchmark's UART protocol.

The firmware built with `firmware.protocol: mlperf` (firmware/app/frontend_mlperf.c) answers the
EEMBC / MLPerf Tiny text protocol, so the benchmark's own host runners can drive it; this package
is tinykd's runner for the same protocol: performance mode (median throughput over windows of
`infer N W`) and accuracy mode (top-1 over test images), against a board or the QEMU board.
"""
