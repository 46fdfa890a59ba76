"""The signals that fired for an entry: in its notification, its position, a restart, its trades."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal

from optiflow.config.models import BotConfig
from optiflow.domain.events import Notify, PriceTicked
from optiflow.engine.snapshot import from_snapshot, to_snapshot
from optiflow.signals.oneplusone import split_combo
from tests.engine.test_bot import MIN, SYM, T0, candle, fill, make_bot, orders

SIGNALS = {
    "primary": ["ema_trend", "breakout", "ema_cross"],
    "confirming": ["rsi_band", "macd_rising", "ob_imbalance"],
}


def test_entry_note_names_size_ladder_and_signals(make_config: Callable[..., BotConfig]) -> None:
    """BUY note: pair, price, size, notional, TP1/TP2/SL, steps, primary and confirming fired."""
    bot = make_bot(make_config(signals=SIGNALS))
    (order,) = orders(candle(bot, T0))  # ema_trend, breakout, rsi_band, macd_rising fire
    assert bot.orders[order.client_id].signals == "ema_trend,breakout+rsi_band,macd_rising"
    (note,) = [c for c in fill(bot, order, 100.0, T0 + MIN) if isinstance(c, Notify)]
    pos = bot.positions[SYM]
    lv = pos.levels
    assert note.kind == "entry" and pos.signals == "ema_trend,breakout+rsi_band,macd_rising"
    steps = ", ".join(f"{s:.8g}" for s in lv.steps)
    assert lv.tp1 is not None and steps and order.qty == Decimal("1.5")
    assert note.text == (
        f"BUY {SYM} {order.qty} @ 100.0 = 150.00 USDT (TP1 {lv.tp1:.8g}, TP2 {lv.tp2:.8g}, "
        f"SL {lv.sl:.8g}; steps {steps}; primary ema_trend, breakout; "
        "confirming rsi_band, macd_rising)"
    )


def test_signals_survive_a_restart_and_reach_the_trades(
    make_config: Callable[..., BotConfig],
) -> None:
    """Snapshot → JSON → restore between order and fill and after it; exits keep the combo."""
    cfg = make_config(signals=SIGNALS)
    bot = make_bot(cfg)
    (order,) = orders(candle(bot, T0))

    def restart() -> None:
        nonlocal bot
        snap = json.loads(json.dumps(to_snapshot(bot)))
        bot = from_snapshot(bot.s, bot.limits, snap)

    restart()
    fill(bot, order, 100.0, T0 + MIN)
    restart()
    assert bot.positions[SYM].signals == "ema_trend,breakout+rsi_band,macd_rising"
    (sl,) = orders(bot.handle(PriceTicked(SYM, T0 + 2 * MIN, 99.0)))
    fill(bot, sl, 99.0, T0 + 2 * MIN)
    (row,) = bot.exits
    assert row.signals == "ema_trend,breakout+rsi_band,macd_rising"
    assert row.net_pnl < Decimal(0)
    assert split_combo(row.signals) == (["ema_trend", "breakout"], ["rsi_band", "macd_rising"])


def test_an_old_snapshot_without_signals_still_loads(
    make_config: Callable[..., BotConfig],
) -> None:
    """A snapshot written before signals were recorded restores with an empty combination."""
    bot = make_bot(make_config())
    (order,) = orders(candle(bot, T0))
    fill(bot, order, 100.0, T0 + MIN)
    snap = json.loads(json.dumps(to_snapshot(bot)))
    for p in snap["positions"]:
        del p["signals"]
    back = from_snapshot(bot.s, bot.limits, snap)
    assert back.positions[SYM].signals == ""
