"""Validation of parsed candle rows, with errors naming the file, the line and the problem."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt

from optiflow.domain.errors import DataError

_COLUMNS = ("timestamp_ms", "open", "high", "low", "close", "volume")
_TS_MIN, _TS_MAX = 10**11, 10**14  # ms since the epoch: years 1973 .. 5138


def diagnose_csv(path: Path, text: str, header: bool, ncols: int) -> None:
    """Scan CSV text line by line and raise a precise DataError for the first bad line."""
    for lineno, line in enumerate(text.split("\n"), start=1):
        if (header and lineno == 1) or not line.strip():
            continue
        fields = line.rstrip("\r").split(",")
        if len(fields) != ncols:
            raise DataError(
                f"{path}: line {lineno}: wrong column count: expected {ncols}, found {len(fields)}"
            )
        for name, tok in zip(_COLUMNS, fields, strict=False):
            try:
                float(tok)
            except ValueError:
                raise DataError(
                    f"{path}: line {lineno}: unparseable number {tok!r} in column {name}"
                ) from None


def header_columns(path: Path, header: str) -> list[int]:
    """Positions of timestamp_ms, open, high, low, close, volume in a CSV header (by name)."""
    names = [n.strip().strip('"').lower() for n in header.split(",")]
    missing = [c for c in _COLUMNS if c not in names]
    if missing:
        raise DataError(
            f"{path}: line 1: header {header!r} lacks column(s) {', '.join(missing)}; "
            f"expected the columns {','.join(_COLUMNS)} (in any order; extra columns are ignored)"
        )
    return [names.index(c) for c in _COLUMNS]


def _fail(path: Path, unit: str, first: int, idx: int, problem: str) -> DataError:
    """A DataError for data row ``idx`` (0-based) of ``path``."""
    return DataError(f"{path}: {unit} {first + idx}: {problem}")


def check_candles(
    path: Path, data: npt.NDArray[np.float64], first: int, unit: str
) -> npt.NDArray[np.int64]:
    """Validate an (n, 6) candle table; return the timestamps as int64 ms.

    ``first`` is the line/row number of data row 0 and ``unit`` says "line" or "row".
    """
    finite = np.isfinite(data)
    if not finite.all():
        i, j = np.argwhere(~finite)[0]
        raise _fail(
            path, unit, first, int(i), f"{_COLUMNS[j]} is not a finite number ({data[i, j]})"
        )
    tsf = data[:, 0]
    bad = np.flatnonzero((tsf != np.floor(tsf)) | (tsf < _TS_MIN) | (tsf >= _TS_MAX))
    if len(bad):
        i = int(bad[0])
        raise _fail(
            path,
            unit,
            first,
            i,
            f"timestamp {tsf[i]!r} is not an integer number of milliseconds since the epoch "
            "(seconds or microseconds? expected ms)",
        )
    ts = tsf.astype(np.int64)
    bad = np.flatnonzero(ts[1:] <= ts[:-1])
    if len(bad):
        i = int(bad[0]) + 1
        kind = "duplicate" if ts[i] == ts[i - 1] else "out-of-order"
        raise _fail(
            path,
            unit,
            first,
            i,
            f"{kind} timestamp {ts[i]} (previous row has {ts[i - 1]}); timestamps must increase",
        )
    _, o, h, lo, c, v = (data[:, j] for j in range(6))
    checks = (
        (h < lo, "high < low"),
        (o > h, "open > high"),
        (o < lo, "open < low"),
        (c > h, "close > high"),
        (c < lo, "close < low"),
        ((o <= 0) | (h <= 0) | (lo <= 0) | (c <= 0), "price <= 0"),
        (v < 0, "negative volume"),
    )
    for mask, problem in checks:
        bad = np.flatnonzero(mask)
        if len(bad):
            i = int(bad[0])
            values = ", ".join(f"{n}={float(data[i, j])!r}" for j, n in enumerate(_COLUMNS) if j)
            raise _fail(path, unit, first, i, f"{problem} ({values})")
    return ts
