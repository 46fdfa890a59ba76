"""``optiflow data download`` against the fake Binance: paging, resume, closed candles, errors."""

from __future__ import annotations

import asyncio
import gzip
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from optiflow.adapters.ccxt.factory import ExchangeSpec, MarketKind  # noqa: E402
from optiflow.adapters.ccxt.gateway import CcxtGateway  # noqa: E402
from optiflow.adapters.ccxt.retry import RetryPolicy  # noqa: E402
from optiflow.app.download import PairResult, download  # noqa: E402
from optiflow.interfaces.cli.main import app  # noqa: E402
from optiflow.marketdata.columnar import is_fresh, read_columns  # noqa: E402
from optiflow.marketdata.loaders import load_candles, load_folder  # noqa: E402
from tests.fakes.binance import FakeBinance  # noqa: E402
from tests.fakes.binance_ledger import load_candles as read_rows  # noqa: E402

DATA = REPO / "data" / "binance_spot_1m"
FROM, TO = "2023-03-16", "2023-03-25"  # wider than the fake's candles: every row is wanted
FROM_MS, TO_MS = 1678924800000, 1679702400000
N_BTC, N_ETH = 3000, 1500

Rows = list[list[float]]


@pytest.fixture(scope="module")
def source() -> dict[str, Rows]:
    """Real candles the fake serves: 3000 BTC (three pages) and 1500 ETH."""
    return {
        "BTCUSDT": read_rows(DATA / "BTC-USDT_1m.csv.gz")[:N_BTC],
        "ETHUSDT": read_rows(DATA / "ETH-USDT_1m.csv.gz")[:N_ETH],
    }


@pytest.fixture
def fake(source: dict[str, Rows]) -> Iterator[FakeBinance]:
    """A fake Binance with BTC/USDT and ETH/USDT candles; no unknown endpoint may be hit."""
    fb = FakeBinance()
    fb.ledger.add_market("BTC", "USDT", tick="0.01", step="0.00001")
    fb.ledger.add_market("ETH", "USDT", tick="0.01", step="0.0001")
    for sym, rows in source.items():
        fb.ledger.set_candles(sym, rows)
    fb.start()
    yield fb
    fb.stop()
    assert fb.unknown == [], f"unknown endpoints hit: {fb.unknown}"


@dataclass
class Now:
    """The fake's clock for the gateway (which drops candles that are not closed yet)."""

    fake: FakeBinance

    def now_ms(self) -> int:
        """The fake's now."""
        return self.fake.ledger.now_ms()

    async def sleep_until(self, ts_ms: int) -> None:
        """Unused."""


def gateway(fake: FakeBinance, market: MarketKind = "spot") -> CcxtGateway:
    """A ccxt gateway on the fake, retrying fast."""
    spec = ExchangeSpec("binance", market, api_base_url=fake.url, timeout_ms=3000)
    gw = CcxtGateway.from_spec(spec, retry=RetryPolicy(base_delay=0.01), clock=Now(fake))
    gw.exchange.enableRateLimit = False
    return gw


def run_app(fake: FakeBinance, out: Path, pairs: list[str], **kw: object) -> list[PairResult]:
    """Run the download use case on the fake."""

    async def go() -> list[PairResult]:
        gw = gateway(fake)
        try:
            return await download(gw, pairs, "1m", FROM_MS, TO_MS, out, **kw)  # type: ignore[arg-type]
        finally:
            await gw.close()

    return asyncio.run(go())


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """Run ``optiflow data download`` as a user would."""
    cmd = [sys.executable, "-m", "optiflow.interfaces.cli.main", "data", "download", *args]
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=60)


def rows_of(path: Path) -> Rows:
    """Rows of a written file (header checked)."""
    lines = gzip.decompress(path.read_bytes()).decode().splitlines()
    assert lines[0] == "timestamp_ms,open,high,low,close,volume"
    return [[float(x) for x in line.split(",")] for line in lines[1:]]


def kline_starts(fake: FakeBinance) -> list[int]:
    """startTime of every spot klines page request (not the 1-candle probes), in order."""
    return [int(p["startTime"]) for p in fake.calls("GET", "/api/v3/klines") if p["limit"] != "2"]


def test_full_download_pages_and_equals_the_source(
    fake: FakeBinance, source: dict[str, Rows], tmp_path: Path
) -> None:
    """Two pairs through the CLI: files equal the served rows; the backtester reads them."""
    out = tmp_path / "hist"
    r = cli(
        "--exchange", "binance", "--pairs", "BTC/USDT,ETH/USDT", "--timeframe", "1m",
        "--from", FROM, "--to", TO, "--out", str(out), "--api-base-url", fake.url,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "BTC/USDT: 3000 new candles" in r.stdout and "ETH/USDT: 1500 new" in r.stdout
    assert sorted(p.name for p in out.iterdir()) == [
        "BTC-USDT_1m.columns",
        "BTC-USDT_1m.csv.gz",
        "ETH-USDT_1m.columns",
        "ETH-USDT_1m.csv.gz",
    ]
    cols = read_columns(out / "BTC-USDT_1m.columns")  # the columnar copy equals the file
    assert [[float(x) for x in row] for row in zip(cols.ts, cols.open, cols.high, cols.low,
            cols.close, cols.volume, strict=True)] == source["BTCUSDT"]  # fmt: skip
    assert rows_of(out / "BTC-USDT_1m.csv.gz") == source["BTCUSDT"]
    assert rows_of(out / "ETH-USDT_1m.csv.gz") == source["ETHUSDT"]
    btc = [p for p in fake.calls("GET", "/api/v3/klines") if p["symbol"] == "BTCUSDT"]
    assert len(btc) == 4 and {p["limit"] for p in btc} == {"1000"}  # 3 pages, then empty
    arrays = load_candles(out / "BTC-USDT_1m.csv.gz")
    assert arrays.symbol == "BTC/USDT" and len(arrays) == N_BTC and arrays.timeframe_ms == 60_000
    assert sorted(load_folder(out)) == ["BTC/USDT", "ETH/USDT"]


def test_interrupted_download_resumes_without_duplicates(
    fake: FakeBinance, source: dict[str, Rows], tmp_path: Path
) -> None:
    """Stopped after one page: a .part with 1000 rows; the rerun continues from the next one."""
    [res] = run_app(fake, tmp_path, ["BTC/USDT"], max_pages=1)
    assert not res.complete and res.written == 1000
    part = tmp_path / "BTC-USDT_1m.csv.part"
    assert part.exists() and not (tmp_path / "BTC-USDT_1m.csv.gz").exists()
    assert len(part.read_text().splitlines()) == 1001
    fake.requests.clear()
    r = cli("--pairs", "BTC/USDT", "--from", FROM, "--to", TO, "--out", str(tmp_path),
            "--api-base-url", fake.url)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "2000 new candles" in r.stdout
    assert kline_starts(fake)[0] == int(source["BTCUSDT"][1000][0])
    assert rows_of(tmp_path / "BTC-USDT_1m.csv.gz") == source["BTCUSDT"]
    assert not part.exists() and sorted(p.name for p in tmp_path.iterdir()) == [
        "BTC-USDT_1m.columns",
        "BTC-USDT_1m.csv.gz",
    ]


def test_torn_last_line_of_the_part_is_dropped(
    fake: FakeBinance, source: dict[str, Rows], tmp_path: Path
) -> None:
    """A kill mid-write leaves half a row: it is cut and fetched again."""
    part = tmp_path / "BTC-USDT_1m.csv.part"
    good = [",".join(repr(x) for x in [int(r[0]), *r[1:]]) for r in source["BTCUSDT"][:10]]
    part.write_text("timestamp_ms,open,high,low,close,volume\n" + "\n".join(good) + "\n1679")
    [res] = run_app(fake, tmp_path, ["BTC/USDT"])
    assert res.complete and res.written == N_BTC - 10
    assert rows_of(tmp_path / "BTC-USDT_1m.csv.gz") == source["BTCUSDT"]


def test_finished_file_is_extended_and_a_rerun_fetches_nothing_new(
    fake: FakeBinance, source: dict[str, Rows], tmp_path: Path
) -> None:
    """A finished file is extended from its last candle; rerunning writes nothing."""
    fake.ledger.set_candles("BTCUSDT", source["BTCUSDT"][:1500])
    run_app(fake, tmp_path, ["BTC/USDT"])
    assert rows_of(tmp_path / "BTC-USDT_1m.csv.gz") == source["BTCUSDT"][:1500]
    fake.ledger.set_candles("BTCUSDT", source["BTCUSDT"])
    fake.requests.clear()
    [res] = run_app(fake, tmp_path, ["BTC/USDT"])
    assert res.written == 1500 and kline_starts(fake)[0] == int(source["BTCUSDT"][1500][0])
    [again] = run_app(fake, tmp_path, ["BTC/USDT"])
    assert again.written == 0
    assert rows_of(tmp_path / "BTC-USDT_1m.csv.gz") == source["BTCUSDT"]
    # the columnar copy follows the extended file (fresh, every row)
    assert is_fresh(tmp_path / "BTC-USDT_1m.columns", tmp_path / "BTC-USDT_1m.csv.gz")
    assert len(read_columns(tmp_path / "BTC-USDT_1m.columns")) == N_BTC


def test_only_closed_candles_and_5xx_bursts_are_retried(
    fake: FakeBinance, source: dict[str, Rows], tmp_path: Path
) -> None:
    """The forming candle is never written; a 503 burst is retried by the gateway."""
    fake.ledger.fixed_now_ms = int(source["BTCUSDT"][-1][0]) + 30_000
    fake.fail_next(2, 503, path="/api/v3/klines")
    [res] = run_app(fake, tmp_path, ["BTC/USDT"])
    assert res.complete and res.written == N_BTC - 1
    assert rows_of(tmp_path / "BTC-USDT_1m.csv.gz") == source["BTCUSDT"][:-1]


def test_unknown_pair_exits_2_with_a_message(fake: FakeBinance, tmp_path: Path) -> None:
    """A pair the exchange does not list: one clear line, exit 2, no traceback, no file."""
    r = cli("--pairs", "BTC/USDT,NOPE/USDT", "--from", FROM, "--to", TO,
            "--out", str(tmp_path / "o"), "--api-base-url", fake.url)  # fmt: skip
    assert r.returncode == 2
    assert "error: unknown pair(s) on this exchange/market: NOPE/USDT" in r.stderr
    assert "Traceback" not in r.stderr and not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "2023-03-20", "--to", "2023-03-19"], "--to 2023-03-19 is not after --from"),
        (["--from", "yesterday", "--to", TO], "--from = 'yesterday': expected an ISO 8601"),
        (["--from", FROM, "--to", TO, "--pairs", "BTCUSDT"], "'BTCUSDT' is not a pair"),
        (["--from", FROM, "--to", TO, "--market", "margin"], "--market 'margin'"),
    ],
)
def test_bad_arguments_exit_2(args: list[str], message: str, tmp_path: Path) -> None:
    """Argument mistakes are caught before any request, with exit code 2 (in-process)."""
    base = ["data", "download", "--pairs", "BTC/USDT", "--out", str(tmp_path / "o")]
    r = CliRunner().invoke(app, [*base, "--api-base-url", "http://127.0.0.1:9", *args])
    assert r.exit_code == 2, r.output
    assert message in r.stderr and not (tmp_path / "o").exists()


def test_futures_klines_come_from_fapi(
    fake: FakeBinance, source: dict[str, Rows], tmp_path: Path
) -> None:
    """``--market futures`` pages USDT-M klines and writes the same format."""
    r = cli("--pairs", "ETH/USDT", "--market", "futures", "--from", FROM, "--to", TO,
            "--out", str(tmp_path), "--api-base-url", fake.url)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert fake.calls("GET", "/fapi/v1/klines") and not fake.calls("GET", "/api/v3/klines")
    assert rows_of(tmp_path / "ETH-USDT_1m.csv.gz") == source["ETHUSDT"]
