"""A bot without a fleet cap looks for one at most once a second, and publishes once it appears."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from optiflow.adapters.files.exposure import LOOK_S, ExposureLedger, write_limits


@dataclass
class _Pos:
    qty: Decimal
    entry_price: Decimal


class _Bot:
    positions = {"BTC/USDT": _Pos(Decimal("0.01"), Decimal("30000"))}


def test_a_cap_added_later_is_published_within_a_second(tmp_path: Path) -> None:
    """No cap: nothing written; a cap added later: this bot's exposure is written (LOOK_S on)."""
    ledger = ExposureLedger(tmp_path / "bot", "bot")
    mine = tmp_path / ".shared" / "exposure" / "bot.json"
    ledger.publish(_Bot())
    assert not mine.exists()
    write_limits(tmp_path, 1000)
    deadline = time.monotonic() + LOOK_S + 30.0  # a loaded machine may stall the loop
    while not mine.exists():
        assert time.monotonic() < deadline, "the cap added later was never seen"
        ledger.publish(_Bot())
        time.sleep(0.02)
    assert json.loads(mine.read_text())["exposure_usdt"] == "300.00000000"
