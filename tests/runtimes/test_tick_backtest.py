"""Candle backtests with finer data: real trades as the path, real bid/ask for fills and spread."""

from __future__ import annotations

import gzip
import subprocess
import sys
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from optiflow.config.models import BotConfig
from optiflow.domain.errors import DataError
from optiflow.domain.results import BotRun
from optiflow.marketdata.candles import CandleArrays
from optiflow.marketdata.ticks import BookTickerArrays, TickData, TradeArrays, load_tick_folder
from optiflow.runtimes.backtest import run_backtest
from optiflow.runtimes.tick_paths import candles_from_trades

REPO = Path(__file__).resolve().parents[2]
TICKS = REPO / "data" / "ticks"
MIN = 60_000
SLIP = Decimal("0.0001")  # slippage_pct 0.01
TICK = Decimal("0.01")


def config(**exits: Any) -> BotConfig:
    """A tiny-window long bot on BTC/USDT: EMA(1) > EMA(2), RSI in [0, 100], spread filter."""
    spread_max = exits.pop("spread_max", 0.03)
    return BotConfig.model_validate(
        {
            "name": "T",
            "pairs": ["BTC/USDT"],
            "max_positions": 1,
            "reactive_entry": False,
            "indicators": {
                "ema_fast": 1,
                "ema_slow": 2,
                "rsi_period": 2,
                "macd_fast": 2,
                "macd_slow": 3,
                "macd_signal": 2,
                "atr_period": 2,
                "median_window": 3,
                "breakout_lookback": 2,
                "vwap_window": 3,
            },
            "signals": {
                "primary": ["ema_trend"],
                "confirming": ["rsi_band"],
                "rsi_low": 0,
                "rsi_high": 100,
            },
            "costs": {"assumed_spread_pct": 0.05, "slippage_pct": 0.01},
            "filters": {
                "spread": {"enabled": True, "max_pct": spread_max},
                "notional": {"enabled": False},
                "volume": {"enabled": False},
                "atr": {"enabled": False},
                "cooldown": {"enabled": False},
                "rate": {"enabled": False},
                "blacklist": {"enabled": False},
            },
            "exits": {
                "tp1_pct": None,
                "tp2_pct": 0.02,
                "sl_pct": 0.02,
                "breakeven_after_tp1": False,
                "stepwise": {"enabled": False},
                "auto_profit_pct": None,
                "timeout_min": None,
                "max_hold_min": 2,
                **exits,
            },
            "markets": {
                "BTC/USDT": {"price_tick": "0.01", "amount_step": "0.00001", "min_notional": "5"}
            },
        }
    )


@pytest.fixture(scope="module")
def ticks() -> dict[str, TickData]:
    """The bundled BTCUSDT spot capture (about 11 minutes)."""
    return load_tick_folder(TICKS)


@pytest.fixture(scope="module")
def candles(ticks: dict[str, TickData]) -> dict[str, CandleArrays]:
    """1m candles aggregated from the capture's trades."""
    return {"BTC/USDT": candles_from_trades(ticks["BTC/USDT"].trades, MIN)}


def same(a: BotRun, b: BotRun) -> None:
    """Two runs with identical results."""
    assert a.exits == b.exits
    assert a.stats == b.stats
    assert [repr(n) for n in a.near_misses] == [repr(n) for n in b.near_misses]  # nan == nan
    assert a.equity_curve == b.equity_curve
    assert a.final_balance == b.final_balance


def slipped(price: float, side: str) -> Decimal:
    """The simulated exchange's taker price: slippage, then rounded to the tick (adverse)."""
    px = Decimal(repr(price))
    if side == "buy":
        return ((px + px * SLIP) / TICK).to_integral_value(ROUND_CEILING) * TICK
    return ((px - px * SLIP) / TICK).to_integral_value(ROUND_FLOOR) * TICK


def book_at(tick: TickData, ts: int) -> tuple[float, float]:
    """Last (bid, ask) at or before ``ts``."""
    k = int(np.searchsorted(tick.book.ts, ts, side="right")) - 1
    assert k >= 0
    return float(tick.book.bid[k]), float(tick.book.ask[k])


# ---- loaders and candles ------------------------------------------------------------------
def test_load_tick_folder_maps_symbol_and_moves_book_to_exchange_clock(
    ticks: dict[str, TickData],
) -> None:
    """BTCUSDT -> BTC/USDT; the book is shifted by the capture's receive delay (~1.26 s)."""
    tick = ticks["BTC/USDT"]
    assert list(ticks) == ["BTC/USDT"] and len(tick.trades.ts) == 19_904
    assert len(tick.book.ts) == 73_174 and (np.diff(tick.book.ts) >= 0).all()
    assert 1_200 < int(tick.book.ts[0]) - 1_723_161_254_087 < 1_300
    ((lo, hi),) = tick.spans
    assert lo == int(tick.trades.ts[0]) and hi >= int(tick.trades.ts[-1])
    assert tick.covers(1_723_161_300_000, 1_723_161_360_000)
    assert not tick.covers(1_723_161_240_000, 1_723_161_300_000)  # capture starts mid-minute


def test_load_tick_folder_reports_bad_files(tmp_path: Path) -> None:
    """A corrupt file, a book without trades or an empty folder is a clear DataError."""
    with pytest.raises(DataError, match="no tick files"):
        load_tick_folder(tmp_path)
    (tmp_path / "binance_spot_BTCUSDT_20240101_trades.csv.gz").write_bytes(b"not gzip")
    with pytest.raises(DataError, match="cannot read"):
        load_tick_folder(tmp_path)
    (tmp_path / "binance_spot_BTCUSDT_20240101_trades.csv.gz").unlink()
    book = b"timestamp_ms,bid_price,bid_qty,ask_price,ask_qty\n1,1.0,1,1.1,1\n"
    (tmp_path / "binance_spot_ETHUSDT_20240101_bookTicker.csv.gz").write_bytes(gzip.compress(book))
    with pytest.raises(DataError, match="without its trades file"):
        load_tick_folder(tmp_path)


def test_candles_from_trades_aggregate_per_minute(ticks: dict[str, TickData]) -> None:
    """Open/high/low/close/volume of each minute equal a plain per-minute computation."""
    tr = ticks["BTC/USDT"].trades
    c = candles_from_trades(tr, MIN)
    minutes = sorted({int(t) // MIN for t in tr.ts})
    assert c.ts.tolist() == [m * MIN for m in minutes]
    for j, m in enumerate(minutes):
        sel = tr.ts // MIN == m
        p = tr.price[sel]
        assert (c.open[j], c.high[j], c.low[j], c.close[j]) == (p[0], p.max(), p.min(), p[-1])
        assert c.volume[j] == pytest.approx(tr.qty[sel].sum())


# ---- real data -----------------------------------------------------------------------------
def test_entries_fill_at_ask_and_exits_at_bid_or_level(
    ticks: dict[str, TickData], candles: dict[str, CandleArrays]
) -> None:
    """Entries at the ask + slippage; tp2/sl at the level, max_hold/end at the bid."""
    tick = ticks["BTC/USDT"]
    runs = [
        run_backtest(config(), candles, ticks=ticks),  # tight: exits at tp2/sl levels
        run_backtest(config(tp2_pct=1.0, sl_pct=1.0, max_hold_min=1), candles, ticks=ticks),
    ]
    reasons = set()
    for run in runs:
        assert run.exits
        for e in run.exits:
            assert e.entry_price == slipped(book_at(tick, e.ts_entry)[1], "buy")
            entry = float(e.entry_price)
            if e.reason == "tp2":
                assert e.exit_price == slipped(entry * (1 + 0.02 / 100), "sell")
            elif e.reason == "sl":
                assert e.exit_price == slipped(entry * (1 - 0.02 / 100), "sell")
            else:
                assert e.exit_price == slipped(book_at(tick, e.ts_exit)[0], "sell")
            reasons.add(e.reason)
    assert "tp2" in reasons and "max_hold" in reasons


def test_spread_comes_from_the_book_at_the_close(
    ticks: dict[str, TickData], candles: dict[str, CandleArrays]
) -> None:
    """Near misses record the book's spread at each covered close, the assumed one otherwise."""
    tick = ticks["BTC/USDT"]
    cfg = config(spread_max=1e-9)  # every spread blocks: every 1+1 pass is a near miss
    with_ticks = run_backtest(cfg, candles, ticks=ticks)
    without = run_backtest(cfg, candles)
    blocked = [nm for nm in with_ticks.near_misses if nm.kind == "filter"]  # spread decided
    plain_blocked = [nm for nm in without.near_misses if nm.kind == "filter"]
    assert blocked and len(blocked) == len(plain_blocked)
    assert not with_ticks.exits and not without.exits
    for nm, plain in zip(blocked, plain_blocked, strict=True):
        spread = dict(nm.values)["spread_pct"]
        assert dict(plain.values)["spread_pct"] == 0.05
        assert tick.covers(nm.ts - MIN, nm.ts)
        bid, ask = book_at(tick, nm.ts - 1)
        assert spread == (ask - bid) / ((ask + bid) / 2) * 100 < 0.001
    # with the assumed 0.05 % spread the 0.03 % filter blocks all; the real book lets them in
    assert not run_backtest(config(), candles).exits
    assert run_backtest(config(), candles, ticks=ticks).exits


def test_without_covering_ticks_results_are_todays(
    ticks: dict[str, TickData], candles: dict[str, CandleArrays]
) -> None:
    """No ticks, ticks of other symbols, or ticks outside the candles: the candle behaviour."""
    cfg = config(spread_max=0.1)
    base = run_backtest(cfg, candles)
    assert base.exits
    same(base, run_backtest(cfg, candles, fast=False))
    same(base, run_backtest(cfg, candles, ticks={}))
    same(base, run_backtest(cfg, candles, ticks={"ETH/USDT": ticks["BTC/USDT"]}))
    c = candles["BTC/USDT"]
    day = 86_400_000
    shifted = {
        "BTC/USDT": CandleArrays(
            c.symbol, c.timeframe_ms, c.ts + day, c.open, c.high, c.low, c.close, c.volume
        )
    }
    same(run_backtest(cfg, shifted), run_backtest(cfg, shifted, ticks=ticks))


# ---- a candle touching both the stop and the target -----------------------------------------
def handmade() -> tuple[dict[str, CandleArrays], dict[str, TickData]]:
    """Rising warm-up minutes, then minutes that go up 2 % first and then down 2 %."""
    t0 = 1_700_000_040_000 - 1_700_000_040_000 % MIN
    ts: list[int] = []
    px: list[float] = []
    for m in range(8):
        base = 100.0 + m
        path = [base, base + 0.05] if m < 4 else [base, base * 1.02, base * 0.98, base + 0.5]
        for k, p in enumerate(path):
            ts.append(t0 + m * MIN + 1_000 + k * 15_000)
            px.append(round(p, 2))
    t = np.array(ts, np.int64)
    p = np.array(px)
    trades = TradeArrays(t, p, np.ones(len(t)))
    book_ts = np.r_[t0, t, t0 + 8 * MIN - 1].astype(np.int64)
    mid = np.r_[p[0], p, p[-1]]
    book = BookTickerArrays(book_ts, mid - 0.01, mid + 0.01)
    tick = TickData("BTC/USDT", trades, book, ((t0, t0 + 8 * MIN - 1),))
    return {"BTC/USDT": candles_from_trades(trades, MIN)}, {"BTC/USDT": tick}


def test_candle_touching_both_resolves_by_the_real_trade_order() -> None:
    """The candle path says stop first ("sl"); the trades reach the target first ("tp2")."""
    candles, ticks = handmade()
    cfg = config(tp2_pct=1.0, sl_pct=1.0, max_hold_min=None, spread_max=0.5)
    plain = run_backtest(cfg, candles)
    real = run_backtest(cfg, candles, ticks=ticks)
    assert plain.exits[0].reason == "sl"
    assert real.exits[0].reason == "tp2"
    assert plain.exits[0].ts_exit // MIN == real.exits[0].ts_exit // MIN  # the same candle
    entry = float(real.exits[0].entry_price)
    assert real.exits[0].exit_price == slipped(entry * 1.01, "sell")


# ---- command line ---------------------------------------------------------------------------
def test_cli_backtest_with_ticks(tmp_path: Path, candles: dict[str, CandleArrays]) -> None:
    """``optiflow backtest CONFIG --data DIR --ticks DIR`` uses the captures."""
    c = candles["BTC/USDT"]
    cols = (c.open, c.high, c.low, c.close, c.volume)
    rows = ["timestamp_ms,open,high,low,close,volume"] + [
        ",".join([str(int(c.ts[j]))] + [repr(float(col[j])) for col in cols]) for j in range(len(c))
    ]
    data = tmp_path / "data"
    data.mkdir()
    (data / "BTC-USDT_1m.csv").write_text("\n".join(rows) + "\n")
    cfg = tmp_path / "t.json"
    cfg.write_text(config().model_dump_json())
    cmd = [sys.executable, "-m", "optiflow.interfaces.cli.main", "backtest", str(cfg)]
    r = subprocess.run(
        [*cmd, "--data", str(data), "--ticks", str(TICKS)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert "ticks BTC/USDT: 19904 trades" in r.stdout
    bad = subprocess.run(
        [*cmd, "--data", str(data), "--ticks", str(tmp_path / "nope")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2 and "--ticks" in bad.stdout + bad.stderr
