"""Load tick files (best bid/ask and trades) into numpy arrays.

Spot ``bookTicker`` rows carry no exchange timestamp, so their ``ts`` is the recorder's
receive clock ``local_recv_ns // 1_000_000`` (which ran ~1.3 s behind the exchange in the
bundled captures); trades use the exchange's ``trade_time_ms``. Files with a plain
``timestamp_ms`` column (older captures) use it directly.
"""

from __future__ import annotations

import gzip
import io
import re
from collections.abc import Sequence
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


_TICK_FILE = re.compile(
    r"^binance_spot_([A-Z0-9]+)_(\d{8}(?:-\d{8})?)_(bookTicker|quotes|trades)\.csv(?:\.gz)?$"
)
_QUOTES = ("USDT", "FDUSD", "USDC", "BUSD", "TUSD", "BTC", "ETH", "BNB", "EUR", "TRY")


@dataclass(frozen=True, slots=True)
class TickData:
    """One symbol's trades and best bid/ask on the exchange clock, with the captured spans.

    ``spans`` are the [start, end] ms windows the captures cover (first to last message of
    either stream): inside them the trades are the complete price path.
    """

    symbol: str
    trades: TradeArrays
    book: BookTickerArrays
    spans: tuple[tuple[int, int], ...]

    def covers(self, start: int, end: int) -> bool:
        """True if one captured span holds the whole interval [start, end)."""
        return any(lo <= start and end - 1 <= hi for lo, hi in self.spans)


def pair_from_ticker(ticker: str) -> str | None:
    """``BTCUSDT`` -> ``BTC/USDT`` (known quote assets only), else None."""
    for quote in sorted(_QUOTES, key=len, reverse=True):
        if ticker.endswith(quote) and len(ticker) > len(quote):
            return f"{ticker[: -len(quote)]}/{quote}"
    return None


def _header(path: Path) -> list[str]:
    """The column names of a CSV file's first line."""
    try:
        with gzip.open(path) if path.name.endswith(".gz") else path.open("rb") as fh:
            return fh.readline().decode("utf-8", "replace").strip().split(",")
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise DataError(f"{path}: cannot read file: {exc}") from exc


def _recv_offset_ms(path: Path) -> int | None:
    """Median (receive clock - exchange trade time) of a trades capture, if it has both."""
    header = _header(path)
    if "local_recv_ns" not in header or "trade_time_ms" not in header:
        return None
    recv, trade_ms, _ = _read(path, ("local_recv_ns",), ("trade_time_ms", "price"))
    return int(np.median(recv - trade_ms.astype(np.int64)))


def _capture(stem: str, files: dict[str, Path]) -> tuple[TradeArrays, BookTickerArrays]:
    """One capture's trades and book, the book moved onto the exchange clock."""
    if "trades" not in files:
        raise DataError(f"{stem}: a bookTicker/quotes file without its trades file")
    trades = load_trades(files["trades"])
    book_path = files.get("bookTicker") or files.get("quotes")
    if book_path is None:
        empty = np.zeros(0, np.float64)
        return trades, BookTickerArrays(np.zeros(0, np.int64), empty, empty.copy())
    book = load_book_ticker(book_path)
    offset = _recv_offset_ms(files["trades"])
    if offset is not None and "local_recv_ns" in _header(book_path):
        book = BookTickerArrays(book.ts - offset, book.bid, book.ask)
    if not (book.ask >= book.bid).all():
        raise DataError(f"{book_path}: crossed book (ask < bid) in some rows")
    return trades, book


def _merge(symbol: str, parts: list[tuple[TradeArrays, BookTickerArrays]]) -> TickData:
    """Several captures of one symbol as one time-ordered TickData."""
    spans = []
    for tr, bk in parts:
        lo = min(int(tr.ts.min()), int(bk.ts.min()) if len(bk.ts) else int(tr.ts.min()))
        hi = max(int(tr.ts.max()), int(bk.ts.max()) if len(bk.ts) else int(tr.ts.max()))
        spans.append((lo, hi))
    order = sorted(range(len(parts)), key=lambda k: spans[k])
    spans = [spans[k] for k in order]
    for (_, hi), (lo, _) in zip(spans, spans[1:], strict=False):
        if lo <= hi:
            raise DataError(f"{symbol}: tick captures overlap in time; keep one of them")
    trades = [parts[k][0] for k in order]
    books = [parts[k][1] for k in order]
    t_ts = np.concatenate([t.ts for t in trades])
    t_ord = np.argsort(t_ts, kind="stable")
    b_ts = np.concatenate([b.ts for b in books])
    b_ord = np.argsort(b_ts, kind="stable")
    return TickData(
        symbol,
        TradeArrays(
            t_ts[t_ord],
            np.concatenate([t.price for t in trades])[t_ord],
            np.concatenate([t.qty for t in trades])[t_ord],
        ),
        BookTickerArrays(
            b_ts[b_ord],
            np.concatenate([b.bid for b in books])[b_ord],
            np.concatenate([b.ask for b in books])[b_ord],
        ),
        tuple(spans),
    )


def load_tick_folder(folder: Path, symbols: Sequence[str] | None = None) -> dict[str, TickData]:
    """Every ``binance_spot_<SYMBOL>_<dates>_{bookTicker,quotes,trades}.csv.gz`` in ``folder``.

    Captures are paired by ``<SYMBOL>_<dates>``; a trades file is required, the book is
    optional. The book's receive clock is moved onto the exchange clock by the median
    receive delay of the same capture's trades. ``symbols`` (``BTC/USDT``...) limits loading.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: not a directory")
    found: dict[str, dict[str, dict[str, Path]]] = {}
    for p in sorted(folder.iterdir()):
        m = _TICK_FILE.match(p.name)
        if m is None or not p.is_file():
            continue
        pair = pair_from_ticker(m.group(1))
        if pair is None:
            raise DataError(f"{p}: unknown quote asset in {m.group(1)!r}")
        if symbols is not None and pair not in symbols:
            continue
        kinds = found.setdefault(pair, {}).setdefault(f"{m.group(1)}_{m.group(2)}", {})
        kind = m.group(3)
        if kind in kinds or {kind, *kinds} >= {"bookTicker", "quotes"}:
            raise DataError(f"{p}: a second book/trades file for the same capture")
        kinds[kind] = p
    if not found and symbols is None:
        raise DataError(
            f"{folder}: no tick files (binance_spot_<SYMBOL>_<dates>_{{bookTicker,trades}}.csv.gz)"
        )
    return {
        pair: _merge(pair, [_capture(stem, files) for stem, files in sorted(caps.items())])
        for pair, caps in sorted(found.items())
    }
