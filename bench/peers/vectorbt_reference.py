"""The reference strategy in vectorbt 1.2 ``Portfolio.from_signals`` (peer run of issue 12).

Not part of OptiFlow and not run by the tests: see bench/README.md, "Peers", for the
throw-away venv it runs in. EMA 9 > EMA 21 and RSI 14 in [50, 70] on the closed candle,
market entry, TP 0.3 %, SL 0.6 %, exit after 60 min, 0.1 % fee per side, 100 USDT stakes,
a wallet that never runs dry; one column per pair. Reads the bench's gzip CSV folder.
Written for this repo but NOT run here (no vectorbt in this environment): check
``td_stop`` (the 60-minute exit) against the installed vectorbt's ``from_signals``.

    python bench/peers/vectorbt_reference.py bench/cache/x8_csv
"""

from __future__ import annotations

import resource
import sys
import time
from pathlib import Path

T0 = time.perf_counter()

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import vectorbt as vbt  # noqa: E402

folder = Path(sys.argv[1] if len(sys.argv) > 1 else "data/binance_spot_1m")
names = ("BTC-USDT_1m.csv.gz", "ETH-USDT_1m.csv.gz", "ADA-USDT_1m.csv.gz")
frames = {n.split("_")[0]: pd.read_csv(folder / n, index_col="timestamp_ms") for n in names}
close = pd.DataFrame({k: f["close"] for k, f in frames.items()})
high = pd.DataFrame({k: f["high"] for k, f in frames.items()})
low = pd.DataFrame({k: f["low"] for k, f in frames.items()})
open_ = pd.DataFrame({k: f["open"] for k, f in frames.items()})
t1 = time.perf_counter()

ema_fast = vbt.MA.run(close, 9, ewm=True).ma
ema_slow = vbt.MA.run(close, 21, ewm=True).ma
rsi = vbt.RSI.run(close, 14, ewm=True).rsi
entries = (ema_fast.values > ema_slow.values) & (rsi.values >= 50) & (rsi.values <= 70)
pf = vbt.Portfolio.from_signals(
    close,
    entries=pd.DataFrame(entries, index=close.index, columns=close.columns),
    exits=False,
    open=open_,
    high=high,
    low=low,
    size=100.0,
    size_type="value",
    fees=0.001,
    sl_stop=0.006,
    tp_stop=0.003,
    td_stop=60,  # bars of 1 minute
    init_cash=1e9,
    cash_sharing=False,
    freq="1min",
)
trades = int(pf.trades.count().sum())
t2 = time.perf_counter()
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(
    f"candles {int(np.isfinite(close.values).sum())} trades {trades} "
    f"load {t1 - T0:.2f} s run {t2 - t1:.2f} s total {t2 - T0:.2f} s peak RSS {rss:.0f} MiB"
)
