"""Report files: trades.csv, summary.json and report.html, each written atomically."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path

from optiflow.adapters.files.exports import TRADES_HEADER, write_atomic
from optiflow.app.summary import BotSummary, FleetSummary
from optiflow.domain.results import BotRun
from optiflow.domain.timefmt import iso_utc
from optiflow.interfaces.report.html import render_html
from optiflow.marketdata.candles import CandleArrays


def _plain(value: Decimal) -> str:
    """Format a Decimal as a plain string without exponent notation."""
    return format(value, "f")


def trades_csv(runs: Sequence[BotRun]) -> str:
    """Render every exit row of every run as CSV text (one line per exit fill)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(TRADES_HEADER)
    for run in runs:
        for row in run.exits:
            writer.writerow(
                (
                    row.bot,
                    row.symbol,
                    row.position_id,
                    iso_utc(row.ts_entry),
                    iso_utc(row.ts_exit),
                    _plain(row.entry_price),
                    _plain(row.exit_price),
                    _plain(row.qty),
                    _plain(row.fees),
                    _plain(row.net_pnl),
                    row.reason,
                )
            )
    return buffer.getvalue()


def summary_json(summaries: Sequence[BotSummary], fleet: FleetSummary | None) -> str:
    """Render per-bot and fleet figures as pretty JSON with sorted keys."""
    payload = {
        "pnl_basis": "net of fees & slippage",
        "bots": [s.to_dict() for s in summaries],
        "fleet": None if fleet is None else fleet.to_dict(),
    }
    return json.dumps(payload, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_outputs(
    out_dir: Path,
    runs: Sequence[BotRun],
    summaries: Sequence[BotSummary],
    fleet: FleetSummary | None,
    prices: Mapping[str, CandleArrays] | None = None,
) -> list[Path]:
    """Write trades.csv, summary.json and report.html into out_dir; return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    return [
        write_atomic(out_dir / "trades.csv", trades_csv(runs)),
        write_atomic(out_dir / "summary.json", summary_json(summaries, fleet)),
        write_atomic(out_dir / "report.html", render_html(summaries, fleet, runs, prices)),
    ]
