"""Shadow outcomes: hand-computed exits and net PnL per filter kind; shadows change no trade."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from optiflow.config.loader import load_config
from optiflow.engine.shadows import ShadowBook
from optiflow.marketdata.loaders import load_folder
from optiflow.runtimes.backtest import run_backtest
from tests.engine.shadow_support import SYM, book
from tests.runtimes.runs_support import assert_same_run

REPO = Path(__file__).resolve().parents[2]
TF = 60_000
T0 = 1_700_000_000_000  # the signal candle's close


def candle(b: ShadowBook, n: int, o: float, h: float, lo: float, c: float) -> None:
    """Play the n-th candle after the signal (n = 0 opens at the signal's close)."""
    b.play_candle(SYM, T0 + n * TF, TF, o, h, lo, c)


def opened(b: ShadowBook, reasons: tuple[str, ...]) -> None:
    """A $100 stake blocked at close 100.00: 1.000 at 100.05 (+slippage), fee 0.10005."""
    b.apply(SYM, T0, reasons, Decimal(100), 100.0)
    pos = b.open[SYM].pos
    assert (pos.qty0, pos.entry_price, pos.entry_fee) == (
        Decimal("1.000"),
        Decimal("100.05"),
        Decimal("0.10005"),
    )


def cents(x: Decimal) -> Decimal:
    """Round to the cent."""
    return x.quantize(Decimal("0.01"))


def test_market_filter_shadow_takes_tp1_then_tp2() -> None:
    """volume-blocked: TP1 half at 100.49, TP2 half at 100.99 (after slippage): +0.49."""
    b = book()
    opened(b, ("volume",))
    candle(b, 0, 100.1, 101.2, 100.0, 101.0)
    assert SYM not in b.open
    (res,) = b.finished
    assert [(r, q, px) for r, q, px in res.exits] == [
        ("tp1", Decimal("0.500"), Decimal("100.49")),
        ("tp2", Decimal("0.500"), Decimal("100.99")),
    ]
    # tp1: 0.44 x 0.5 - (0.050025 + 0.050245) = 0.11973; tp2: 0.94 x 0.5 - 0.10052 = 0.36948
    assert res.net_pnl == Decimal("0.48921")
    assert cents(res.net_pnl) == Decimal("0.49")
    assert res.exit_reason == "tp2"
    t = b.table()["volume"]
    assert (t["blocked"], t["shadow_wins"], t["shadow_losses"]) == (1, 1, 0)
    assert b.top == [res]


def test_capacity_shadow_stopped_out() -> None:
    """capacity-blocked: the SL at 99.0495 fills at 98.99: -1.06 - 0.19904 = -1.26."""
    b = book()
    opened(b, ("capacity",))
    candle(b, 0, 99.9, 100.0, 98.5, 98.7)
    (res,) = b.finished
    assert res.exits == (("sl", Decimal("1.000"), Decimal("98.99")),)
    assert res.net_pnl == Decimal("-1.25904")
    assert cents(res.net_pnl) == Decimal("-1.26")
    t = b.table()["capacity"]
    assert (t["blocked"], t["shadow_wins"], t["shadow_losses"]) == (1, 0, 1)
    assert t["shadow_net_pnl"] == Decimal("-1.25904")
    assert b.top == []  # only winners are "missed winners"


def test_cooldown_shadow_tp1_then_breakeven_stop() -> None:
    """cooldown-blocked: TP1 half (+0.11973), then the break-even stop 100.26 fills at
    100.20 (-0.025125): +0.09; two filters blocking it are each credited."""
    b = book()
    opened(b, ("cooldown", "rate"))
    candle(b, 0, 100.1, 100.6, 100.0, 100.5)
    assert b.open[SYM].pos.stop == 100.26 and b.open[SYM].pos.stop_is_breakeven
    candle(b, 1, 100.4, 100.45, 100.2, 100.3)
    (res,) = b.finished
    assert res.exits == (
        ("tp1", Decimal("0.500"), Decimal("100.49")),
        ("sl_breakeven", Decimal("0.500"), Decimal("100.20")),
    )
    assert res.net_pnl == Decimal("0.094605")
    for reason in ("cooldown", "rate"):
        assert b.table()[reason]["shadow_net_pnl"] == Decimal("0.094605")
        assert b.table()[reason]["shadow_wins"] == 1


def test_balance_shadow_max_hold_and_one_per_symbol() -> None:
    """balance-blocked, sized as if the money were there: MaxHold (2 min) closes all at the
    third candle's open 100.30 -> 100.24: 0.19 - 0.20029 = -0.01. A second blocked signal
    while it is open is counted but opens no shadow."""
    b = book(max_hold_min=2)
    opened(b, ("balance",))
    candle(b, 0, 100.1, 100.3, 99.9, 100.2)
    b.apply(SYM, T0 + TF, ("balance",), Decimal(100), 100.2)  # counted, no second shadow
    candle(b, 1, 100.2, 100.3, 99.9, 100.1)
    assert SYM in b.open and not b.finished
    candle(b, 2, 100.3, 100.5, 100.2, 100.4)
    (res,) = b.finished
    assert res.exits == (("max_hold", Decimal("1.000"), Decimal("100.24")),)
    assert res.net_pnl == Decimal("-0.01029")
    assert cents(res.net_pnl) == Decimal("-0.01")
    t = b.table()["balance"]
    assert (t["blocked"], t["shadow_wins"], t["shadow_losses"]) == (2, 0, 1)


CONFIGS = [
    "runtime_config_optiscalpA.json",
    "runtime_config_optiscalpB.json",
    "runtime_config_optiscalpC.json",
    "reference_ema_rsi.json",
]


@pytest.mark.parametrize("name", CONFIGS)
def test_shadows_change_no_real_trade_on_full_data(name: str) -> None:
    """The full bundled data: same exits, counters, near misses and equity, shadows on/off."""
    cfg = load_config(REPO / "configs" / name)
    data = load_folder(REPO / "data" / "binance_spot_1m", list(cfg.pairs), None, None)
    off = cfg.model_copy(update={"shadows": cfg.shadows.model_copy(update={"enabled": False})})
    on_run, off_run = run_backtest(cfg, data), run_backtest(off, data)
    assert_same_run(on_run, off_run, min_exits=101)
    assert on_run.extra["sim_balances"] == off_run.extra["sim_balances"]
    assert "shadow_outcomes" not in off_run.extra
    shadows = on_run.extra["shadow_outcomes"]
    assert sum(v["shadow_wins"] + v["shadow_losses"] for v in shadows.values()
               ) > 0  # fmt: skip


def test_open_shadows_survive_a_restart_from_the_snapshot() -> None:
    """A bot restored from its snapshot continues its open shadow exactly as the original."""
    from optiflow.config.markets import market_limits
    from optiflow.engine.bot import Bot
    from optiflow.engine.settings import settings_from_config
    from optiflow.engine.snapshot import from_snapshot, to_snapshot

    cfg = load_config(REPO / "configs" / "runtime_config_optiscalpA.json")
    s = settings_from_config(cfg)
    limits = {sym: market_limits(cfg, sym) for sym in s.symbols}
    bot = Bot(s, limits)
    assert bot.shadows is not None
    sym = s.symbols[0]
    bot.shadows.apply(sym, T0, ("capacity",), bot.shadow_stake(), 30000.0)
    bot.shadows.play_candle(sym, T0, TF, 30010.0, 30100.0, 29990.0, 30090.0)  # TP1 and steps
    snap = to_snapshot(bot)
    again = from_snapshot(s, limits, snap)
    assert again.shadows is not None and sym in again.shadows.open
    assert to_snapshot(again) == snap
    for b in (bot, again):
        assert b.shadows is not None
        b.shadows.play_candle(sym, T0 + TF, TF, 30080.0, 30085.0, 29000.0, 29100.0)
    assert bot.shadows.finished == again.shadows.finished
    assert len(again.shadows.finished) == 1 and bot.shadows.table() == again.shadows.table()
    off = cfg.model_copy(update={"shadows": cfg.shadows.model_copy(update={"enabled": False})})
    assert Bot(settings_from_config(off), limits).shadows is None


def test_unsaved_batches_keep_their_finished_shadows() -> None:
    """A live bot whose store could not save merges batches: no finished shadow is dropped."""
    from optiflow.domain.results import ShadowResult
    from optiflow.ports.store import StateBatch, merge_batches

    def res(n: int) -> ShadowResult:
        """A finished shadow numbered n."""
        return ShadowResult(SYM, n, n + 1, ("rate",), Decimal(1), Decimal(1), Decimal(n), "tp2")

    merged = merge_batches(
        [StateBatch({"a": 1}, shadows=(res(1),)), StateBatch({"a": 2}, shadows=(res(2), res(3)))]
    )
    assert merged.shadows == (res(1), res(2), res(3)) and merged.snapshot == {"a": 2}
