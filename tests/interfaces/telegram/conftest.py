"""Fixtures shared by the Telegram tests: the fake Bot API server."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
from tests.fakes.telegram import FakeTelegram  # noqa: E402
from tests.interfaces.telegram.support import TOKEN  # noqa: E402


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    """A fake Bot API; no unknown endpoint may be called."""
    server = FakeTelegram(TOKEN).start()
    yield server
    server.stop()
    assert server.unknown == []
