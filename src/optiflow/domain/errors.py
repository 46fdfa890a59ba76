"""Error taxonomy, grouped by how the caller must react: stop, skip or retry."""

from __future__ import annotations


class OptiFlowError(Exception):
    """Base of every error OptiFlow raises on purpose."""


class UserInputError(OptiFlowError):
    """A user mistake (config, data file, argument): print the message, exit 2, no traceback."""


class ConfigError(UserInputError):
    """An invalid config: names the file, the field, the value and what is allowed."""

    def __init__(self, file: str, field: str, value: object, allowed: str) -> None:
        self.file, self.field, self.value, self.allowed = file, field, value, allowed
        super().__init__(f"{file}: {field} = {value!r}: {allowed}")


class DataError(UserInputError):
    """A market data file that cannot be read: names the file, the line and the problem."""


class StopError(OptiFlowError):
    """Unrecoverable: stop the bot (e.g. invalid API keys)."""


class SkipError(OptiFlowError):
    """This action cannot be done now; skip it and carry on (e.g. order rejected)."""


class RetryableError(OptiFlowError):
    """Transient; the same call may succeed later (timeouts, 5xx, rate limits)."""


class StoreUnavailable(OptiFlowError):
    """The state store cannot commit now (disk full, read-only): no new risk until it can."""
