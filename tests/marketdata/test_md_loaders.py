"""Tests of candle file loading, validation, folder selection, resampling and gap reports."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from optiflow.domain.errors import DataError
from optiflow.marketdata.loaders import (
    CandleArrays,
    gap_report,
    load_candles,
    load_folder,
    resample,
    symbol_from_filename,
)

HEADER = "timestamp_ms,open,high,low,close,volume\n"
T0 = 1_679_004_900_000  # 2023-03-16 22:15 UTC
GOOD_ROWS = [
    f"{T0},10.0,11.0,9.5,10.5,3.0",
    f"{T0 + 60_000},10.5,12.0,10.0,11.5,4.0",
    f"{T0 + 120_000},11.5,11.5,11.0,11.0,0.0",
]
HALT_START = 1_679_657_280_000  # 2023-03-24 11:28 UTC, first zero-volume bar
GAP_START, GAP_END = 1_679_661_600_000, 1_679_666_400_000  # 12:40 .. 14:00 UTC


def write(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` (gzip when the name ends in .gz) and return the path."""
    data = text.encode()
    path.write_bytes(gzip.compress(data) if path.name.endswith(".gz") else data)
    return path


def bad_csv(tmp_path: Path, rows: list[str]) -> str:
    """Load a CSV made of the header and ``rows``; return the DataError message."""
    p = write(tmp_path / "BTC-USDT_1m.csv", HEADER + "\n".join(rows) + "\n")
    with pytest.raises(DataError) as info:
        load_candles(p)
    msg = str(info.value)
    assert str(p) in msg
    return msg


def test_real_file_loads_with_symbol_timeframe_and_dtypes(btc: CandleArrays) -> None:
    """The bundled BTC file loads as 66,087 int64/float64 rows of BTC/USDT 1m candles."""
    assert (btc.symbol, btc.timeframe_ms, len(btc)) == ("BTC/USDT", 60_000, 66_087)
    assert btc.ts.dtype == np.int64 and btc.close.dtype == np.float64
    assert btc.ts[0] == T0 and btc.close[0] == 24934.2
    assert not btc.close.flags.writeable


def test_real_gap_report_lists_the_halt_gap(
    btc: CandleArrays, real: Callable[[str], CandleArrays]
) -> None:
    """The 80 missing bars after the 2023-03-24 halt are the only gap, half-open."""
    assert gap_report(btc) == [(GAP_START, GAP_END)]
    assert gap_report(real("XRP-USDT")) == []


def test_candle_returns_python_scalars(btc: CandleArrays) -> None:
    """candle(i) gives a domain Candle of Python int/floats."""
    c = btc.candle(0)
    assert type(c.ts) is int and type(c.close) is float and c.close == 24934.2


@pytest.mark.parametrize(
    ("name", "symbol"),
    [
        ("BTC-USDT_1m.csv.gz", "BTC/USDT"),
        ("BTC-USDT_1m_spot_2023.csv.gz", "BTC/USDT"),
        ("BTC_USDT-1m.json", "BTC/USDT"),
        ("MATIC_USDT-5m.json.gz", "MATIC/USDT"),
        ("ETH-USDT_1m.csv", "ETH/USDT"),
        ("README.md", None),
        ("btcusdt.csv", None),
    ],
)
def test_symbol_from_filename(name: str, symbol: str | None) -> None:
    """Our names and freqtrade names map to ccxt symbols; others to None."""
    assert symbol_from_filename(name) == symbol


def test_gz_plain_headerless_and_json_formats_load_the_same(tmp_path: Path) -> None:
    """CSV, CSV.gz, headerless CSV, JSON and JSON.gz of the same rows give equal arrays."""
    rows = [[float(x) for x in r.split(",")] for r in GOOD_ROWS]
    rows_json = json.dumps([[int(r[0]), *r[1:]] for r in rows])
    paths = [
        write(tmp_path / "BTC-USDT_1m.csv", HEADER + "\n".join(GOOD_ROWS) + "\n"),
        write(tmp_path / "BTC-USDT_1m_a.csv.gz", HEADER + "\n".join(GOOD_ROWS)),
        write(tmp_path / "BTC-USDT_1m_b.csv", "\n".join(GOOD_ROWS) + "\n"),
        write(tmp_path / "BTC_USDT-1m.json", rows_json),
        write(tmp_path / "BTC_USDT-1m-x.json.gz", rows_json),
    ]
    loaded = [load_candles(p) for p in paths]
    for a in loaded:
        assert a.symbol == "BTC/USDT" and a.timeframe_ms == 60_000
        for col in ("ts", "open", "high", "low", "close", "volume"):
            assert np.array_equal(getattr(a, col), getattr(loaded[0], col))


def test_extra_columns_are_ignored(tmp_path: Path) -> None:
    """Columns after volume (quote volume, trades, ...) are ignored."""
    rows = [r + ",1.5,7" for r in GOOD_ROWS]
    p = write(tmp_path / "BTC-USDT_1m.csv", HEADER.strip() + ",qv,trades\n" + "\n".join(rows))
    assert load_candles(p).volume.tolist() == [3.0, 4.0, 0.0]


def test_unparseable_number_names_line_and_column(tmp_path: Path) -> None:
    """A non-numeric token is reported with its line number and column name."""
    rows = list(GOOD_ROWS)
    rows[1] = f"{T0 + 60_000},10.5,abc,10.0,11.5,4.0"
    msg = bad_csv(tmp_path, rows)
    assert "line 3" in msg and "unparseable number 'abc'" in msg and "high" in msg


def test_wrong_column_count_names_line(tmp_path: Path) -> None:
    """A row with a missing field is reported as a wrong column count."""
    msg = bad_csv(tmp_path, [GOOD_ROWS[0], GOOD_ROWS[1], f"{T0 + 120_000},11.5,11.5,11.0,11.0"])
    assert "line 4" in msg and "wrong column count" in msg


def test_duplicate_timestamp_is_rejected(tmp_path: Path) -> None:
    """A repeated timestamp is reported as duplicate with its line."""
    msg = bad_csv(tmp_path, [GOOD_ROWS[0], GOOD_ROWS[0], GOOD_ROWS[2]])
    assert "line 3" in msg and "duplicate timestamp" in msg


def test_out_of_order_timestamp_is_rejected(tmp_path: Path) -> None:
    """A decreasing timestamp is reported as out of order with its line."""
    msg = bad_csv(tmp_path, [GOOD_ROWS[1], GOOD_ROWS[0], GOOD_ROWS[2]])
    assert "line 3" in msg and "out-of-order" in msg


def test_high_below_low_is_rejected(tmp_path: Path) -> None:
    """A candle whose high is below its low is reported with its line."""
    msg = bad_csv(tmp_path, [GOOD_ROWS[0], f"{T0 + 60_000},10.5,9.0,10.0,9.5,4.0"])
    assert "line 3" in msg and "high < low" in msg


def test_negative_volume_is_rejected(tmp_path: Path) -> None:
    """A negative volume is reported with its line."""
    msg = bad_csv(tmp_path, [GOOD_ROWS[0], GOOD_ROWS[1], GOOD_ROWS[2].replace(",0.0", ",-1.0")])
    assert "line 4" in msg and "negative volume" in msg


def test_non_finite_and_non_positive_values_are_rejected(tmp_path: Path) -> None:
    """NaN prices and zero prices are rejected with their line."""
    assert "line 2" in bad_csv(tmp_path, [GOOD_ROWS[0].replace("10.5", "nan")])
    assert "price <= 0" in bad_csv(tmp_path, [f"{T0},0.0,11.0,0.0,10.5,3.0"])


def test_seconds_timestamps_are_rejected(tmp_path: Path) -> None:
    """Timestamps in seconds (not ms) are rejected with a hint."""
    msg = bad_csv(tmp_path, [f"{T0 // 1000},10.0,11.0,9.5,10.5,3.0"])
    assert "line 2" in msg and "milliseconds" in msg


@pytest.mark.parametrize("text", ["", HEADER, HEADER + "\n\n"])
def test_empty_files_are_rejected(tmp_path: Path, text: str) -> None:
    """A file without candle rows is reported as empty."""
    p = write(tmp_path / "BTC-USDT_1m.csv.gz", text)
    with pytest.raises(DataError, match="empty file"):
        load_candles(p)


def test_too_few_columns_is_rejected(tmp_path: Path) -> None:
    """A header with fewer than six columns is rejected."""
    p = write(tmp_path / "BTC-USDT_1m.csv", "timestamp_ms,close\n1679004900000,1.0\n")
    with pytest.raises(DataError, match="at least 6 columns"):
        load_candles(p)


@pytest.mark.parametrize(
    ("payload", "match"),
    [
        ("[[1679004900000, 1, 2, 0.5, 1]]", "row 1: expected"),
        ('[[1679004900000, 1, 2, 0.5, 1, 3], [1679004960000, "x", 2, 0.5, 1, 3]]', "row 2"),
        ("[]", "empty file"),
        ("{", "invalid JSON"),
    ],
)
def test_bad_json_is_rejected(tmp_path: Path, payload: str, match: str) -> None:
    """Malformed freqtrade JSON names the row and the problem."""
    p = write(tmp_path / "BTC_USDT-1m.json", payload)
    with pytest.raises(DataError, match=match):
        load_candles(p)


def test_load_folder_picks_one_file_per_symbol_and_slices(tmp_path: Path) -> None:
    """load_folder takes the one file of each symbol and slices to [ts_from, ts_to)."""
    write(tmp_path / "BTC-USDT_1m.csv", HEADER + "\n".join(GOOD_ROWS))
    write(tmp_path / "ETH-USDT_1m.csv.gz", HEADER + "\n".join(GOOD_ROWS))
    out = load_folder(tmp_path, ["BTC/USDT"], T0 + 60_000, T0 + 120_000)
    assert list(out) == ["BTC/USDT"] and out["BTC/USDT"].ts.tolist() == [T0 + 60_000]
    assert sorted(load_folder(tmp_path, None, None, None)) == ["BTC/USDT", "ETH/USDT"]


def test_load_folder_missing_symbol_lists_available(tmp_path: Path) -> None:
    """Asking for a symbol without a file names the symbols that are available."""
    write(tmp_path / "BTC-USDT_1m.csv", HEADER + "\n".join(GOOD_ROWS))
    with pytest.raises(DataError, match=r"SOL/USDT; available: BTC/USDT"):
        load_folder(tmp_path, ["SOL/USDT"], None, None)


def test_load_folder_ambiguous_files_and_empty_range_are_errors(tmp_path: Path) -> None:
    """Two CSVs for one symbol, or a range without candles, are reported."""
    write(tmp_path / "BTC-USDT_1m.csv", HEADER + "\n".join(GOOD_ROWS))
    with pytest.raises(DataError, match="no candles"):
        load_folder(tmp_path, None, T0 + 10**9, None)
    write(tmp_path / "BTC-USDT_1m_spot_2023.csv", HEADER + "\n".join(GOOD_ROWS))
    with pytest.raises(DataError, match="several candidate files"):
        load_folder(tmp_path, None, None, None)


def test_load_folder_on_bundled_data_window(spot_dir: Path) -> None:
    """The common window of the nine bundled pairs loads for all of them."""
    out = load_folder(spot_dir, None, 1_680_383_040_000, 1_680_383_040_000 + 600_000)
    assert len(out) == 9 and all(len(a) == 10 for a in out.values())


def _reference_resample(a: CandleArrays, tf: int) -> list[tuple[int, float, float, float, float]]:
    """Plain-Python OHLC aggregation by UTC-aligned bucket (volume checked separately)."""
    buckets: dict[int, list[int]] = {}
    for i, t in enumerate(a.ts.tolist()):
        buckets.setdefault(t - t % tf, []).append(i)
    return [
        (
            b,
            float(a.open[ix[0]]),
            max(a.high[ix].tolist()),
            min(a.low[ix].tolist()),
            float(a.close[ix[-1]]),
        )
        for b, ix in buckets.items()
    ]


def test_resample_matches_reference_over_the_halt(btc: CandleArrays) -> None:
    """5m and 15m bars over the halt match a plain reference; gap buckets are absent."""
    part = btc.take(int(np.searchsorted(btc.ts, HALT_START)) - 7, len(btc))
    part = part.take(0, 400)
    for tf in (300_000, 900_000):
        r = resample(part, tf)
        assert r.timeframe_ms == tf and (r.ts % tf == 0).all()
        got = list(zip(r.ts.tolist(), r.open, r.high, r.low, r.close, strict=True))
        assert got == _reference_resample(part, tf)
        assert np.allclose(r.volume.sum(), part.volume.sum(), rtol=1e-12)
        assert not ((r.ts >= GAP_START) & (r.ts < GAP_END)).any()
    five = resample(part, 300_000)
    assert gap_report(five) == [(GAP_START, GAP_END)]


def test_resample_partial_buckets_and_bad_timeframe(btc: CandleArrays) -> None:
    """A bucket is built from the candles present; a non-multiple timeframe is refused."""
    part = btc.take(3, 10)  # 22:18 .. 22:24: buckets 22:15 (2 bars) and 22:20 (5 bars)
    r = resample(part, 300_000)
    assert r.ts.tolist() == [T0, T0 + 300_000]
    assert r.open[0] == part.open[0] and r.close[0] == part.close[1]
    assert r.volume[0] == part.volume[0] + part.volume[1]
    with pytest.raises(ValueError, match="cannot resample"):
        resample(part, 90_000)
