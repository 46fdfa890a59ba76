"""Shared harness of the live-runtime tests: real candles, an accelerated clock, a fake Binance."""

from __future__ import annotations

import asyncio
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[3]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from optiflow.config.models import BotConfig  # noqa: E402
from optiflow.domain.events import Notify  # noqa: E402
from tests.fakes.binance import FakeBinance  # noqa: E402
from tests.fakes.binance_ledger import load_candles  # noqa: E402

ROWS = load_candles(REPO / "data" / "binance_spot_1m" / "BTC-USDT_1m.csv.gz")[20_000:20_700]
START = int(ROWS[160][0]) + 60_000 + 1_000  # 160 closed candles to warm the indicators


class Collect:
    """A notifier that keeps what it is told."""

    def __init__(self) -> None:
        """Start empty."""
        self.notes: list[Notify] = []

    def notify(self, note: Notify) -> None:
        """Keep one note."""
        self.notes.append(note)

    def kinds(self) -> list[str]:
        """The kinds of the notes so far."""
        return [n.kind for n in self.notes]


class ManualClock:
    """Accelerated time: sleeping jumps the clock (and the fake exchange's book) forward."""

    def __init__(self, fake: FakeBinance, start: int) -> None:
        """Start at ``start`` ms."""
        self.fake, self.now = fake, start
        self.frozen = False  # when set, moving the clock leaves the fake's book alone
        self.move(start)

    def now_ms(self) -> int:
        """The current accelerated time."""
        return self.now

    def move(self, ts: int) -> None:
        """Set the time and the fake's best bid/ask from the real candle trading then."""
        self.now = ts
        self.fake.ledger.fixed_now_ms = ts
        if self.frozen:
            return
        row = next(r for r in reversed(ROWS) if r[0] <= ts)
        price = Decimal(str(row[4] if ts - row[0] >= 30_000 else row[1]))
        self.fake.ledger.set_book("BTCUSDT", str(price - Decimal("0.01")), str(price))

    async def sleep_until(self, ts_ms: int) -> None:
        """Jump to ``ts_ms``."""
        self.move(max(ts_ms, self.now))
        await asyncio.sleep(0)


def new_fake(key: str, secret: str, usdt: str = "1000") -> FakeBinance:
    """A started fake Binance with BTC/USDT, some USDT and 700 real candles."""
    fb = FakeBinance(api_key=key, secret=secret)
    led = fb.ledger
    led.add_market("BTC", "USDT", tick="0.01", step="0.00001", min_notional="5")
    led.set_balance("USDT", usdt)
    led.set_candles("BTCUSDT", ROWS)
    led.fixed_now_ms = START
    return fb.start()


def fast_bot(name: str, mode: str, exchange: dict[str, Any]) -> BotConfig:
    """A small BTC bot that trades often (filters off, TP/SL 0.2 %, 30 min max hold)."""
    off = {"enabled": False}
    return BotConfig.model_validate(
        {
            "name": name,
            "mode": mode,
            "pairs": ["BTC/USDT"],
            "interval_s": 60,
            "exchange": {"id": "binance", "market": "spot", **exchange},
            "capital": {"starting_balance_usdt": 1000, "stake_usdt": 100},
            "signals": {"primary": ["ema_trend"], "confirming": ["rsi_band"]},
            "filters": {
                k: off
                for k in ("spread", "notional", "volume", "atr", "cooldown", "rate", "blacklist")
            },
            "exits": {
                "tp1_pct": None,
                "tp2_pct": 0.2,
                "sl_pct": 0.2,
                "timeout_min": None,
                "max_hold_min": 30,
                "auto_profit_pct": None,
                "breakeven_after_tp1": False,
                "stepwise": {"enabled": False},
            },
        }
    )
