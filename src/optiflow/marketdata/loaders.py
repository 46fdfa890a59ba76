"""Load OHLCV candle files (our CSV, freqtrade JSON) into validated numpy arrays.

Formats: CSV ``timestamp_ms,open,high,low,close,volume[,extra columns ignored]`` with or
without a header row, plain or ``.gz``; freqtrade JSON ``[[ms, o, h, l, c, v], ...]``
(``.json`` or ``.json.gz``); the columnar ``<name>.columns`` folder (numpy, see
``columnar``), preferred over its source file while fresh. Every problem is reported as a
:class:`DataError` naming the file, the line (CSV, 1-based, header included) or row (JSON,
1-based) and the problem.
"""

from __future__ import annotations

import gzip
import io
import json
import re
import warnings
import zlib
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt

from optiflow.domain.errors import DataError
from optiflow.marketdata.candles import CandleArrays, gap_report, resample
from optiflow.marketdata.columnar import SUFFIX as COLUMNS_SUFFIX
from optiflow.marketdata.columnar import columns_path, is_fresh, read_columns
from optiflow.marketdata.validate import check_candles, diagnose_csv, header_columns

FloatArray = npt.NDArray[np.float64]

__all__ = [
    "CandleArrays",
    "gap_report",
    "load_candles",
    "load_folder",
    "resample",
    "symbol_from_filename",
    "timeframe_to_ms",
]

_SUFFIXES = (".csv.gz", ".csv", ".json.gz", ".json")
_OURS = re.compile(r"^([A-Z0-9]+)-([A-Z0-9]+)_(\d+[smhdwM])(?:_[^.]*)?\.(?:csv|json)(?:\.gz)?$")
_FREQTRADE = re.compile(
    r"^([A-Z0-9]+)_([A-Z0-9]+)(?:_[A-Z0-9]+)?-(\d+[smhdwM])(?:-[a-z]+)?\.(?:csv|json)(?:\.gz)?$"
)
_UNIT_MS = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}


def _parse_name(name: str) -> tuple[str, str] | None:
    """``(symbol, timeframe)`` encoded in a file name, or None."""
    m = _OURS.match(name) or _FREQTRADE.match(name)
    if m is None:
        return None
    return f"{m.group(1)}/{m.group(2)}", m.group(3)


def symbol_from_filename(name: str) -> str | None:
    """``BTC-USDT_1m[_spot_2023].csv.gz`` or freqtrade ``BTC_USDT-1m.json`` -> ``BTC/USDT``."""
    parsed = _parse_name(name)
    return None if parsed is None else parsed[0]


def timeframe_to_ms(tf: str) -> int:
    """``1m`` -> 60000, ``4h`` -> 14400000 (``M`` months are not supported)."""
    m = re.fullmatch(r"(\d+)([smhdw])", tf)
    if m is None or int(m.group(1)) == 0:
        raise ValueError(f"unsupported timeframe {tf!r} (use e.g. 1m, 5m, 1h, 1d)")
    return int(m.group(1)) * _UNIT_MS[m.group(2)]


def _tf_or_none(tf: str) -> int | None:
    """Milliseconds of a timeframe text, or None when it is not one we understand."""
    try:
        return timeframe_to_ms(tf)
    except ValueError:
        return None


def _tf_text(ms: int) -> str:
    """A step in ms as the largest whole unit: 300000 -> '5m'."""
    for unit, size in sorted(_UNIT_MS.items(), key=lambda kv: -kv[1]):
        if ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms} ms"


def _read_bytes(path: Path) -> bytes:
    """File contents, gunzipped when the name ends in ``.gz``."""
    try:
        raw = path.read_bytes()
        return gzip.decompress(raw) if path.name.endswith(".gz") else raw
    except (OSError, EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise DataError(f"{path}: cannot read file (corrupt or not gzip data): {exc}") from None


def _decode(path: Path, raw: bytes) -> str:
    """Bytes as UTF-8 text, or a DataError."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not a UTF-8 text file: {exc}") from exc


def _parse_csv(path: Path, raw: bytes) -> tuple[FloatArray, int]:
    """Numbers of the first six columns and the line number of the first data row."""
    first_nl = raw.find(b"\n")
    first = _decode(path, raw if first_nl < 0 else raw[:first_nl]).rstrip("\r")
    try:
        float(first.split(",")[0])
        header = False
    except ValueError:
        header = True
    if not raw[:4096].strip() and not raw.strip():
        raise DataError(f"{path}: empty file (no candle rows)")
    ncols = first.count(",") + 1
    if ncols < 6:
        raise DataError(
            f"{path}: line 1: expected at least 6 columns "
            f"(timestamp_ms,open,high,low,close,volume), found {ncols}"
        )
    columns = header_columns(path, first) if header else list(range(6))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "input contained no data"
            data = np.loadtxt(
                io.BytesIO(raw),
                delimiter=",",
                skiprows=1 if header else 0,
                usecols=columns,
                dtype=np.float64,
                ndmin=2,
            )
    except ValueError as exc:
        diagnose_csv(path, _decode(path, raw), header, ncols)
        raise DataError(f"{path}: cannot parse: {exc}") from exc
    if len(data) == 0:
        raise DataError(f"{path}: empty file (no candle rows)")
    return data, 2 if header else 1


def _parse_json(path: Path, raw: bytes) -> FloatArray:
    """Numbers of a freqtrade JSON candle list as an (n, 6) array."""
    try:
        rows = json.loads(_decode(path, raw))
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: invalid JSON: {exc}") from exc
    if not isinstance(rows, list):
        raise DataError(f"{path}: expected a JSON list of [ms, o, h, l, c, v] rows")
    if not rows:
        raise DataError(f"{path}: empty file (no candle rows)")
    for i, row in enumerate(rows, start=1):
        if not isinstance(row, list) or len(row) != 6:
            raise DataError(f"{path}: row {i}: expected [ms, o, h, l, c, v], got {row!r:.80}")
        for j, v in enumerate(row):
            if isinstance(v, bool) or not isinstance(v, int | float | str):
                raise DataError(f"{path}: row {i}: column {j + 1}: not a number: {v!r}")
    try:
        return np.array(rows, dtype=np.float64)
    except ValueError:
        for i, row in enumerate(rows, start=1):
            for j, v in enumerate(row):
                try:
                    float(v)
                except ValueError:
                    raise DataError(
                        f"{path}: row {i}: column {j + 1}: unparseable number {v!r}"
                    ) from None
        raise


def load_candles(path: Path, *, symbol: str | None = None) -> CandleArrays:
    """Read and validate one candle file; the symbol defaults to the one in the file name.

    A fresh ``.columns`` folder next to the file (``optiflow data convert``) is read instead.
    """
    path = Path(path)
    name = path.name
    if name.endswith(COLUMNS_SUFFIX) and path.is_dir():
        parsed_cols = _parse_name(name[: -len(COLUMNS_SUFFIX)] + ".csv")
        return read_columns(path, symbol or (parsed_cols[0] if parsed_cols else None))
    cols_dir = columns_path(path)
    if cols_dir.is_dir() and is_fresh(cols_dir, path):
        parsed_src = _parse_name(name)
        return read_columns(cols_dir, symbol or (parsed_src[0] if parsed_src else None))
    if not name.endswith(_SUFFIXES):
        allowed = ", ".join((*_SUFFIXES, COLUMNS_SUFFIX + " folder"))
        raise DataError(f"{path}: unsupported file type (expected one of {allowed})")
    raw = _read_bytes(path)
    is_json = ".json" in name
    if is_json:
        data, first_line, unit = _parse_json(path, raw), 1, "row"
    else:
        (data, first_line), unit = _parse_csv(path, raw), "line"
    ts = check_candles(path, data, first_line, unit)
    parsed = _parse_name(name)
    if len(ts) >= 2:
        diffs = np.sort(np.diff(ts))
        tf = int(diffs[len(diffs) // 2])  # median step (upper middle for an even count)
        if parsed is not None and _tf_or_none(parsed[1]) not in (None, tf):
            raise DataError(
                f"{path}: the name says {parsed[1]} candles but they are "
                f"{_tf_text(tf)} apart (median step); rename the file to its real timeframe"
            )
    elif parsed is not None:
        tf = timeframe_to_ms(parsed[1])
    else:
        raise DataError(f"{path}: one candle and no timeframe in the file name")
    sym = symbol or (parsed[0] if parsed else path.name.split(".")[0])
    cols = [np.ascontiguousarray(data[:, j]) for j in range(1, 6)]
    return CandleArrays(sym, tf, ts, *cols)


def _pick(symbol: str, files: list[tuple[Path, str]]) -> Path:
    """The one file to use for ``symbol``: prefer 1m; a CSV and a JSON for it is an error."""
    tfs = {tf for _, tf in files}
    if len(tfs) > 1:
        if "1m" not in tfs:
            listed = ", ".join(sorted(p.name for p, _ in files))
            raise DataError(f"{symbol}: files with different timeframes, none 1m: {listed}")
        files = [f for f in files if f[1] == "1m"]
    csvs = [f for f in files if ".csv" in f[0].name]
    jsons = [f for f in files if ".json" in f[0].name]
    if csvs and jsons:
        listed = ", ".join(sorted(p.name for p, _ in files))
        raise DataError(
            f"{symbol}: both a CSV and a freqtrade JSON file hold its candles: {listed}; "
            "keep one of them in the folder"
        )
    if len(files) > 1:
        listed = ", ".join(sorted(p.name for p, _ in files))
        raise DataError(f"{symbol}: several candidate files, keep one: {listed}")
    return files[0][0]


def _iso(ts: int | None) -> str:
    """A ms timestamp as ISO 8601 UTC (or 'open' for no bound)."""
    if ts is None:
        return "open"
    return datetime.fromtimestamp(ts / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M")


def load_folder(
    folder: Path,
    symbols: Sequence[str] | None = None,
    ts_from: int | None = None,
    ts_to: int | None = None,
) -> dict[str, CandleArrays]:
    """Load one file per symbol from ``folder``, sliced to open times in [ts_from, ts_to)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: not a directory")
    found: dict[str, list[tuple[Path, str]]] = {}
    entries = sorted(folder.iterdir())
    sources = {columns_path(p) for p in entries if p.name.endswith(_SUFFIXES)}
    for p in entries:
        if p.name.endswith(COLUMNS_SUFFIX):  # columns alone (a cache of a file: read with it)
            parsed = _parse_name(p.name[: -len(COLUMNS_SUFFIX)] + ".csv")
            if parsed is not None and p not in sources and p.is_dir():
                found.setdefault(parsed[0], []).append((p, parsed[1]))
            continue
        parsed = _parse_name(p.name)
        if parsed is not None and p.is_file():
            found.setdefault(parsed[0], []).append((p, parsed[1]))
    wanted = list(symbols) if symbols is not None else sorted(found)
    missing = [s for s in wanted if s not in found]
    if missing:
        available = ", ".join(sorted(found)) or "none"
        raise DataError(f"{folder}: no data file for {', '.join(missing)}; available: {available}")
    out: dict[str, CandleArrays] = {}
    for sym in wanted:
        path = _pick(sym, found[sym])
        arrays = load_candles(path, symbol=sym)
        lo = 0 if ts_from is None else int(np.searchsorted(arrays.ts, ts_from, side="left"))
        hi = len(arrays) if ts_to is None else int(np.searchsorted(arrays.ts, ts_to, side="left"))
        if hi <= lo:
            raise DataError(
                f"{path}: no candles in the requested range {_iso(ts_from)} → {_iso(ts_to)}; "
                f"the file covers {_iso(int(arrays.ts[0]))} → {_iso(int(arrays.ts[-1]))}"
            )
        out[sym] = arrays.take(lo, hi)
    return out
