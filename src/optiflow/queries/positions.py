"""Open positions and the money summary of one bot, from its stored snapshot and exits."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from optiflow.queries.view import BotView

DAY_MS = 86_400_000


@dataclass(frozen=True, slots=True)
class OpenPosition:
    """One open position with its levels and its unrealised PnL net of fees."""

    symbol: str
    entry: Decimal
    price: Decimal | None  # the latest price the bot saw (None when unknown)
    qty: Decimal
    upnl: Decimal | None  # at ``price``, net of the entry fee share and the exit fee
    tp1: float | None
    tp2: float
    sl: float
    stop: float
    stop_is_breakeven: bool
    steps: tuple[float, ...]
    steps_fired: tuple[bool, ...]
    age_ms: int


def _dec(value: Any) -> Decimal:
    return Decimal(str(value))


def net_at(p: dict[str, Any], price: Decimal, fee_rate: Decimal) -> Decimal:
    """What selling the rest of position ``p`` at ``price`` nets after both fees."""
    qty, qty0 = _dec(p["qty"]), _dec(p["qty0"])
    entry_share = _dec(p["entry_fee"]) * qty / qty0 if qty0 else Decimal(0)
    return (price - _dec(p["entry_price"])) * qty - entry_share - price * qty * fee_rate


def open_positions(view: BotView) -> list[OpenPosition]:
    """Every open position of the bot, by symbol."""
    snap, _ = view.snapshot()
    now = view.now_ms()
    prices = {k: _dec(v) for k, v in snap.get("sim", {}).get("last_price", {}).items()}
    rate = view.fee_rate()
    out = []
    for p in snap.get("bot", {}).get("positions", []):
        lv = p["levels"]
        price = prices.get(p["symbol"])
        out.append(
            OpenPosition(
                symbol=p["symbol"],
                entry=_dec(p["entry_price"]),
                price=price,
                qty=_dec(p["qty"]),
                upnl=None if price is None else net_at(p, price, rate),
                tp1=lv["tp1"],
                tp2=lv["tp2"],
                sl=lv["sl"],
                stop=float(p["stop"]),
                stop_is_breakeven=bool(p["stop_is_breakeven"]),
                steps=tuple(lv["steps"]),
                steps_fired=tuple(bool(x) for x in p["steps_fired"]),
                age_ms=max(0, now - int(p["ts_entry"])),
            )
        )
    return sorted(out, key=lambda o: o.symbol)


@dataclass(frozen=True, slots=True)
class Summary:
    """Balance, equity, open risk and PnL of one bot."""

    balance: Decimal  # free cash
    equity: Decimal  # cash + open positions at their latest price (entry when unknown)
    open_risk: Decimal  # what the open positions lose (net) if every stop fills; >= 0
    open_positions: int
    pnl_today: Decimal
    pnl_all: Decimal
    days: float  # days the PnL/day averages over
    pnl_per_day: Decimal
    target: tuple[Decimal, Decimal] | None  # the config's $/day range
    day: str  # the UTC day "today" is (the bot's own time)
    now: int = 0  # the bot's own time (ms) the figures are at


def summary(view: BotView) -> Summary:
    """The money summary at the bot's latest commit."""
    snap, cursor, exits = view.snapshot_and_exits()  # one commit: figures agree
    bot = snap.get("bot", {})
    ts = cursor.get("ts")
    now = ts if isinstance(ts, int) and ts >= 0 else int(time.time() * 1000)
    rate = view.fee_rate()
    prices = {k: _dec(v) for k, v in snap.get("sim", {}).get("last_price", {}).items()}
    cash = _dec(bot.get("cash", "0"))
    equity, risk = cash, Decimal(0)
    positions = bot.get("positions", [])
    for p in positions:
        price = prices.get(p["symbol"], _dec(p["entry_price"]))
        equity += price * _dec(p["qty"])
        risk += -min(Decimal(0), net_at(p, _dec(repr(float(p["stop"]))), rate))
    day_start = now - now % DAY_MS
    pnl_all = sum((e.net_pnl for e in exits), Decimal(0))
    pnl_today = sum((e.net_pnl for e in exits if e.ts_exit >= day_start), Decimal(0))
    starts = [e.ts_entry for e in exits] + [int(p["ts_entry"]) for p in positions]
    first = min(starts) if starts else now
    days = max(1.0, (now - first) / DAY_MS)
    cfg = view.cfg
    target = (
        (cfg.targets.daily_usd_min, cfg.targets.daily_usd_max)
        if cfg is not None and cfg.targets is not None
        else None
    )
    return Summary(
        balance=cash,
        equity=equity,
        open_risk=risk,
        open_positions=len(positions),
        pnl_today=pnl_today,
        pnl_all=pnl_all,
        days=days,
        pnl_per_day=pnl_all / Decimal(repr(days)),
        target=target,
        day=datetime.fromtimestamp(now / 1000, UTC).date().isoformat(),
        now=now,
    )
