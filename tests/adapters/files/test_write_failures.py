"""Issue 7, bug 5: state files and log files that cannot be written never stop the bot."""

from __future__ import annotations

import errno
import logging
import os
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[3]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from optiflow.adapters import logs  # noqa: E402
from optiflow.adapters.files import exports  # noqa: E402
from optiflow.adapters.files.exports import write_state_files  # noqa: E402
from optiflow.adapters.files.write_errors import set_file_error_hook  # noqa: E402
from optiflow.domain.results import ExitRow, SymbolStats  # noqa: E402
from tests.interfaces.cli.state_support import fill_up, mounted_tmpfs  # noqa: E402

DAY = 1_700_000_000_000


def write(folder: Path, n: int, on_error: Any = None) -> list[Path]:
    """Write the state files of a bot with `n` closed trades."""
    exits = [
        ExitRow(
            "A",
            "BTC/USDT",
            f"p{i}",
            DAY,
            DAY + 60_000 * (i + 1),
            Decimal(100),
            Decimal(101),
            Decimal(1),
            Decimal("0.1"),
            Decimal("0.9"),
            "tp1",
        )
        for i in range(n)
    ]
    return write_state_files(
        folder,
        positions=[],
        exits=exits,
        stats={"BTC/USDT": SymbolStats()},
        symbol_runtime={},
        info={"name": "A", "n": n},
        on_error=on_error,
    )


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The WARNING lines the files logger produced."""
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def check_outage_and_recovery(folder: Path, caplog: pytest.LogCaptureFixture, free: Any) -> None:
    """Three failing writes: one warning, one notice; after `free()` a write goes through."""
    notices: list[str] = []
    caplog.set_level(logging.DEBUG, logger="optiflow.files")
    for n in range(3):
        assert write(folder, n + 1, notices.append) == []
    assert len(notices) == 1 and "cannot be written" in notices[0] and "ENOSPC" in notices[0]
    assert len(warnings_of(caplog)) == 1
    free()
    assert folder / "tp_performance.csv" in write(folder, 5, notices.append)
    assert len(notices) == 1
    assert warnings_of(caplog)[-1].endswith("are written again")
    assert len((folder / "tp_performance.csv").read_text().splitlines()) == 6


def test_full_disk_warns_once_notifies_once_and_recovers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A full tmpfs: the writes fail quietly (no exception) and resume once there is room."""
    with mounted_tmpfs(tmp_path / "mnt", "1m") as mnt:
        folder = mnt / "state"
        write(folder, 1)
        fill_up(mnt)
        check_outage_and_recovery(folder, caplog, lambda: (mnt / "filler").unlink())


def test_injected_enospc_at_the_write_is_survived(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same with ENOSPC injected at the rename (where no tmpfs can be mounted)."""
    real = os.replace
    state = {"full": True}

    def replace(src: Any, dst: Any) -> None:
        if state["full"]:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(dst))
        real(src, dst)

    monkeypatch.setattr(exports.os, "replace", replace)
    check_outage_and_recovery(tmp_path / "s", caplog, lambda: state.update(full=False))
    assert not list((tmp_path / "s").glob(".*.tmp"))  # no temp file left behind


def test_read_only_folder_goes_to_the_runtime_hook(tmp_path: Path) -> None:
    """Without `on_error`, the hook the runtime installed hears of a read-only folder once."""
    heard: list[str] = []
    set_file_error_hook(heard.append)
    try:
        with mounted_tmpfs(tmp_path / "mnt", "1m", "ro") as mnt:
            assert write(mnt / "state", 1) == []
            assert write(mnt / "state", 2) == []
    finally:
        set_file_error_hook(None)
    assert len(heard) == 1 and "Read-only file system" in heard[0]


@pytest.fixture
def _logging_restored() -> Iterator[None]:
    """Undo the global logging set-up after the test."""
    yield
    logs.close_logging()


@pytest.mark.usefixtures("_logging_restored")
def test_log_files_on_a_full_disk_never_raise_and_resume(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Logging onto a full disk: no exception, no traceback, one stderr line per file; the
    handler frees its own backups, and writes again once there is room."""
    with mounted_tmpfs(tmp_path / "mnt", "2m") as mnt:
        logs.setup_logging(mnt / "logs", "A", ["BTC/USDT"], total_bytes=1_200_000)
        log = logs.symbol_logger("A", "BTC/USDT")
        for i in range(3000):  # fill the budget: rotations happen
            log.debug("line %d %s", i, "x" * 200)
        fill_up(mnt)
        for i in range(2000):
            log.debug("full %d %s", i, "y" * 200)
        err = capsys.readouterr().err
        assert "Traceback" not in err
        failed = [ln for ln in err.splitlines() if "write failed" in ln]
        assert 1 <= len(failed) <= 2, err[-2000:]  # the symbol file and bot.log, once each
        # the handler deleted its own backups to make room: the file is written again
        assert "writing again" in err
        (mnt / "filler").unlink()
        log.debug("after the outage")
        for h in log.handlers:
            h.flush()
        assert "after the outage" in (mnt / "logs" / "A" / "BTC_USDT.log").read_text()


def test_log_budget_bounds_every_file(tmp_path: Path) -> None:
    """`total_bytes` splits one budget over every file and its backups."""
    logs.setup_logging(tmp_path, "A", ["BTC/USDT", "ETH/USDT"], total_bytes=3_000_000)
    try:
        handlers = [h for h in logging.getLogger().handlers if hasattr(h, "maxBytes")]
        assert handlers and all(h.maxBytes == 3_000_000 // (3 * 6) for h in handlers)
        log = logs.symbol_logger("A", "ETH/USDT")
        for i in range(20_000):
            log.debug("line %d %s", i, "z" * 100)
    finally:
        logs.close_logging()
    total = sum(p.stat().st_size for p in (tmp_path / "A").iterdir())
    assert total <= 3_000_000
