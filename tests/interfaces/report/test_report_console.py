"""The rich console report shows the key figures readably on a 100-column terminal."""

from __future__ import annotations

from rich.console import Console

from optiflow.app.summary import summarize, summarize_fleet
from optiflow.domain.results import BotRun
from optiflow.interfaces.report.console import print_run_report


def _render(runs: list[BotRun], with_fleet: bool = True) -> str:
    """Print the report into a recording 100-column console and return its text."""
    console = Console(record=True, width=100, color_system=None)
    fleet = summarize_fleet(runs) if with_fleet else None
    print_run_report(console, [summarize(r) for r in runs], fleet)
    return console.export_text()


def test_key_figures_present(runs: list[BotRun]) -> None:
    """Net PnL, fees, win rate, $/day vs target, hit rates and verdict words are shown."""
    text = _render(runs)
    assert "net of fees & slippage" in text
    assert "-$0.80" in text and "$0.80" in text and "50.0 %" in text
    assert "-$0.40" in text and "15–25 $/day" in text and "below target" in text
    assert "no target" in text and "Fleet" in text


def test_tables_for_exits_rejections_near_misses(runs: list[BotRun]) -> None:
    """Exit reasons, filter rejections and near misses each get a table."""
    text = _render(runs)
    assert "Exit fills by reason" in text and "tp1" in text and "sl" in text
    assert "Filter rejections" in text and "spread" in text and "balance" in text
    assert "Near misses" in text and "spread_pct=0.52" in text


def test_fits_100_columns(runs: list[BotRun]) -> None:
    """No output line is wider than the 100-column terminal."""
    assert all(len(line) <= 100 for line in _render(runs).splitlines())


def test_zero_trades_shows_dash(runs: list[BotRun]) -> None:
    """A bot with no trades shows a dash for its win rate and no error."""
    text = _render(runs[1:], with_fleet=False)
    assert "—" in text and "(no exits)" in text
