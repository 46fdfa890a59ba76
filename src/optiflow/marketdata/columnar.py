"""Columnar candle files: one numpy ``.npy`` per column in a ``<name>.columns`` folder.

``BTC-USDT_1m.csv.gz`` gets a sibling folder ``BTC-USDT_1m.columns/`` holding ``ts.npy``
(int64 open times in ms), ``open.npy``, ``high.npy``, ``low.npy``, ``close.npy``,
``volume.npy`` (float64) and ``meta.json`` (symbol, timeframe, rows, and the size and
modification time of the file it was made from). Reading it is a memory copy instead of
parsing text. The loaders use it only while it is *fresh*: its source file still has the
recorded size and modification time (or there is no source file at all).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from optiflow.domain.errors import DataError
from optiflow.marketdata.candles import CandleArrays

SUFFIX = ".columns"
COLUMNS = ("ts", "open", "high", "low", "close", "volume")
_SOURCE_SUFFIXES = (".csv.gz", ".csv", ".json.gz", ".json")
FORMAT = 1


def columns_path(source: Path) -> Path:
    """The columnar folder of a candle file: ``X_1m.csv.gz`` -> ``X_1m.columns``."""
    name = source.name
    for suffix in _SOURCE_SUFFIXES:
        if name.endswith(suffix):
            return source.with_name(name[: -len(suffix)] + SUFFIX)
    return source.with_name(name + SUFFIX)


def _stat(source: Path) -> tuple[int, int] | None:
    """(size, mtime in ns) of ``source``, or None when it does not exist."""
    try:
        st = source.stat()
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


def read_meta(folder: Path) -> dict[str, Any] | None:
    """The folder's ``meta.json`` as a dict, or None when missing or unreadable."""
    try:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) and meta.get("format") == FORMAT else None


def is_fresh(folder: Path, source: Path | None) -> bool:
    """True when ``folder`` holds columns made from ``source`` as it is now (or no source)."""
    meta = read_meta(folder)
    if meta is None:
        return False
    if source is None:
        return True
    st = _stat(source)
    if st is None:
        return True  # the columns are the data now
    return (
        meta.get("source") == source.name
        and meta.get("source_size") == st[0]
        and meta.get("source_mtime_ns") == st[1]
    )


def write_columns(arrays: CandleArrays, folder: Path, source: Path | None = None) -> Path:
    """Write ``arrays`` as a columnar folder (atomically replaced); returns the folder."""
    folder = Path(folder)
    tmp = folder.with_name(f".{folder.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir(parents=True)
        for name in COLUMNS:
            np.save(tmp / f"{name}.npy", np.ascontiguousarray(getattr(arrays, name)))
        meta: dict[str, Any] = {
            "format": FORMAT,
            "symbol": arrays.symbol,
            "timeframe_ms": arrays.timeframe_ms,
            "rows": len(arrays),
        }
        st = None if source is None else _stat(source)
        if source is not None and st is not None:
            meta.update(source=source.name, source_size=st[0], source_mtime_ns=st[1])
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
        old = folder.with_name(f".{folder.name}.old-{os.getpid()}")
        if folder.exists():
            os.replace(folder, old)
        os.replace(tmp, folder)
        shutil.rmtree(old, ignore_errors=True)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise DataError(f"{folder}: cannot write the columnar copy: {exc}") from None
    return folder


def read_columns(folder: Path, symbol: str | None = None) -> CandleArrays:
    """Read a columnar folder written by :func:`write_columns` (shape and order checked)."""
    folder = Path(folder)
    meta = read_meta(folder)
    if meta is None:
        raise DataError(f"{folder}: missing or unreadable meta.json (not a columnar candle folder)")
    cols: list[np.ndarray] = []
    for name in COLUMNS:
        try:
            arr = np.load(folder / f"{name}.npy", allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise DataError(f"{folder}: cannot read {name}.npy: {exc}") from None
        want = np.int64 if name == "ts" else np.float64
        if arr.dtype != want or arr.ndim != 1 or len(arr) != meta.get("rows"):
            raise DataError(
                f"{folder}: {name}.npy: expected {meta.get('rows')} {np.dtype(want).name} "
                f"values, found {arr.shape} {arr.dtype.name}; rerun `optiflow data convert`"
            )
        cols.append(arr)
    ts = cols[0]
    if len(ts) > 1 and not bool(np.all(ts[1:] > ts[:-1])):
        raise DataError(
            f"{folder}: ts.npy is not strictly increasing; rerun `optiflow data convert`"
        )
    tf = meta.get("timeframe_ms")
    if not isinstance(tf, int) or tf <= 0:
        raise DataError(f"{folder}: meta.json: timeframe_ms {tf!r} is not a positive integer")
    return CandleArrays(symbol or str(meta.get("symbol")), tf, *cols)
