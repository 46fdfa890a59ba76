"""The human/tool state files of one bot, each written atomically from what the store holds.

Files (all UTF-8, in the bot's state folder):

- ``active_trades.json``: a JSON list of the open positions as given, each with ISO times
  added (``entry_time`` from ``ts_entry``).
- ``tp_performance.csv``: one line per closed position (its exit rows aggregated).
- ``debug_monitoring_summary.json``: ``{"bot": ..., "symbols": {...}, "totals": {...}}``.
- ``trades_YYYY-MM-DD.csv``: the exit fills of one UTC day (the backtest trades.csv columns).

A file whose content would not change is not rewritten; a file that was corrupted on disk
(truncated, garbage) differs from the fresh content and is therefore rewritten.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from optiflow.adapters.files.write_errors import (
    report_failure,
    report_success,
    set_file_error_hook,
)
from optiflow.domain.results import ExitRow, SymbolStats
from optiflow.domain.timefmt import iso_utc, utc_day

ACTIVE_TRADES = "active_trades.json"
TP_PERFORMANCE = "tp_performance.csv"
MONITORING_SUMMARY = "debug_monitoring_summary.json"

TRADES_HEADER = (  # the same columns as the backtest's trades.csv
    "bot",
    "symbol",
    "position_id",
    "entry_time",
    "exit_time",
    "entry_price",
    "exit_price",
    "qty",
    "fees",
    "net_pnl",
    "exit_reason",
)
TP_PERFORMANCE_HEADER = (
    "bot",
    "symbol",
    "position_id",
    "entry_time",
    "exit_time",
    "hold_minutes",
    "entry_price",
    "avg_exit_price",
    "qty",
    "fees",
    "net_pnl",
    "pnl_pct",
    "final_reason",
    "reasons",
    "tp1_hit",
    "tp2_hit",
)


def _plain(value: Decimal) -> str:
    """A Decimal as plain text, exactly, without exponent notation."""
    return format(value, "f")


def _rounded(value: Decimal, places: int) -> str:
    """A computed Decimal rounded to `places` decimals, trailing zeros removed."""
    q = value.quantize(Decimal(1).scaleb(-places)).normalize()
    return format(q, "f") if q != 0 else "0"


def write_atomic(path: Path, text: str) -> Path:
    """Write `text` via a temp file in the same folder: flush, fsync, os.replace, fsync dir."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    try:
        dir_fd = os.open(path.parent, os.O_RDONLY)
    except OSError:  # some platforms cannot open a folder; the rename is done anyway
        return path
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)
    return path


def write_if_changed(path: Path, text: str) -> bool:
    """Write `text` atomically unless the file already holds exactly it; True if written."""
    try:
        if path.read_bytes() == text.encode("utf-8"):
            return False
    except OSError:
        pass
    write_atomic(path, text)
    return True


def _json(value: Any) -> str:
    """Pretty, stable JSON text (Decimals and other odd values as strings)."""
    return json.dumps(value, indent=2, ensure_ascii=False, default=str) + "\n"


def active_trades_json(positions: Sequence[Mapping[str, Any]]) -> str:
    """The open positions as a JSON list, with ``entry_time`` (ISO) added from ``ts_entry``."""
    out: list[dict[str, Any]] = []
    for pos in positions:
        row = dict(pos)
        ts = row.get("ts_entry")
        if isinstance(ts, int) and not isinstance(ts, bool):
            row["entry_time"] = iso_utc(ts)
        out.append(row)
    return _json(out)


def read_active_trades(path: Path) -> list[dict[str, Any]] | None:
    """The positions in an active_trades.json, or None if it is missing, cut short or garbage."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, list) or not all(isinstance(p, dict) for p in data):
        return None
    return data


def _csv(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """CSV text with a header and \\n line ends."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


@lru_cache(maxsize=20_000)
def _position_line(rows: tuple[ExitRow, ...]) -> tuple[str, ...]:
    """One tp_performance line from all exit rows of one position (cached: closed = final)."""
    first, last = rows[0], rows[-1]
    qty = sum((r.qty for r in rows), Decimal(0))
    fees = sum((r.fees for r in rows), Decimal(0))
    pnl = sum((r.net_pnl for r in rows), Decimal(0))
    ts_entry = min(r.ts_entry for r in rows)
    avg_exit = sum((r.exit_price * r.qty for r in rows), Decimal(0)) / qty if qty else Decimal(0)
    notional = first.entry_price * qty
    pct = _rounded(pnl / notional * 100, 4) if notional else ""
    hold = _rounded(Decimal(last.ts_exit - ts_entry) / 60_000, 2)
    reasons = [r.reason for r in rows]
    return (
        first.bot,
        first.symbol,
        first.position_id,
        iso_utc(ts_entry),
        iso_utc(last.ts_exit),
        hold,
        _plain(first.entry_price),
        _rounded(avg_exit, 10),
        _plain(qty),
        _plain(fees),
        _plain(pnl),
        pct,
        last.reason,
        "|".join(reasons),
        str("tp1" in reasons).lower(),
        str("tp2" in reasons).lower(),
    )


def tp_performance_csv(exits: Iterable[ExitRow], open_ids: Iterable[str] = ()) -> str:
    """Closed positions, one line each (exit rows aggregated), ordered by their last exit."""
    skip = set(open_ids)
    by_position: dict[str, list[ExitRow]] = {}
    for row in sorted(exits, key=lambda r: r.ts_exit):
        if row.position_id not in skip:
            by_position.setdefault(row.position_id, []).append(row)
    groups = sorted(by_position.values(), key=lambda g: (g[-1].ts_exit, g[0].position_id))
    return _csv(TP_PERFORMANCE_HEADER, (_position_line(tuple(g)) for g in groups))


def trades_day_csv(exits: Iterable[ExitRow]) -> str:
    """Exit fills as trades.csv lines (the caller picks the day), ordered by exit time."""
    lines = (
        (
            r.bot,
            r.symbol,
            r.position_id,
            iso_utc(r.ts_entry),
            iso_utc(r.ts_exit),
            _plain(r.entry_price),
            _plain(r.exit_price),
            _plain(r.qty),
            _plain(r.fees),
            _plain(r.net_pnl),
            r.reason,
        )
        for r in sorted(exits, key=lambda r: r.ts_exit)
    )
    return _csv(TRADES_HEADER, lines)


def exits_by_day(exits: Iterable[ExitRow]) -> dict[date, list[ExitRow]]:
    """Exit rows grouped by the UTC day of their exit."""
    days: dict[date, list[ExitRow]] = {}
    for row in exits:
        days.setdefault(utc_day(row.ts_exit), []).append(row)
    return days


def trades_file_name(day: date) -> str:
    """The name of one day's trades file: ``trades_YYYY-MM-DD.csv``."""
    return f"trades_{day.isoformat()}.csv"


def _iso_or_none(ms: object) -> str | None:
    """ISO text of a ms timestamp, or None when there is none."""
    return iso_utc(ms) if isinstance(ms, int) and not isinstance(ms, bool) else None


def _symbol_block(stats: SymbolStats, runtime: Mapping[str, Any]) -> dict[str, Any]:
    """The summary of one symbol: counters plus runtime health."""
    rejections = dict(sorted(stats.rejections))
    return {
        "candles": stats.candles,
        "signals": {"primary": stats.primary, "confirming": stats.confirming},
        "passes_1plus1": stats.passes_1plus1,
        "entries": stats.entries,
        "rejections": rejections,
        "rejections_total": sum(rejections.values()),
        "near_misses": {"one_group": stats.near_miss_one_group, "filter": stats.near_miss_filter},
        "errors": int(runtime.get("errors", 0) or 0),
        "last_cycle_time": _iso_or_none(runtime.get("last_cycle_ts")),
        "last_cycle_ms": runtime.get("last_cycle_ms"),
        "stale": bool(runtime.get("stale", False)),  # no new closed candle for 3 timeframes
        "last_candle_age_s": runtime.get("last_candle_age_s"),
    }


def monitoring_summary_json(
    stats: Mapping[str, SymbolStats],
    symbol_runtime: Mapping[str, Mapping[str, Any]],
    info: Mapping[str, Any],
) -> str:
    """Per-symbol counters and health plus fleet-level totals, as pretty JSON."""
    bot = dict(info)
    for key in ("started", "updated"):
        if isinstance(bot.get(key), int) and not isinstance(bot.get(key), bool):
            bot[f"{key}_ms"] = bot[key]
            bot[key] = iso_utc(bot[key])
    symbols = sorted(set(stats) | set(symbol_runtime))
    blocks = {
        s: _symbol_block(stats.get(s, SymbolStats()), symbol_runtime.get(s, {})) for s in symbols
    }
    totals: dict[str, Any] = {
        key: sum(b[key] for b in blocks.values())
        for key in ("candles", "passes_1plus1", "entries", "rejections_total", "errors")
    }
    totals["primary"] = sum(b["signals"]["primary"] for b in blocks.values())
    totals["confirming"] = sum(b["signals"]["confirming"] for b in blocks.values())
    return _json({"bot": bot, "symbols": blocks, "totals": totals})


def write_state_files(
    folder: Path,
    *,
    positions: Sequence[Mapping[str, Any]],
    exits: Sequence[ExitRow],
    stats: Mapping[str, SymbolStats],
    symbol_runtime: Mapping[str, Mapping[str, Any]],
    info: Mapping[str, Any],
    days: Iterable[date] | None = None,
    on_error: Callable[[str], None] | None = None,
) -> list[Path]:
    """Refresh every state file in `folder`; return the paths actually (re)written.

    `exits` is every exit row of the bot (positions still open are left out of
    tp_performance.csv). `days` limits which trades_*.csv files are rendered (the UTC days
    touched since the last call); None renders all days. Unchanged files are not rewritten.

    These files are conveniences: a write that fails (read-only folder, full disk) never
    raises. The first failure is logged once as a WARNING and reported once to `on_error`
    (or the hook given to `set_file_error_hook`); each later call retries, and the
    recovery is logged.
    """
    try:
        written = _write_all(folder, positions, exits, stats, symbol_runtime, info, days)
    except OSError as exc:
        report_failure(folder, exc, on_error)
        return []
    report_success(folder)
    return written


def _write_all(
    folder: Path,
    positions: Sequence[Mapping[str, Any]],
    exits: Sequence[ExitRow],
    stats: Mapping[str, SymbolStats],
    symbol_runtime: Mapping[str, Mapping[str, Any]],
    info: Mapping[str, Any],
    days: Iterable[date] | None,
) -> list[Path]:
    """Render and write every file; one that fails does not keep the others from being
    written (the first OSError is raised at the end)."""
    folder.mkdir(parents=True, exist_ok=True)
    open_ids = [str(p.get("position_id")) for p in positions]
    texts: list[tuple[Path, str]] = [
        (folder / ACTIVE_TRADES, active_trades_json(positions)),
        (folder / TP_PERFORMANCE, tp_performance_csv(exits, open_ids)),
        (folder / MONITORING_SUMMARY, monitoring_summary_json(stats, symbol_runtime, info)),
    ]
    grouped = exits_by_day(exits)
    wanted = sorted(grouped) if days is None else sorted(set(days) & set(grouped))
    texts += [(folder / trades_file_name(d), trades_day_csv(grouped[d])) for d in wanted]
    written: list[Path] = []
    failed: OSError | None = None
    for path, text in texts:
        try:
            if write_if_changed(path, text):
                written.append(path)
        except OSError as exc:
            failed = failed or exc
    if failed is not None:
        raise failed
    return written


__all__ = [
    "ACTIVE_TRADES",
    "MONITORING_SUMMARY",
    "TP_PERFORMANCE",
    "TP_PERFORMANCE_HEADER",
    "TRADES_HEADER",
    "active_trades_json",
    "exits_by_day",
    "iso_utc",
    "monitoring_summary_json",
    "read_active_trades",
    "set_file_error_hook",
    "tp_performance_csv",
    "trades_day_csv",
    "trades_file_name",
    "utc_day",
    "write_atomic",
    "write_if_changed",
    "write_state_files",
]
