"""Logging set-up: INFO to the console, full DEBUG per symbol to rotating files, secrets masked.

Layout under ``log_dir/<bot>/``: ``bot.log`` (everything: OptiFlow DEBUG and above, other
libraries INFO and above) and one ``<SYMBOL with / as _>.log`` per symbol holding the DEBUG
records of the loggers ``optiflow.<bot>.<symbol>`` (and their children). Every handler
carries the `SecretFilter`, so a registered secret never reaches a file or the console,
not even inside a traceback.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import sys
import threading
import time
import traceback
from collections.abc import Sequence
from contextvars import ContextVar
from logging.handlers import RotatingFileHandler
from pathlib import Path

MAX_BYTES = 5 * 1024 * 1024
BACKUP_COUNT = 5
DEFAULT_TOTAL_MB = 50  # what ``optiflow run`` lets one bot's logs take by default
MASK = "***"
MIN_SECRET_LEN = 4  # shorter values would mask ordinary words
FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"

_secrets: set[str] = set()
_secrets_lock = threading.Lock()
_MARK = "_optiflow_handler"  # attribute set on every handler installed here
_installed_symbol_loggers: list[str] = []  # names of the loggers given a symbol file
# the bot whose asyncio task emits a record (a fleet host runs several bots in one process)
CURRENT_BOT: ContextVar[str | None] = ContextVar("optiflow_bot", default=None)


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


class QuietRotatingFileHandler(RotatingFileHandler):
    """A rotating file that never stops the bot: a failed write (full disk, read-only
    folder) is reported on stderr at most once a minute, without a traceback; on a full
    disk its own backups are deleted to make room, and writing resumes when it can."""

    quiet_s = 60.0

    def __init__(self, path: Path, max_bytes: int, backup_count: int) -> None:
        """Open `path` lazily (a folder that cannot take it does not stop the start)."""
        super().__init__(
            path, maxBytes=max_bytes, backupCount=backup_count, encoding="utf-8", delay=True
        )
        self.failing = False
        self.write_errors = 0
        self._said_at = -1e9
        self._announced = False

    def emit(self, record: logging.LogRecord) -> None:
        """Write the record; on success after failures, say the log works again."""
        before = self.write_errors
        super().emit(record)
        if self.failing and self.write_errors == before:
            self.failing = False
            if self._announced:  # at most one failure and one recovery line a minute
                self._announced = False
                _stderr_line(f"log file {self.baseFilename}: writing again")

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - logging API
        """A failed write: free room, drop the stream, say so at most once a minute."""
        exc = sys.exc_info()[1]
        self.write_errors += 1
        if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
            self._drop_backups()
        stream, self.stream = self.stream, None  # type: ignore[assignment]
        if stream is not None:
            with contextlib.suppress(Exception):
                stream.close()
        now = time.monotonic()
        if now - self._said_at >= self.quiet_s:
            self._said_at, self._announced = now, True
            _stderr_line(f"log file {self.baseFilename}: write failed ({exc}); retrying")
        self.failing = True

    def _drop_backups(self) -> None:
        """Delete this log's rotated files (oldest debug detail goes first on a full disk)."""
        for i in range(1, self.backupCount + 1):
            with contextlib.suppress(OSError):
                os.remove(f"{self.baseFilename}.{i}")


def _stderr_line(text: str) -> None:
    """One line on stderr that can itself fail silently."""
    with contextlib.suppress(Exception):
        sys.stderr.write(mask_secrets(text) + "\n")
        sys.stderr.flush()


def _rotating(path: Path, max_bytes: int, backup_count: int) -> logging.Handler:
    """A DEBUG rotating file handler (UTF-8) that survives a full or read-only disk."""
    handler = QuietRotatingFileHandler(path, max_bytes, backup_count)
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
    total_bytes: int | None = None,
) -> None:
    """Install the console handler and (with `log_dir`) the bot and per-symbol files.

    With `total_bytes` every file (bot.log, one per symbol) and its `backup_count`
    rotations share that budget: no file grows past ``total / (files x (backups + 1))``.
    Calling it again replaces everything a previous call installed (one bot per process).
    """
    if total_bytes is not None:
        files = (1 + len(symbols)) * (backup_count + 1)
        max_bytes = max(16 * 1024, total_bytes // files)
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


class OneBot(logging.Filter):
    """Passes only the records emitted by one bot's task (``CURRENT_BOT``); tags each record."""

    def __init__(self, bot_name: str | None) -> None:
        """Keep the records of `bot_name` (None: keep every record, tag it)."""
        super().__init__()
        self.bot_name = bot_name

    def filter(self, record: logging.LogRecord) -> bool:
        """Tag the record with its bot; drop it when it belongs to another bot."""
        bot = CURRENT_BOT.get()
        record.bot = bot or "-"
        return self.bot_name is None or bot == self.bot_name


def host_console(console_level: str = "INFO") -> None:
    """A fleet host's console: every bot's records on stderr, each line naming its bot."""
    close_logging()
    logging.getLogger().setLevel(logging.INFO)
    logging.getLogger("optiflow").setLevel(logging.DEBUG)
    console = _mark(logging.StreamHandler(sys.stderr))
    console.setLevel(console_level.upper())
    console.addFilter(OneBot(None))
    console.setFormatter(logging.Formatter(FORMAT.replace("%(name)s", "[%(bot)s] %(name)s")))
    logging.getLogger().addHandler(console)


def add_bot_files(
    state_dir: Path, bot_name: str, symbols: Sequence[str], total_bytes: int
) -> list[tuple[logging.Logger, logging.Handler]]:
    """One hosted bot's files: ``console.log``, ``logs/<bot>/bot.log`` and a file per symbol.

    ``bot.log`` and ``console.log`` hang on the root logger but keep only the records of
    this bot's task (``CURRENT_BOT``); the symbol loggers are the bot's own. Returns what
    was installed, for `remove_bot_files`.
    """
    files = (1 + len(symbols)) * (BACKUP_COUNT + 1)
    max_bytes = max(16 * 1024, total_bytes // files)
    folder = state_dir / "logs" / bot_name
    folder.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    out: list[tuple[logging.Logger, logging.Handler]] = []
    main = _rotating(folder / "bot.log", max_bytes, BACKUP_COUNT)
    console = _mark(QuietRotatingFileHandler(state_dir / "console.log", max_bytes, 1))
    console.setLevel(logging.INFO)
    for handler in (main, console):
        handler.addFilter(OneBot(bot_name))
        root.addHandler(handler)
        out.append((root, handler))
    for symbol in symbols:
        logger = symbol_logger(bot_name, symbol)
        logger.setLevel(logging.DEBUG)
        handler = _rotating(folder / symbol_file_name(symbol), max_bytes, BACKUP_COUNT)
        logger.addHandler(handler)
        out.append((logger, handler))
    return out


def remove_bot_files(installed: list[tuple[logging.Logger, logging.Handler]]) -> None:
    """Detach and close what `add_bot_files` installed."""
    for logger, handler in installed:
        logger.removeHandler(handler)
        handler.close()


def close_logging() -> None:
    """Flush, detach and close every handler `setup_logging` installed."""
    names = ["", "optiflow", *_installed_symbol_loggers]
    for name in names:
        _remove_ours(logging.getLogger(name or None))
    _installed_symbol_loggers.clear()


__all__ = [
    "BACKUP_COUNT",
    "CURRENT_BOT",
    "DEFAULT_TOTAL_MB",
    "MAX_BYTES",
    "OneBot",
    "QuietRotatingFileHandler",
    "SecretFilter",
    "add_bot_files",
    "close_logging",
    "host_console",
    "mask_secrets",
    "register_secret",
    "remove_bot_files",
    "setup_logging",
    "symbol_file_name",
    "symbol_logger",
]
