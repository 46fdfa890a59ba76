"""A rehearsal-versus-backtest comparison that runs in a worker process (two at once)."""

from __future__ import annotations

from pathlib import Path


def rehearsal_and_backtest(
    name: str, start: str, end: str, state: str
) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    """Preset ``name`` from ``start`` to ``end``: (rehearsal's trades, backtest's trades)."""
    from optiflow.runtimes.backtest import run_backtest
    from tests.runtimes.test_rehearsal import load, rehearse, trades

    cfg, data = load(name, start, end)
    expected = trades(run_backtest(cfg, data, entries_at_once=True).exits)  # type: ignore[arg-type]
    _, store = rehearse(cfg, data, Path(state))
    try:
        return trades(store.exits()), expected
    finally:
        store.close()
