"""Recovery determinism: snapshot the engine and the exchange anywhere, restore, same results."""

from __future__ import annotations

import json
from pathlib import Path

from optiflow.adapters.sim.exchange import sim_restore, sim_to_snapshot
from optiflow.config.loader import load_config
from optiflow.engine.snapshot import from_snapshot, to_snapshot
from optiflow.interfaces.cli.timeparse import parse_when
from optiflow.marketdata.features import compute_features, features_at
from optiflow.marketdata.loaders import load_folder
from optiflow.runtimes.backtest import new_loop, prepare, run_backtest

REPO = Path(__file__).resolve().parents[2]


def test_restoring_snapshots_mid_run_changes_nothing() -> None:
    """Every 997 bars the bot and exchange go through JSON and back; the trade list is unchanged."""
    cfg = load_config(REPO / "configs" / "runtime_config_optiscalpA.json")
    data = load_folder(
        REPO / "data" / "binance_spot_1m",
        list(cfg.pairs),
        parse_when("f", "2023-04-03"),
        parse_when("t", "2023-04-07"),
    )
    expected = run_backtest(cfg, data, fast=False)
    arrays = prepare(cfg, data)
    from optiflow.runtimes.backtest import feature_spec

    spec = feature_spec(cfg, 60_000)
    feats = [compute_features(a, spec) for a in arrays]
    loop, s = new_loop(cfg, arrays, lambda i, row: features_at(feats[i], row))
    exits = []
    d = loop.data
    for t in range(len(d.ts)):
        present = [i for i in range(len(arrays)) if d.rows[i][t] >= 0]
        loop.process_bar(t, present)
        if t % 997 == 0:
            exits += loop.bot.exits
            snap = json.loads(json.dumps(to_snapshot(loop.bot)))
            sim_snap = json.loads(json.dumps(sim_to_snapshot(loop.sim)))
            seen = set(loop.sim.seen_client_ids)
            loop.bot = from_snapshot(s, loop.bot.limits, snap)
            sim_restore(loop.sim, sim_snap, seen)
    loop.finish("end_of_data")
    exits += loop.bot.exits
    assert tuple(exits) == expected.exits
    assert loop.bot.cash == expected.final_balance
