"""Snapshots with a kept top-winners memo: always the data a fresh snapshot gives."""

from __future__ import annotations

import json

from optiflow.config.loader import load_config
from optiflow.config.markets import market_limits
from optiflow.engine.bot import Bot
from optiflow.engine.settings import settings_from_config
from optiflow.engine.snapshot import TopMemo, to_snapshot
from tests.engine.test_shadows import REPO, T0, TF


def test_memo_snapshots_equal_fresh_ones_as_the_top_list_changes() -> None:
    """Shadows opening, finishing and entering the top list: memo and fresh snapshots agree."""
    cfg = load_config(REPO / "configs" / "runtime_config_optiscalpA.json")
    s = settings_from_config(cfg)
    bot = Bot(s, {sym: market_limits(cfg, sym) for sym in s.symbols})
    assert bot.shadows is not None
    memo, sym, tops = TopMemo(), s.symbols[0], []
    for n in range(6):
        ts = T0 + 3 * n * TF
        bot.shadows.apply(sym, ts, ("capacity",), bot.shadow_stake(), 30000.0 + n)
        bot.shadows.play_candle(sym, ts, TF, 30010.0, 30100.0 + 50 * n, 29990.0, 30090.0)
        for _ in range(2):  # the same state twice: the second reuses the memo's data
            kept = to_snapshot(bot, memo)
            assert kept == to_snapshot(bot)
            assert json.loads(json.dumps(kept)) == to_snapshot(bot)
        tops.append(len(kept["shadows"]["top"]))
    assert tops[-1] > tops[0]  # the top list did change along the way
