"""Load tick files (best bid/ask and trades) into numpy arrays.

Spot ``bookTicker`` rows carry no exchange timestamp, so their ``ts`` is the recorder's
receive clock ``local_recv_ns // 1_000_000`` (which ran ~1.3 s behind the exchange in the
bundled captures); trades use the exchange's ``trade_time_ms``. Files with a plain
``timestamp_ms`` column (older captures) use it directly.
"""

from __future__ import annotations

import gzip
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from optiflow.domain.errors import DataError

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class BookTickerArrays:
    """Best bid/ask updates in arrival order; ``ts`` in ms."""

    ts: IntArray
    bid: FloatArray
    ask: FloatArray


@dataclass(frozen=True, slots=True)
class TradeArrays:
    """Trades in exchange order; ``ts`` is the trade time in ms."""

    ts: IntArray
    price: FloatArray
    qty: FloatArray


def _read(
    path: Path, time_cols: tuple[str, ...], value_cols: tuple[str, str]
) -> tuple[IntArray, FloatArray, FloatArray]:
    """Timestamps in ms (from the first time column present) and two float columns."""
    try:
        raw = path.read_bytes()
        if path.name.endswith(".gz"):
            raw = gzip.decompress(raw)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise DataError(f"{path}: cannot read file: {exc}") from exc
    header = raw[: raw.find(b"\n")].decode("utf-8", "replace").strip().split(",")
    tcol = next((c for c in time_cols if c in header), None)
    missing = [c for c in value_cols if c not in header]
    if tcol is None or missing:
        need = f"one of {time_cols} and {value_cols}"
        raise DataError(f"{path}: line 1: header {header} lacks the columns {need}")
    cols = (header.index(tcol), header.index(value_cols[0]), header.index(value_cols[1]))
    dtype = [("t", np.int64), ("a", np.float64), ("b", np.float64)]
    try:
        data = np.loadtxt(io.BytesIO(raw), delimiter=",", skiprows=1, usecols=cols, dtype=dtype)
    except ValueError as exc:
        raise DataError(f"{path}: cannot parse: {exc}") from exc
    ts = np.atleast_1d(data["t"])
    if tcol.endswith("_ns"):
        ts = ts // 1_000_000
    if len(ts) == 0:
        raise DataError(f"{path}: empty file (no rows)")
    return ts, np.atleast_1d(data["a"]), np.atleast_1d(data["b"])


def load_book_ticker(path: Path) -> BookTickerArrays:
    """Read a bookTicker/quotes CSV (``.gz`` allowed): ts ms, bid and ask prices."""
    ts, bid, ask = _read(Path(path), ("local_recv_ns", "timestamp_ms"), ("bid_price", "ask_price"))
    return BookTickerArrays(ts, bid, ask)


def load_trades(path: Path) -> TradeArrays:
    """Read a trades CSV (``.gz`` allowed): ts = trade time in ms, price and quantity."""
    ts, price, qty = _read(Path(path), ("trade_time_ms", "timestamp_ms"), ("price", "qty"))
    return TradeArrays(ts, price, qty)
