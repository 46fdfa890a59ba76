"""Signal, filter, blocker and failure statistics of one bot, from its store."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from optiflow.domain.results import NearMiss
from optiflow.queries.positions import DAY_MS
from optiflow.queries.signals import closed_trades
from optiflow.queries.view import BotView

FAILURE_KINDS = (
    "order_rejected",
    "exit_failing",
    "exit_waiting",
    "stop_failed",
    "stop_unknown",
    "unknown_fill",
    "error",
    "stale_data",
    "store_failed",
    "files",
    "crash",
)
MARKET_FILTERS = ("spread", "volume", "atr")
ACCOUNT_FILTERS = ("notional", "cooldown", "rate", "blacklist")


def counters(view: BotView) -> dict[str, dict[str, Any]]:
    """Per-symbol engine counters (candles, signals, 1+1, entries, rejections)."""
    snap, _ = view.snapshot()
    return dict(sorted(snap.get("bot", {}).get("counters", {}).items()))


@dataclass(frozen=True, slots=True)
class Failures:
    """Errors per symbol and per kind, exit retries and the latest error."""

    cycle_errors: dict[str, int]  # market-data failures per symbol (cycles skipped)
    by_kind: dict[str, int]
    by_symbol: dict[str, int]
    retries: int  # refused exits being retried now (per position backoff count, summed)
    last: str | None


def failstats(view: BotView) -> Failures:
    """Failures from the notes table and the state files."""
    notes = [n.note for n in view.notes() if n.note.kind in FAILURE_KINDS]
    symbols = view.monitoring().get("symbols", {})
    snap, _ = view.snapshot()
    blocks = snap.get("bot", {}).get("exit_block", {})
    return Failures(
        cycle_errors={s: int(b.get("errors", 0) or 0) for s, b in sorted(symbols.items())},
        by_kind=dict(Counter(n.kind for n in notes).most_common()),
        by_symbol=dict(Counter(n.symbol or "-" for n in notes).most_common()),
        retries=sum(int(v[0]) for v in blocks.values()),
        last=notes[-1].text if notes else None,
    )


@dataclass(frozen=True, slots=True)
class Blockers:
    """Rejections by reason per symbol: all time (counters) and today (near-miss log)."""

    all_time: dict[str, dict[str, int]]
    today: dict[str, dict[str, int]]


def blockers(view: BotView) -> Blockers:
    """Which filters blocked 1+1 signals, per symbol."""
    now = view.now_ms()
    start = now - now % DAY_MS
    today: dict[str, Counter[str]] = {}
    for m in view.near_misses():
        if m.kind == "filter" and m.ts >= start:
            today.setdefault(m.symbol, Counter())[m.reason] += 1
    return Blockers(
        all_time={s: dict(sorted(c["rejections"].items())) for s, c in counters(view).items()},
        today={s: dict(sorted(c.items())) for s, c in sorted(today.items())},
    )


@dataclass(frozen=True, slots=True)
class FilterRow:
    """One filter: on/off, its setting, how many 1+1 signals it blocked and its pass rate."""

    name: str
    enabled: bool | None
    setting: str
    blocked: int
    pass_rate: float | None  # share of 1+1 signals it let through


def _settings(view: BotView) -> dict[str, tuple[bool, str]]:
    """Each filter's switch and setting in words, from the config."""
    if view.cfg is None:
        return {}
    f = view.cfg.filters
    return {
        "spread": (f.spread.enabled, f"max {f.spread.max_pct} %"),
        "volume": (f.volume.enabled, f"volume >= {f.volume.mult} x median"),
        "atr": (f.atr.enabled, f"ATR >= {f.atr.mult} x median"),
        "notional": (f.notional.enabled, f"min {f.notional.min_usdt} USDT"),
        "cooldown": (f.cooldown.enabled, f"{f.cooldown.seconds:g} s per symbol"),
        "rate": (f.rate.enabled, f"max {f.rate.max_entries_per_hour} entries/h"),
        "blacklist": (
            f.blacklist.enabled,
            f"{f.blacklist.stop_losses} SL in {f.blacklist.window_min:g} min -> "
            f"pause {f.blacklist.pause_min:g} min",
        ),
    }


def filters(view: BotView) -> list[FilterRow]:
    """Every filter with its setting and pass rate over all 1+1 signals."""
    cs = counters(view)
    passes = sum(int(c["passes_1plus1"]) for c in cs.values())
    settings = _settings(view)
    out = []
    for name in (*MARKET_FILTERS, *ACCOUNT_FILTERS):
        blocked = sum(int(c["rejections"].get(name, 0)) for c in cs.values())
        enabled, setting = settings.get(name, (None, "?"))
        rate = None if passes == 0 else 1 - blocked / passes
        out.append(FilterRow(name, enabled, setting, blocked, rate))
    return out


@dataclass(frozen=True, slots=True)
class SignalRow:
    """Signal counts of one symbol and the results of the positions it opened."""

    symbol: str
    primary: int
    confirming: int
    passes: int
    entries: int
    positions: int  # closed positions (not open any more)
    wins: int
    net: Decimal


def signalstats(view: BotView) -> list[SignalRow]:
    """Per symbol: primary, confirming and 1+1 counts, win rate and net PnL of its trades."""
    trades = closed_trades(view)
    out = []
    for sym, c in counters(view).items():
        nets = [t.net for t in trades if t.symbol == sym]
        out.append(
            SignalRow(
                sym,
                int(c["primary"]),
                int(c["confirming"]),
                int(c["passes_1plus1"]),
                int(c["entries"]),
                len(nets),
                sum(1 for v in nets if v > 0),
                sum(nets, Decimal(0)),
            )
        )
    return out


def near(view: BotView, limit: int = 10) -> list[NearMiss]:
    """The latest near misses (newest last) with their deciding values."""
    return view.near_misses(limit)
