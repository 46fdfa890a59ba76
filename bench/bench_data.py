"""Candle folders for the speed bench: the bundled files as CSV or columns, and 46 days × 8.

Everything is built once under ``bench/cache/`` (git-ignored) and reused while fresh:

* ``spot_columns/``: copies of ``data/binance_spot_1m/*.csv.gz`` with their ``.columns``
  folders (what ``optiflow data convert`` writes), so the loaders read numpy columns;
* ``x8_columns/`` and ``x8_csv/``: BTC, ETH and ADA's 46 days repeated 8 times
  (1,588,008 candles before alignment; 3 × 528,696), each copy shifted in time right after
  the previous one and its prices rescaled so that it opens at the previous copy's last close.
"""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
SPOT = REPO / "data" / "binance_spot_1m"
CACHE = REPO / "bench" / "cache"
X8_SYMBOLS = ("BTC/USDT", "ETH/USDT", "ADA/USDT")
TIMES = 8


def spot_folder(fmt: str) -> Path:
    """The bundled 1m spot folder, as CSV (the repo's own) or with fresh columnar copies."""
    if fmt == "csv":
        return SPOT
    from optiflow.app.download import convert
    from optiflow.marketdata.columnar import columns_path, is_fresh

    out = CACHE / "spot_columns"
    out.mkdir(parents=True, exist_ok=True)
    for src in sorted(SPOT.glob("*.csv.gz")):
        dst = out / src.name
        if not dst.exists() or dst.stat().st_mtime_ns != src.stat().st_mtime_ns:
            shutil.copy2(src, dst)
        if not is_fresh(columns_path(dst), dst):
            convert([dst])
    return out


def repeated(times: int = TIMES) -> dict[str, tuple[np.ndarray, ...]]:
    """(ts, open, high, low, close, volume) per symbol: the 46 days ``times`` times over."""
    from optiflow.marketdata.loaders import load_folder

    base = load_folder(SPOT, list(X8_SYMBOLS))
    tf = 60_000
    first = min(int(a.ts[0]) for a in base.values())
    last = max(int(a.ts[-1]) for a in base.values())
    shift = last - first + tf  # one copy's span: the next copy starts right after
    out: dict[str, tuple[np.ndarray, ...]] = {}
    for sym, a in base.items():
        ts, o, h, lo, c, v = [a.ts], [a.open], [a.high], [a.low], [a.close], [a.volume]
        scale = 1.0
        for k in range(1, times):
            scale *= float(a.close[-1]) / float(a.open[0])  # opens at the last close
            ts.append(a.ts + k * shift)
            for col, src in ((o, a.open), (h, a.high), (lo, a.low), (c, a.close)):
                col.append(src * scale)
            v.append(a.volume)
        out[sym] = tuple(np.concatenate(x) for x in (ts, o, h, lo, c, v))
    return out


def x8_folder(fmt: str) -> Path:
    """The 46 days × 8 folder in ``fmt`` (``columns`` or ``csv``), built on first use."""
    from optiflow.marketdata.candles import CandleArrays
    from optiflow.marketdata.columnar import write_columns

    out = CACHE / f"x8_{fmt}"
    done = out / "complete"
    if done.exists():
        return out
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    for sym, cols in repeated().items():
        stem = f"{sym.replace('/', '-')}_1m"
        if fmt == "columns":
            write_columns(CandleArrays(sym, 60_000, *cols), out / f"{stem}.columns")
        else:
            table = np.column_stack(cols)
            with gzip.open(out / f"{stem}.csv.gz", "wt", compresslevel=1) as fh:
                fh.write("timestamp_ms,open,high,low,close,volume\n")
                np.savetxt(fh, table, fmt=["%d"] + ["%.17g"] * 5, delimiter=",")
    done.write_text("ok\n")
    return out
