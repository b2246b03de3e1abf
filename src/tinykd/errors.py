"""Errors that stop a stage with one clear line (no traceback for the user)."""


class TinykdError(Exception):
    """A user-facing failure: the message names the bad value and what is allowed."""


class ParamError(TinykdError):
    """A params.yaml value is missing or outside what is allowed."""

    def __init__(self, key: str, value, allowed: str):
        self.key, self.value, self.allowed = key, value, allowed
        super().__init__(f"params: {key} = {value!r} is not allowed; expected {allowed}")


class DataError(TinykdError):
    """A dataset file or archive is missing, corrupt or in an unexpected format."""


class ExportError(TinykdError):
    """A model cannot be exported (unsupported operator/option, does not fit the board)."""


class DeviceError(TinykdError):
    """The board (or QEMU) could not be built for, flashed or talked to."""
