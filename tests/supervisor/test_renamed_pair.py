"""Paper mode refuses a pair the exchange no longer lists, naming the renamed replacement."""

from __future__ import annotations

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.fakes.binance import FakeBinance  # noqa: E402
from tests.supervisor.fleet_support import cli, preset  # noqa: E402


def test_paper_refuses_matic_and_names_pol(tmp_path: Path) -> None:
    """Preset C's MATIC/USDT on an exchange listing POL/USDT: exit 2, both pairs named."""
    fake = FakeBinance()
    for base in ("XRP", "AVAX", "POL"):
        fake.ledger.add_market(base, "USDT", tick="0.0001", step="0.1")
        fake.ledger.set_book(f"{base}USDT", "1.0", "1.0001")
    fake.start(0)
    try:
        cfg = preset("C")
        assert "MATIC/USDT" in cfg["pairs"]  # the backtest preset keeps the 2023 pair
        cfg["exchange"]["api_base_url"] = fake.url
        path = tmp_path / "c.json"
        path.write_text(json.dumps(cfg))
        out = cli(
            "run", str(path), "--mode", "paper", "--state-dir", str(tmp_path / "s"),
            "--no-websocket",
        )  # fmt: skip
    finally:
        fake.stop()
    assert out.returncode == 2, out.stderr
    line = next(ln for ln in out.stderr.splitlines() if "not listed" in ln)
    assert "MATIC/USDT" in line and "POL/USDT" in line and "Traceback" not in out.stderr


def test_the_shipped_fleet_trades_pol_not_matic() -> None:
    """configs/fleet_9 is the live-tradable fleet: preset C there trades POL/USDT."""
    c = json.loads((REPO / "configs" / "fleet_9" / "OptiScalp_C.json").read_text())
    assert "POL/USDT" in c["pairs"] and "MATIC/USDT" not in c["pairs"]
    out = cli("fleet", "check", str(REPO / "configs" / "fleet_9"))
    assert out.returncode == 0 and "OK, 9 bots" in out.stdout, out.stderr
    assert sum("(5m)" in ln or "(15m)" in ln for ln in out.stdout.splitlines()) == 3
