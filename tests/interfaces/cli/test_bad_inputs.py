"""Every user mistake through the real CLI: exit 2, one clear line, no traceback (a table).

Add a case with one line in ``CASES``: an id, a function that builds the files in a temp
folder and returns the command line, and the texts the error must contain (file, field,
value, what is allowed).
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[3]
DATA = REPO / "data" / "binance_spot_1m"
T0 = 1_680_307_200_000  # 2023-04-01T00:00Z
HEADER = "timestamp_ms,open,high,low,close,volume\n"


def optiflow(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    """Run ``optiflow`` as a user would (a new process)."""
    cmd = [sys.executable, "-m", "optiflow.interfaces.cli.main", *args]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=300)


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def cfg(tmp: Path, name: str = "bot.json", **over: Any) -> str:
    """Preset A trading BTC/USDT only, with nested overrides, written to ``tmp/name``."""
    base = json.loads((REPO / "configs" / "runtime_config_optiscalpA.json").read_text())
    path = tmp / name
    path.write_text(json.dumps(_merge(base, {"pairs": ["BTC/USDT"], **over})))
    return str(path)


def raw_cfg(tmp: Path, text: str) -> str:
    """A config file with exactly this text."""
    path = tmp / "raw.json"
    path.write_text(text)
    return str(path)


def rows(n: int = 300, step_ms: int = 60_000, bad: str | None = None) -> list[str]:
    """``n`` plausible candle rows; ``bad`` replaces row 10 (0-based)."""
    out = []
    for i in range(n):
        p = 100 + (i % 7)
        out.append(f"{T0 + i * step_ms},{p},{p + 1},{p - 1},{p + 0.5},{10 + i % 5}")
    if bad is not None:
        out[10] = bad
    return out


def data_dir(tmp: Path, name: str = "BTC-USDT_1m.csv", text: str | None = None) -> Path:
    """A data folder with one candle file (CSV text, or the given text)."""
    folder = tmp / "data"
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(text if text is not None else HEADER + "\n".join(rows()) + "\n")
    return folder


def a_file(tmp: Path) -> Path:
    """A regular file standing where a folder is expected."""
    path = tmp / "plain.txt"
    path.write_text("x")
    return path


def corrupt_gzip(tmp: Path) -> list[str]:
    """A .csv.gz whose header is fine but whose deflate body is garbage."""
    folder = tmp / "data"
    folder.mkdir()
    good = gzip.compress((HEADER + "\n".join(rows())).encode())
    body = bytearray(good)
    for i in range(20, min(len(body) - 8, 200)):
        body[i] ^= 0x5A
    (folder / "BTC-USDT_1m.csv.gz").write_bytes(bytes(body))
    return ["backtest", cfg(tmp), "--data", str(folder)]


def csv_and_json(tmp: Path) -> list[str]:
    """The same pair as CSV and as freqtrade JSON in one folder."""
    folder = data_dir(tmp)
    table = [[int(r.split(",")[0]), *map(float, r.split(",")[1:])] for r in rows()]
    (folder / "BTC_USDT-1m.json").write_text(json.dumps(table))
    return ["backtest", cfg(tmp), "--data", str(folder)]


def changed_replay(tmp: Path) -> list[str]:
    """A replay that ran to its end once, then is resumed with a different config."""
    state = tmp / "state"
    first = optiflow(
        "run", cfg(tmp), "--mode", "replay", "--speed", "0", "--state-dir", str(state),
        "--from", "2023-04-01", "--to", "2023-04-01T03:00",
    )  # fmt: skip
    assert first.returncode == 0, first.stderr
    changed = cfg(tmp, exits={"sl_pct": 0.8})
    return [
        "run", changed, "--mode", "replay", "--speed", "0", "--state-dir", str(state),
        "--from", "2023-04-01", "--to", "2023-04-01T06:00",
    ]  # fmt: skip


def bt(tmp: Path, *extra: str, **over: Any) -> list[str]:
    """A backtest of the bundled data with a config built from overrides."""
    return ["backtest", cfg(tmp, **over), "--data", str(DATA), *extra]


def check(tmp: Path, **over: Any) -> list[str]:
    """``check-config`` of a config built from overrides."""
    return ["check-config", cfg(tmp, **over)]


def replay(tmp: Path, *extra: str, **over: Any) -> list[str]:
    """A replay of the bundled data with a config built from overrides."""
    state = str(tmp / "state")
    return ["run", cfg(tmp, **over), "--mode", "replay", "--state-dir", state, *extra]


@dataclass(frozen=True)
class Case:
    """One bad input: how to build it, and what the one-line answer must say."""

    id: str
    argv: Callable[[Path], list[str]]
    says: tuple[str, ...]


BAD_ROW = "bad"
CASES: list[Case] = [
    # ---- output and state folders, checked before any work ----
    Case("out-is-file", lambda t: bt(t, "--out", str(a_file(t))), ("--out", "is a file")),
    Case(
        "safety-retry-negative",
        lambda t: ["check-config", cfg(t, safety={"exit_retry_s": -1})],
        ("bot.json", "safety.exit_retry_s", "-1", "> 0"),
    ),
    Case(
        "shadows-enabled-not-bool",
        lambda t: ["check-config", cfg(t, shadows={"enabled": "maybe"})],
        ("bot.json", "shadows.enabled", "maybe", "true or false"),
    ),
    Case(
        "rehearsal-bad-faults",
        lambda t: ["run", cfg(t), "--mode", "rehearsal", "--faults", "bogus@x",
                   "--state-dir", str(t / "s")],  # fmt: skip
        ("--faults", "'bogus@x'", "timeout_after_accept"),
    ),
    Case("out-under-file", lambda t: bt(t, "--out", str(a_file(t) / "o")), ("is under the file",)),
    Case(
        "state-dir-is-file",
        lambda t: replay(t, "--state-dir", str(a_file(t))),
        ("--state-dir", "is a file"),
    ),
    Case(
        "download-out-under-file",
        lambda t: ["data", "download", "--pairs", "BTC/USDT", "--from", "2023-04-01",
                   "--to", "2023-04-02", "--out", str(a_file(t) / "d")],  # fmt: skip
        ("--out", "is under the file"),
    ),
    Case(
        "download-unknown-exchange",
        lambda t: ["data", "download", "--pairs", "BTC/USDT", "--from", "2023-04-01", "--to",
                   "2023-04-02", "--out", str(t / "d"), "--exchange", "binanse"],  # fmt: skip
        ("--exchange", "'binanse'", "did you mean binance?"),
    ),
    # ---- data files ----
    Case("corrupt-gzip", corrupt_gzip, ("BTC-USDT_1m.csv.gz", "corrupt")),
    Case(
        "1m-name-5m-candles",
        lambda t: ["backtest", cfg(t), "--data", str(data_dir(t, text=HEADER + "\n".join(
            rows(step_ms=300_000))))],  # fmt: skip
        ("BTC-USDT_1m.csv", "name says 1m", "5m apart"),
    ),
    Case(
        "close-above-high",
        lambda t: ["backtest", cfg(t), "--data", str(data_dir(t, text=HEADER + "\n".join(
            rows(bad=f"{T0 + 600_000},100,101,99,105,10"))))],  # fmt: skip
        ("BTC-USDT_1m.csv", "line 12", "close > high", "close=105.0"),
    ),
    Case(
        "open-below-low",
        lambda t: ["backtest", cfg(t), "--data", str(data_dir(t, text=HEADER + "\n".join(
            rows(bad=f"{T0 + 600_000},98,101,99,100,10"))))],  # fmt: skip
        ("line 12", "open < low", "open=98.0"),
    ),
    Case(
        "csv-header-missing-column",
        lambda t: ["backtest", cfg(t), "--data", str(data_dir(t, text=(
            "timestamp_ms,open,high,low,close,vol\n" + "\n".join(rows()))))],  # fmt: skip
        ("BTC-USDT_1m.csv", "line 1", "volume", "timestamp_ms,open,high,low,close,volume"),
    ),
    Case("csv-and-json-same-pair", csv_and_json, ("BTC-USDT_1m.csv", "BTC_USDT-1m.json")),
    # ---- config values ----
    Case(
        "api-base-url-not-url",
        lambda t: check(t, exchange={"api_base_url": "localhost:8080"}),
        ("exchange.api_base_url", "'localhost:8080'", "http://"),
    ),
    Case(
        "download-api-base-url-not-url",
        lambda t: ["data", "download", "--pairs", "BTC/USDT", "--from", "2023-04-01", "--to",
                   "2023-04-02", "--out", str(t / "d"), "--api-base-url", "nope"],  # fmt: skip
        ("--api-base-url", "'nope'", "http://"),
    ),
    Case(
        "unknown-exchange-check-config",
        lambda t: check(t, exchange={"id": "binanse"}),
        ("bot.json", "exchange.id", "'binanse'", "did you mean binance?"),
    ),
    Case(
        "unknown-exchange-backtest",
        lambda t: bt(t, exchange={"id": "binanse"}),
        ("exchange.id", "did you mean binance?"),
    ),
    Case(
        "unknown-exchange-paper",
        lambda t: ["run", cfg(t, exchange={"id": "krakn"}), "--mode", "paper",
                   "--state-dir", str(t / "s")],  # fmt: skip
        ("exchange.id", "'krakn'", "did you mean kraken?"),
    ),
    Case(
        "ob-imbalance-only-backtest",
        lambda t: bt(t, signals={"confirming": ["ob_imbalance"]}),
        ("bot.json", "signals.confirming", "order book", "--ticks"),
    ),
    Case(
        "ob-imbalance-only-replay",
        lambda t: replay(t, signals={"confirming": ["ob_imbalance"]}),
        ("bot.json", "signals.confirming", "order book"),
    ),
    Case(
        "duplicate-key",
        lambda t: raw_cfg(t, '{"name": "X", "pairs": ["BTC/USDT"], "name": "Y"}')
        and ["check-config", str(t / "raw.json")],
        ("raw.json", "name", "'Y'", "given twice", "'X'"),
    ),
    Case(
        "minified-json-error",
        lambda t: raw_cfg(t, json.dumps({"name": "X", "pairs": ["BTC/USDT"] * 60})[:-1] + ",}")
        and ["check-config", str(t / "raw.json")],
        ("raw.json", "line 1, column", "character", ">>>"),
    ),
    Case(
        "short-on-spot",
        lambda t: check(t, direction="short"),
        ("direction", "'short'", "long positions only, on spot and on futures"),
    ),
    Case(
        "short-on-futures",
        lambda t: check(t, direction="short", exchange={"market": "futures"}),
        ("direction", "'short'", "long positions only, on spot and on futures"),
    ),
    Case(
        "unknown-signal-no-phantom-count",
        lambda t: check(t, signals={"primary": ["ema_trnd"]}),
        ("signals.primary[0]", "'ema_trnd'", "one of ema_trend"),
    ),
    Case(
        "bad-pair-no-phantom-count",
        lambda t: check(t, pairs=["btcusdt"]),
        ("pairs[0]", "'btcusdt'", "BASE/QUOTE"),
    ),
    # ---- command-line combinations ----
    Case(
        "secrets-in-replay",
        lambda t: replay(t, "--secrets", str(a_file(t))),
        ("--secrets", "only for --mode live"),
    ),
    Case(
        "replay-resumed-with-changed-config",
        changed_replay,
        ("config changed", "--accept-config-change"),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_one_clear_line_exit_2(case: Case, tmp_path: Path) -> None:
    """The mistake exits 2 before any work, with one line naming what is wrong and allowed."""
    r = optiflow(*case.argv(tmp_path))
    out = r.stdout + r.stderr
    assert r.returncode == 2, out
    assert "Traceback" not in out
    error = [line for line in r.stderr.splitlines() if line.startswith("error: ")]
    assert len(error) == 1, r.stderr
    for text in case.says:
        assert text in error[0], (text, error[0])
    assert "more problem" not in error[0]
    assert len(error[0]) < 600, error[0]
    assert "wrote " not in r.stdout  # nothing was written


def test_the_table_counts_every_case() -> None:
    """The table holds a case for every mistake of issue 11 (ids are unique)."""
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids)) and len(ids) >= 26
