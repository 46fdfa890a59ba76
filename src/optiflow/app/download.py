"""Download closed candles through the exchange port into the backtester's CSV files, resumably.

Files: ``OUT/BASE-QUOTE_<tf>.csv.gz`` (gzip CSV ``timestamp_ms,open,high,low,close,volume``,
what :func:`optiflow.marketdata.loaders.load_candles` reads). While a pair downloads, its rows
go to a plain ``OUT/BASE-QUOTE_<tf>.csv.part`` that is appended one page at a time and
flushed to disk; at the end the part is gzipped to a temp file that atomically replaces the
``.csv.gz``, then the part is deleted. Resume: the part (or else the finished file) is read,
a torn last line is dropped, and the download continues after its last timestamp. Rows are
only ever appended with a larger timestamp, so a file never holds duplicates or
out-of-order rows. Existing rows are kept; a download only extends a file forward.
A finished file also gets its columnar copy ``OUT/BASE-QUOTE_<tf>.columns/`` (numpy, read
much faster by the loaders); :func:`convert` makes it for files that exist already.
"""

from __future__ import annotations

import contextlib
import gzip
import math
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from optiflow.domain.errors import DataError, SkipError, StopError, UserInputError
from optiflow.domain.market import Candle
from optiflow.marketdata.columnar import columns_path, write_columns
from optiflow.marketdata.loaders import load_candles, timeframe_to_ms
from optiflow.ports.exchange import ExchangeGateway

HEADER = "timestamp_ms,open,high,low,close,volume\n"
PAGE_LIMIT = 1000

# (symbol, candles done, candles expected, rows written so far in this run)
Progress = Callable[[str, int, int, int], None]


@dataclass(frozen=True, slots=True)
class PairResult:
    """What one pair's download did."""

    symbol: str
    path: Path
    written: int  # new rows this run
    first_ms: int | None  # first and last timestamp in the file
    last_ms: int | None
    complete: bool  # False when stopped early by ``max_pages``


def normalize_pair(text: str) -> str:
    """``btc/usdt`` or ``BTC-USDT`` -> ``BTC/USDT``; UserInputError when not BASE/QUOTE."""
    sym = text.strip().upper().replace("-", "/")
    parts = sym.split("/")
    if len(parts) != 2 or not all(p.isalnum() for p in parts):
        raise UserInputError(f"--pairs: {text!r} is not a pair like BTC/USDT")
    return sym


def file_name(symbol: str, timeframe: str) -> str:
    """``BTC/USDT``, ``1m`` -> ``BTC-USDT_1m.csv.gz``."""
    return f"{symbol.replace('/', '-')}_{timeframe}.csv.gz"


def _num(x: float) -> str:
    """Shortest exact text of a float, never in scientific notation."""
    text = repr(x)
    return format(Decimal(text), "f") if "e" in text or "E" in text else text


def format_rows(candles: Sequence[Candle]) -> str:
    """CSV lines (with newlines) for candles."""
    return "".join(
        f"{c.ts},{_num(c.open)},{_num(c.high)},{_num(c.low)},{_num(c.close)},{_num(c.volume)}\n"
        for c in candles
    )


def _read_existing(path: Path) -> tuple[str, int | None, int | None]:
    """Text of a part or finished file cut after its last whole row, and its first/last ts."""
    raw = path.read_bytes()
    try:
        data = gzip.decompress(raw) if path.name.endswith(".gz") else raw
        text = data.decode("utf-8")
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise UserInputError(f"{path}: cannot read it to resume ({exc}); delete it") from None
    text = text[: text.rfind("\n") + 1]  # drop a torn last line from an interrupted write
    first = last = None
    for n, line in enumerate(text.splitlines(), start=1):
        if n == 1 and line.startswith("timestamp"):
            continue
        cells = line.split(",")
        try:
            ts = int(cells[0])
            ok = len(cells) >= 6 and all(math.isfinite(float(c)) for c in cells[1:6])
        except ValueError:
            ok = False
        if not ok or (last is not None and ts <= last):
            raise UserInputError(
                f"{path}: line {n}: bad or out-of-order row {line[:60]!r}; "
                "delete the file to start over"
            )
        first = ts if first is None else first
        last = ts
    return text or HEADER, first, last


def _finish(part: Path, final: Path) -> None:
    """Gzip the part into a temp file, atomically replace the final file, drop the part."""
    tmp = final.with_name(final.name + ".tmp")
    with part.open("rb") as src, gzip.open(tmp, "wb") as dst:
        shutil.copyfileobj(src, dst)
    with tmp.open("rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, final)
    part.unlink()


def _append(part: Path, text: str) -> None:
    """Append whole rows and push them to disk."""
    with part.open("a", encoding="utf-8", newline="") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


async def _fetch(
    gateway: ExchangeGateway, symbol: str, timeframe: str, since_ms: int, limit: int
) -> list[Candle]:
    """One page of closed candles; a refusal by the exchange is the user's problem to fix."""
    try:
        return await gateway.fetch_closed_candles(symbol, timeframe, since_ms, limit)
    except (StopError, SkipError) as exc:
        raise UserInputError(f"{symbol} {timeframe}: the exchange refused: {exc}") from None


async def download_pair(
    gateway: ExchangeGateway,
    symbol: str,
    timeframe: str,
    start_ms: int,
    end_ms: int,
    out_dir: Path,
    *,
    page_limit: int = PAGE_LIMIT,
    max_pages: int | None = None,
    progress: Progress | None = None,
) -> PairResult:
    """Fetch closed candles with open time in [start_ms, end_ms) for one pair, resuming."""
    tf = timeframe_to_ms(timeframe)
    final = out_dir / file_name(symbol, timeframe)
    part = final.with_name(final.name.removesuffix(".gz") + ".part")
    source = part if part.exists() else final if final.exists() else None
    first = last = None
    if source is not None:
        text, first, last = _read_existing(source)
        if first is not None and first > start_ms:
            probe = await _fetch(gateway, symbol, timeframe, start_ms, 1)
            if probe and probe[0].ts < first:
                raise UserInputError(
                    f"{source}: starts at {first} ms but the exchange has candles from "
                    f"{probe[0].ts} ms (--from is {start_ms} ms); a download only extends a "
                    "file forward: delete it or use another --out"
                )
        if source is final or len(text.encode()) != part.stat().st_size:
            part.write_text(text, encoding="utf-8", newline="")
    else:
        part.write_text(HEADER, encoding="utf-8", newline="")
    next_ms = start_ms if last is None else last + tf
    lo = min(start_ms, next_ms)
    total = max(0, math.ceil((end_ms - lo) / tf))

    def done(at_ms: int) -> int:
        return min(total, max(0, math.ceil((at_ms - lo) / tf)))

    written, pages, complete = 0, 0, True
    if progress:
        progress(symbol, done(next_ms), total, written)
    while next_ms < end_ms:
        if max_pages is not None and pages >= max_pages:
            complete = False
            break
        page = await _fetch(gateway, symbol, timeframe, next_ms, page_limit)
        pages += 1
        fresh = [c for c in page if next_ms <= c.ts < end_ms and (last is None or c.ts > last)]
        fresh.sort(key=lambda c: c.ts)
        if fresh:
            _append(part, format_rows(fresh))
            written += len(fresh)
            first = fresh[0].ts if first is None else first
            last = fresh[-1].ts
            next_ms = last + tf
        if progress:
            progress(symbol, done(next_ms), total, written)
        if not fresh:
            break  # nothing more (yet): the range ends in a gap or in the future
    if progress and complete:
        progress(symbol, total, total, written)
    if complete:
        if first is None:
            part.unlink()
        else:
            _finish(part, final)
            # the CSV stands on its own; `optiflow data convert` says what is wrong with it
            with contextlib.suppress(DataError):
                write_columns(load_candles(final, symbol=symbol), columns_path(final), final)
    return PairResult(symbol, final, written, first, last, complete)


async def download(
    gateway: ExchangeGateway,
    pairs: Sequence[str],
    timeframe: str,
    start_ms: int,
    end_ms: int,
    out_dir: Path,
    *,
    page_limit: int = PAGE_LIMIT,
    max_pages: int | None = None,
    progress: Progress | None = None,
) -> list[PairResult]:
    """Check the pairs exist on the exchange, then download each one in turn."""
    if end_ms <= start_ms:
        raise UserInputError("--to must be after --from")
    try:
        timeframe_to_ms(timeframe)
    except ValueError as exc:
        raise UserInputError(f"--timeframe: {exc}") from None
    try:
        markets = await gateway.load_markets()
    except StopError as exc:
        raise UserInputError(f"cannot load the exchange's markets: {exc}") from None
    unknown = [p for p in pairs if p not in markets]
    if unknown:
        raise UserInputError(
            f"unknown pair(s) on this exchange/market: {', '.join(unknown)} "
            f"({len(markets)} markets listed, e.g. {', '.join(sorted(markets)[:3])})"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    results = []
    for sym in pairs:
        results.append(
            await download_pair(
                gateway,
                sym,
                timeframe,
                start_ms,
                end_ms,
                out_dir,
                page_limit=page_limit,
                max_pages=max_pages,
                progress=progress,
            )
        )
    return results


CANDLE_SUFFIXES = (".csv.gz", ".csv", ".json.gz", ".json")


def candle_files(paths: Sequence[Path]) -> list[Path]:
    """The candle files named by ``paths`` (files, or folders searched one level deep)."""
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out += sorted(
                q for q in p.iterdir() if q.is_file() and q.name.endswith(CANDLE_SUFFIXES)
            )
        elif p.is_file() and p.name.endswith(CANDLE_SUFFIXES):
            out.append(p)
        elif not p.exists():
            raise UserInputError(f"{p}: no such file or folder")
        else:
            raise UserInputError(
                f"{p}: not a candle file (allowed: a folder or a file ending in "
                f"{', '.join(CANDLE_SUFFIXES)})"
            )
    return out


def convert(paths: Sequence[Path]) -> list[tuple[Path, Path, int]]:
    """Write the columnar copy of every candle file in ``paths``: (file, folder, candles)."""
    done = []
    for src in candle_files(paths):
        arrays = load_candles(src)  # validated (read from a fresh copy: the same candles)
        folder = write_columns(arrays, columns_path(src), src)
        done.append((src, folder, len(arrays)))
    return done
