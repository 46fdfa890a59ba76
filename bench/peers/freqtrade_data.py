"""Write OptiFlow's gzip CSV candles into a Freqtrade data folder (peer run of issue 12).

Not part of OptiFlow: runs in the Freqtrade venv (bench/README.md, "Peers"). Only PyPI is
reachable here, so ``freqtrade download-data`` cannot fetch Binance; this stores the same
candles with Freqtrade's own data handler (``get_datahandler(...).ohlcv_store``, default
format ``feather``), as ``DATADIR/BTC_USDT-1m.feather`` etc.

    /tmp/ft/bin/python bench/peers/freqtrade_data.py SRC_FOLDER DATADIR [feather|json]
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
from freqtrade.data.history import get_datahandler
from freqtrade.enums import CandleType

PAIRS = ("BTC/USDT", "ETH/USDT", "ADA/USDT")


def main() -> None:
    """Convert the three pairs' ``<BASE>-USDT_1m.csv.gz`` files of SRC_FOLDER."""
    src, dst = Path(sys.argv[1]), Path(sys.argv[2])
    fmt = sys.argv[3] if len(sys.argv) > 3 else "feather"
    dst.mkdir(parents=True, exist_ok=True)
    handler = get_datahandler(dst, fmt)
    for pair in PAIRS:
        df = pd.read_csv(src / f"{pair.replace('/', '-')}_1m.csv.gz")
        df.insert(0, "date", pd.to_datetime(df.pop("timestamp_ms"), unit="ms", utc=True))
        df = df[["date", "open", "high", "low", "close", "volume"]]
        handler.ohlcv_store(pair, "1m", df, CandleType.SPOT)
        print(f"{pair}: {len(df)} candles, {df['date'].iloc[0]} .. {df['date'].iloc[-1]}")


if __name__ == "__main__":
    main()
