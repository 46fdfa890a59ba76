"""Runtime protection: a crash is logged with its traceback, announced, and exits 1."""

from __future__ import annotations

import logging

import pytest

from optiflow.domain.events import Notify
from optiflow.interfaces.cli.run import serve_protected


class Collect:
    """A notifier that keeps what it is told."""

    def __init__(self) -> None:
        """Start empty."""
        self.notes: list[Notify] = []

    def notify(self, note: Notify) -> None:
        """Keep one note."""
        self.notes.append(note)


class Exploding:
    """A runtime that fails unexpectedly."""

    stop_requested = False

    async def run(self) -> None:
        """Raise like a bug would."""
        raise ZeroDivisionError("boom in the cycle")


class Clean:
    """A runtime that finishes."""

    stop_requested = False

    async def run(self) -> None:
        """Do nothing."""


def test_unexpected_exception_is_logged_announced_and_exits_1(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The traceback goes to the log, the user is told, the exit code is 1."""
    notes = Collect()
    with caplog.at_level(logging.ERROR, logger="optiflow.runtime"):
        code = serve_protected(Exploding(), notes, "OptiScalp_T")
    assert code == 1
    assert any(n.kind == "crash" and "ZeroDivisionError" in n.text for n in notes.notes)
    assert any(r.exc_info and "boom in the cycle" in str(r.exc_info[1]) for r in caplog.records)


def test_clean_run_exits_0() -> None:
    """A run that ends normally exits 0 and announces no crash."""
    notes = Collect()
    assert serve_protected(Clean(), notes, "OptiScalp_T") == 0
    assert notes.notes == []
