"""Logging set-up: INFO to the console, full DEBUG per symbol to rotating files, secrets masked.

Layout under ``log_dir/<bot>/``: ``bot.log`` (everything: OptiFlow DEBUG and above, other
libraries INFO and above) and one ``<SYMBOL with / as _>.log`` per symbol holding the DEBUG
records of the loggers ``optiflow.<bot>.<symbol>`` (and their children). Every handler
carries the `SecretFilter`, so a registered secret never reaches a file or the console,
not even inside a traceback.
"""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from collections.abc import Sequence
from logging.handlers import RotatingFileHandler
from pathlib import Path

MAX_BYTES = 5 * 1024 * 1024
BACKUP_COUNT = 5
MASK = "***"
MIN_SECRET_LEN = 4  # shorter values would mask ordinary words
FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"

_secrets: set[str] = set()
_secrets_lock = threading.Lock()
_MARK = "_optiflow_handler"  # attribute set on every handler installed here
_installed_symbol_loggers: list[str] = []  # names of the loggers given a symbol file


def register_secret(value: str | None) -> None:
    """Mask `value` (API key, secret, token) in every log record from now on."""
    if value and len(value) >= MIN_SECRET_LEN:
        with _secrets_lock:
            _secrets.add(value)


def mask_secrets(text: str) -> str:
    """`text` with every registered secret replaced by ``***``."""
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    return text


class SecretFilter(logging.Filter):
    """Rewrites a record so no registered secret survives in its message, args or traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Mask the record in place (idempotent); always let it through."""
        if not _secrets:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: keep the raw parts, masked
            message = f"{record.msg} {record.args}"
        record.msg, record.args = mask_secrets(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        if record.exc_text:
            record.exc_text = mask_secrets(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_secrets(record.stack_info)
        return True


def symbol_file_name(symbol: str) -> str:
    """The log file of one symbol: ``BTC/USDT`` → ``BTC_USDT.log``."""
    return symbol.replace("/", "_").replace("\\", "_").replace(":", "_") + ".log"


def symbol_logger(bot_name: str, symbol: str) -> logging.Logger:
    """The logger whose records land in the symbol's own file: ``optiflow.<bot>.<symbol>``."""
    return logging.getLogger(f"optiflow.{bot_name}.{symbol}")


def _mark(handler: logging.Handler) -> logging.Handler:
    """Tag a handler as ours, give it the format and the secret filter."""
    setattr(handler, _MARK, True)
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(SecretFilter())
    return handler


def _remove_ours(logger: logging.Logger) -> None:
    """Detach and close the handlers a previous set-up installed on `logger`."""
    for handler in list(logger.handlers):
        if getattr(handler, _MARK, False):
            logger.removeHandler(handler)
            handler.close()


def _rotating(path: Path, max_bytes: int, backup_count: int) -> logging.Handler:
    """A DEBUG rotating file handler (UTF-8)."""
    handler = RotatingFileHandler(
        path, maxBytes=max_bytes, backupCount=backup_count, encoding="utf-8"
    )
    handler.setLevel(logging.DEBUG)
    return _mark(handler)


def setup_logging(
    log_dir: Path | None,
    bot_name: str,
    symbols: Sequence[str],
    console_level: str = "INFO",
    *,
    max_bytes: int = MAX_BYTES,
    backup_count: int = BACKUP_COUNT,
) -> None:
    """Install the console handler and (with `log_dir`) the bot and per-symbol files.

    Calling it again replaces everything a previous call installed (one bot per process).
    """
    close_logging()
    root, ours = logging.getLogger(), logging.getLogger("optiflow")
    root.setLevel(logging.INFO)
    ours.setLevel(logging.DEBUG)
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(console_level.upper())
    root.addHandler(_mark(console))
    if log_dir is None:
        return
    folder = log_dir / bot_name
    folder.mkdir(parents=True, exist_ok=True)
    root.addHandler(_rotating(folder / "bot.log", max_bytes, backup_count))
    for symbol in symbols:
        logger = symbol_logger(bot_name, symbol)
        logger.setLevel(logging.DEBUG)
        logger.addHandler(_rotating(folder / symbol_file_name(symbol), max_bytes, backup_count))
        _installed_symbol_loggers.append(logger.name)


def close_logging() -> None:
    """Flush, detach and close every handler `setup_logging` installed."""
    names = ["", "optiflow", *_installed_symbol_loggers]
    for name in names:
        _remove_ours(logging.getLogger(name or None))
    _installed_symbol_loggers.clear()


__all__ = [
    "BACKUP_COUNT",
    "MAX_BYTES",
    "SecretFilter",
    "close_logging",
    "mask_secrets",
    "register_secret",
    "setup_logging",
    "symbol_file_name",
    "symbol_logger",
]
