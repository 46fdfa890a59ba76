"""The reference strategy in vectorbt 1.2.0 ``Portfolio.from_signals`` (peer run of issue 12).

Not part of OptiFlow and not run by the tests: it runs in a throw-away venv (bench/README.md,
"Peers"; ``bench/run_peers.py --setup`` makes it). The strategy of
``configs/reference_ema_rsi.json`` as OptiFlow runs it (README, "Backtest semantics"):

* signal on the closed candle ``t``: EMA 9 > EMA 21 and RSI 14 in [50, 70] (EMAs with
  alpha 2/(n+1); RSI with Wilder's smoothing, alpha 1/14: vectorbt's ``RSI(ewm=True)`` with
  ``window=27`` is exactly that, its own ``window=14`` would smooth with 2/15); no signal on
  a zero-volume candle;
* market entry at the next candle's open (signals shifted one bar, ``price=open``), not on
  a zero-volume candle; 100 USDT stakes, 0.1 % fee per side, a wallet that never runs dry;
* TP 0.3 % and SL 0.6 % of the entry price, checked against high/low (the stop first when a
  candle touches both; a level jumped over at the open fills at the open);
* exit at the first open at or after entry + 60 min (a numba ``signal_func_nb``; the stops
  are switched off on that bar by ``adjust_sl_func_nb`` / ``adjust_tp_func_nb``, so the
  open comes first as in OptiFlow);
* at most 2 open positions at once (``max_positions`` 2), one per pair, pairs decided in
  the config's order: one column per pair, grouped with cash sharing so the columns of a
  bar are simulated together, and the signal function counts the open positions.

The one difference vectorbt cannot remove: ``from_signals`` takes one order per column and
bar, and its stops are checked from the bar after the entry, so a TP/SL touched inside the
entry candle itself (after its open) is seen one bar later (at that bar's open or inside it).

    python bench/peers/vectorbt_reference.py bench/cache/x8_csv [trades.csv]

Prints one human line, then one JSON line (candles, trades, pnl, timings, peak RSS).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

T0 = time.perf_counter()

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import vectorbt as vbt  # noqa: E402
from numba import njit  # noqa: E402

SL, TP, HOLD_BARS, MAX_POSITIONS = 0.006, 0.003, 60, 2
PAIRS = ("BTC-USDT", "ETH-USDT", "ADA-USDT")  # the config's order


@njit(cache=True)
def _stopped(o: float, lo: float, hi: float, c: float, entry: float) -> bool:
    """Whether vectorbt's stop check (``get_stop_price_nb``) fires on this bar (long)."""
    if np.isnan(o):
        o = c
    if np.isnan(lo):
        lo = min(o, c)
    if np.isnan(hi):
        hi = max(o, c)
    sl = entry * (1 - SL)
    if o <= sl or lo <= sl <= hi:
        return True
    tp = entry * (1 + TP)
    return tp <= o or lo <= tp <= hi


@njit(cache=True)
def _sync(i, state, open_, high, low, close, vol):  # type: ignore[no-untyped-def]
    """Forget the positions that closed during bar ``i - 1`` (stop or time exit)."""
    j = i - 1
    for col in range(state.shape[0]):
        e = int(state[col, 1])
        if state[col, 0] == 0.0 or j <= e:
            continue
        if j - e >= HOLD_BARS:
            if vol[j, col] > 0:
                state[col, 0] = 0.0  # the time exit filled at bar j's open
        elif _stopped(open_[j, col], low[j, col], high[j, col], close[j, col], state[col, 2]):
            state[col, 0] = 0.0


@njit(cache=True)
def adjust_sl_nb(c, state, open_, high, low, close, vol):  # type: ignore[no-untyped-def]
    """Sync the open-position count once per bar; no SL on the bar the time exit acts."""
    if c.col == 0 and c.i > 0:
        _sync(c.i, state, open_, high, low, close, vol)
    if c.init_i >= 0 and c.i - c.init_i >= HOLD_BARS:
        return np.nan, False
    return c.curr_stop, c.curr_trail


@njit(cache=True)
def adjust_tp_nb(c):  # type: ignore[no-untyped-def]
    """No TP on the bar the time exit acts (the open comes first)."""
    if c.init_i >= 0 and c.i - c.init_i >= HOLD_BARS:
        return np.nan
    return c.curr_stop


@njit(cache=True)
def signal_nb(c, entries, state, open_, vol):  # type: ignore[no-untyped-def]
    """Long entry on a shifted signal while fewer than 2 positions are open; time exit."""
    if c.position_now != 0:
        if c.i - int(state[c.col, 1]) >= HOLD_BARS and vol[c.i, c.col] > 0:
            return False, True, False, False
        return False, False, False, False
    if not entries[c.i, c.col]:
        return False, False, False, False
    if state[:, 0].sum() >= MAX_POSITIONS:
        return False, False, False, False
    state[c.col, 0] = 1.0
    state[c.col, 1] = c.i
    state[c.col, 2] = open_[c.i, c.col]
    return True, False, False, False


def main() -> None:
    """Load the CSVs, compute the signals, run ``from_signals``, print the figures."""
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "data/binance_spot_1m")
    trades_csv = sys.argv[2] if len(sys.argv) > 2 else None  # optional: the trade list
    frames = {p: pd.read_csv(folder / f"{p}_1m.csv.gz", index_col="timestamp_ms") for p in PAIRS}
    cols = {k: pd.DataFrame({p: f[k] for p, f in frames.items()}) for k in frames[PAIRS[0]]}
    close, open_, high, low = cols["close"], cols["open"], cols["high"], cols["low"]
    vol = cols["volume"].fillna(0.0).to_numpy()
    t1 = time.perf_counter()

    ema_fast = vbt.MA.run(close, 9, ewm=True).ma.to_numpy()
    ema_slow = vbt.MA.run(close, 21, ewm=True).ma.to_numpy()
    rsi = vbt.RSI.run(close, 27, ewm=True).rsi.to_numpy()  # span 27 = Wilder's alpha 1/14
    signal = (ema_fast > ema_slow) & (rsi >= 50) & (rsi <= 70) & (vol > 0)
    entries = np.zeros_like(signal)
    entries[1:] = signal[:-1] & (vol[1:] > 0)  # decided at the close, filled at the next open
    state = np.zeros((close.shape[1], 3))  # per column: open?, entry bar, entry price
    o, h, lo, c = (x.to_numpy() for x in (open_, high, low, close))
    pf = vbt.Portfolio.from_signals(
        close,
        signal_func_nb=signal_nb,
        signal_args=(entries, state, o, vol),
        adjust_sl_func_nb=adjust_sl_nb,
        adjust_sl_args=(state, o, h, lo, c, vol),
        adjust_tp_func_nb=adjust_tp_nb,
        price=open_,
        open=open_,
        high=high,
        low=low,
        size=100.0,
        size_type="value",
        fees=0.001,
        sl_stop=SL,
        tp_stop=TP,
        stop_entry_price="price",
        init_cash=1e9,
        cash_sharing=True,
        group_by=True,
        freq="1min",
    )
    trades = pf.trades
    n_trades = int(trades.count())
    pnl = float(trades.pnl.sum())
    per_pair = {str(k): int(v) for k, v in trades.count(group_by=False).items()}
    t2 = time.perf_counter()
    if trades_csv:
        trades.records_readable.to_csv(trades_csv, index=False)
    rss = _peak_rss_mb()
    candles = int(np.isfinite(close.to_numpy()).sum())
    print(
        f"candles {candles} trades {n_trades} pnl {pnl:.2f} load {t1 - T0:.2f} s "
        f"run {t2 - t1:.2f} s total {t2 - T0:.2f} s peak RSS {rss:.0f} MiB"
    )
    report = {"candles": candles, "trades": n_trades, "pnl": pnl, "per_pair": per_pair}
    report |= {"load_s": t1 - T0, "run_s": t2 - t1, "total_s": t2 - T0, "peak_rss_mb": rss}
    print(json.dumps(report))


def _peak_rss_mb() -> float:
    """This process's peak resident set (``VmHWM``), MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


if __name__ == "__main__":
    main()
