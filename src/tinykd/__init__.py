"""tinykd: knowledge distillation to int8 C for Cortex-M4 microcontrollers."""

__version__ = "0.1.0"
