"""Columnar candle folders: ``optiflow data convert``, loaders prefer them while fresh."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from optiflow.domain.errors import DataError
from optiflow.marketdata.candles import CandleArrays
from optiflow.marketdata.columnar import is_fresh, read_columns
from optiflow.marketdata.loaders import load_candles, load_folder

COLS = ("ts", "open", "high", "low", "close", "volume")


def convert(*args: str) -> subprocess.CompletedProcess[str]:
    """Run ``optiflow data convert`` as a user would."""
    cmd = [sys.executable, "-m", "optiflow.interfaces.cli.main", "data", "convert", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def same(a: CandleArrays, b: CandleArrays) -> bool:
    """Equal symbol, timeframe and every column, bit for bit."""
    return (
        a.symbol == b.symbol
        and a.timeframe_ms == b.timeframe_ms
        and all(np.array_equal(getattr(a, c), getattr(b, c)) for c in COLS)
    )


@pytest.fixture
def folder(spot_dir: Path, tmp_path: Path) -> Path:
    """A copy of two bundled real candle files."""
    out = tmp_path / "data"
    out.mkdir()
    for name in ("BTC-USDT_1m.csv.gz", "ETH-USDT_1m.csv.gz"):
        shutil.copy2(spot_dir / name, out / name)
    return out


def test_convert_writes_columns_equal_to_the_csv(folder: Path) -> None:
    """The CLI writes NAME.columns next to each file; the loaders read the very same candles."""
    from_csv = load_folder(folder)
    r = convert(str(folder))
    assert r.returncode == 0, r.stderr
    assert "BTC-USDT_1m.csv.gz: 66087 candles ->" in r.stdout
    assert (folder / "BTC-USDT_1m.columns" / "close.npy").is_file()
    assert is_fresh(folder / "ETH-USDT_1m.columns", folder / "ETH-USDT_1m.csv.gz")
    from_cols = load_folder(folder)
    assert sorted(from_cols) == ["BTC/USDT", "ETH/USDT"]
    assert all(same(from_csv[s], from_cols[s]) for s in from_csv)
    sliced = load_folder(folder, ["BTC/USDT"], 1680307200000, 1680393600000)  # one day
    assert len(sliced["BTC/USDT"]) == 1440


def test_loader_prefers_fresh_columns_and_ignores_stale_ones(folder: Path) -> None:
    """A fresh copy is what is read; once the CSV changes the copy is stale and ignored."""
    csv = folder / "BTC-USDT_1m.csv.gz"
    assert convert(str(csv)).returncode == 0
    cols = folder / "BTC-USDT_1m.columns"
    close = np.load(cols / "close.npy")
    marked = close.copy()
    marked[0] = 12345.0  # a value only the columnar copy has: shows which one was read
    np.save(cols / "close.npy", marked)
    assert float(load_candles(csv).close[0]) == 12345.0
    st = csv.stat()
    os.utime(csv, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))  # the file changed
    assert not is_fresh(cols, csv)
    assert float(load_candles(csv).close[0]) == float(close[0])
    assert float(load_folder(folder, ["BTC/USDT"])["BTC/USDT"].close[0]) == float(close[0])


def test_columns_alone_are_a_data_source(folder: Path) -> None:
    """With the CSV deleted, the folder's columns still provide the symbol."""
    assert convert(str(folder)).returncode == 0
    before = load_folder(folder, ["ETH/USDT"])["ETH/USDT"]
    (folder / "ETH-USDT_1m.csv.gz").unlink()
    after = load_folder(folder, ["ETH/USDT"])["ETH/USDT"]
    assert same(before, after)
    assert same(after, read_columns(folder / "ETH-USDT_1m.columns"))


def test_broken_columns_name_the_file_and_problem(folder: Path) -> None:
    """A truncated column (no CSV to fall back on) is one DataError naming the column."""
    assert convert(str(folder)).returncode == 0
    (folder / "ETH-USDT_1m.csv.gz").unlink()
    cols = folder / "ETH-USDT_1m.columns"
    np.save(cols / "high.npy", np.load(cols / "high.npy")[:-1])
    with pytest.raises(DataError, match=r"ETH-USDT_1m\.columns: high\.npy: expected 66087"):
        load_folder(folder, ["ETH/USDT"])


def test_convert_bad_path_exits_2_with_one_line(tmp_path: Path) -> None:
    """A missing path: one clear line, exit 2, no traceback."""
    r = convert(str(tmp_path / "nope"))
    assert r.returncode == 2
    assert "nope: no such file or folder" in r.stderr and "Traceback" not in r.stderr
    (tmp_path / "notes.txt").write_text("x")
    r = convert(str(tmp_path / "notes.txt"))
    assert r.returncode == 2 and "not a candle file" in r.stderr
