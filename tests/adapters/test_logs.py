"""Logging: per-symbol DEBUG files, INFO console, rotation, and secrets masked everywhere."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from logging.handlers import RotatingFileHandler
from pathlib import Path

import pytest

from optiflow.adapters.logs import (
    BACKUP_COUNT,
    MAX_BYTES,
    close_logging,
    register_secret,
    setup_logging,
    symbol_logger,
)

SECRET = "sk_live_9f8e7d6c5b4a"


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """Undo the global logging set-up after each test."""
    root = logging.getLogger()
    level = root.level
    yield
    close_logging()
    root.setLevel(level)
    logging.getLogger("optiflow").setLevel(logging.NOTSET)


def flush() -> None:
    """Flush every handler of the root and optiflow loggers."""
    for name in ("", "optiflow", "optiflow.A.BTC/USDT", "optiflow.A.ETH/USDT"):
        for handler in logging.getLogger(name or None).handlers:
            handler.flush()


def test_symbol_debug_goes_to_its_file_and_not_the_console(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A DEBUG record of BTC/USDT is in BTC_USDT.log and bot.log, not ETH's file nor stderr."""
    setup_logging(tmp_path, "A", ["BTC/USDT", "ETH/USDT"])
    symbol_logger("A", "BTC/USDT").debug("rsi=%.1f below %d", 28.5, 30)
    symbol_logger("A", "ETH/USDT").info("entry ETH")
    flush()
    folder = tmp_path / "A"
    assert "rsi=28.5 below 30" in (folder / "BTC_USDT.log").read_text()
    assert "rsi=28.5" not in (folder / "ETH_USDT.log").read_text()
    assert "entry ETH" in (folder / "ETH_USDT.log").read_text()
    assert "rsi=28.5" in (folder / "bot.log").read_text()
    err = capsys.readouterr().err
    assert "rsi=28.5" not in err and "entry ETH" in err


def test_child_loggers_of_a_symbol_share_its_file(tmp_path: Path) -> None:
    """optiflow.<bot>.<symbol>.<part> records land in the symbol's file too."""
    setup_logging(tmp_path, "A", ["BTC/USDT"])
    logging.getLogger("optiflow.A.BTC/USDT.filters").debug("spread 3bps ok")
    flush()
    assert "spread 3bps ok" in (tmp_path / "A" / "BTC_USDT.log").read_text()


def test_secrets_never_reach_files_or_console(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A registered secret is masked in messages, args and exception tracebacks."""
    register_secret(SECRET)
    setup_logging(tmp_path, "A", ["BTC/USDT"])
    log = symbol_logger("A", "BTC/USDT")
    log.info("key in message " + SECRET)
    log.warning("key in args %s", SECRET)
    try:
        raise RuntimeError(f"auth failed for {SECRET}")
    except RuntimeError:
        log.exception("login error")
    logging.getLogger("ccxt").error("lib says %r", {"apiKey": SECRET})
    flush()
    err = capsys.readouterr().err
    texts = [err] + [p.read_text() for p in (tmp_path / "A").iterdir()]
    assert all(SECRET not in t for t in texts)
    bot_log = (tmp_path / "A" / "bot.log").read_text()
    assert "auth failed for ***" in bot_log and "Traceback" in bot_log
    assert "key in args ***" in err and "'apiKey': '***'" in err


def test_short_or_empty_values_are_not_registered(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An empty or tiny 'secret' would mask ordinary text, so it is ignored."""
    register_secret("")
    register_secret(None)
    register_secret("ab")
    setup_logging(None, "A", [])
    logging.getLogger("optiflow.A").warning("ab cd")
    assert "ab cd" in capsys.readouterr().err


def test_rotation_config_and_rotation(tmp_path: Path) -> None:
    """Files rotate at 5 MB keeping 5 backups by default; a small limit really rotates."""
    setup_logging(tmp_path, "A", ["BTC/USDT"])
    handlers = [
        h
        for h in logging.getLogger("optiflow.A.BTC/USDT").handlers
        if isinstance(h, RotatingFileHandler)
    ]
    assert [(h.maxBytes, h.backupCount) for h in handlers] == [(MAX_BYTES, BACKUP_COUNT)]
    assert (MAX_BYTES, BACKUP_COUNT) == (5 * 1024 * 1024, 5)
    setup_logging(tmp_path, "B", ["BTC/USDT"], max_bytes=2_000, backup_count=2)
    log = symbol_logger("B", "BTC/USDT")
    for i in range(200):
        log.debug("line %d %s", i, "x" * 50)
    names = sorted(p.name for p in (tmp_path / "B").iterdir())
    assert "BTC_USDT.log.1" in names and "BTC_USDT.log.2" in names
    assert "BTC_USDT.log.3" not in names


def test_setting_up_twice_does_not_duplicate_lines(tmp_path: Path) -> None:
    """A second set-up replaces the handlers of the first, so each record is written once."""
    setup_logging(tmp_path, "A", ["BTC/USDT"])
    setup_logging(tmp_path, "A", ["BTC/USDT"])
    symbol_logger("A", "BTC/USDT").info("once")
    flush()
    assert (tmp_path / "A" / "BTC_USDT.log").read_text().count("once") == 1
    assert (tmp_path / "A" / "bot.log").read_text().count("once") == 1
