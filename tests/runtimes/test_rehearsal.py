"""Rehearsal (the live runtime on history) gives exactly the backtest's trades, and stays safe."""

from __future__ import annotations

import asyncio
import multiprocessing
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from decimal import Decimal
from pathlib import Path

import pytest

from optiflow.adapters.sim.faults import FaultyGateway, parse_faults
from optiflow.adapters.sim.rehearsal import RehearsalExchange
from optiflow.adapters.sqlite.store import SqliteStore
from optiflow.config.loader import load_config
from optiflow.domain.events import Notify
from optiflow.domain.results import ExitRow
from optiflow.interfaces.cli.timeparse import parse_when
from optiflow.marketdata.loaders import CandleArrays, load_folder
from optiflow.runtimes.backtest import prepare, run_backtest
from optiflow.runtimes.rehearsal import RehearsalRuntime

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "data" / "binance_spot_1m"
CONFIGS = {
    "A": "runtime_config_optiscalpA.json",
    "B": "runtime_config_optiscalpB.json",
    "C": "runtime_config_optiscalpC.json",
    "swing1": "runtime_config_swing1.json",
    "swing2": "runtime_config_swing2.json",
    "reference": "reference_ema_rsi.json",
}
SLICES = {"swing1": ("2023-04-03", "2023-04-10"), "swing2": ("2023-04-03", "2023-04-17")}


class Quiet:
    """A notifier that keeps what it is told."""

    def __init__(self) -> None:
        """Nothing told yet."""
        self.notes: list[Notify] = []

    def notify(self, note: Notify) -> None:
        """Keep it."""
        self.notes.append(note)


def trades(exits: list[ExitRow] | tuple[ExitRow, ...]) -> list[tuple[object, ...]]:
    """The compared trade list: pair, entry time and price, exit time, reason, price, qty."""
    return [
        (e.symbol, e.ts_entry, e.entry_price, e.ts_exit, e.reason, e.exit_price, e.qty)
        for e in exits
    ]


def load(name: str, start: str, end: str) -> tuple[object, dict[str, CandleArrays]]:
    """A preset and its pairs' candles between two dates."""
    cfg = load_config(REPO / "configs" / CONFIGS[name])
    data = load_folder(DATA, list(cfg.pairs), parse_when("f", start), parse_when("t", end))
    return cfg, data


def rehearse(
    cfg: object, data: dict[str, CandleArrays], state: Path, faults: str | None = None
) -> tuple[RehearsalRuntime, SqliteStore]:
    """Run a rehearsal in this process at --speed 0; the runtime and its open store."""
    state.mkdir(parents=True, exist_ok=True)
    store = SqliteStore(state / "bot.sqlite", cfg.name)  # type: ignore[attr-defined]
    spec = parse_faults(faults, parse_when) if faults else None

    def wrap(ex: RehearsalExchange, now: object) -> FaultyGateway:
        assert spec is not None
        return FaultyGateway(ex, spec, now)  # type: ignore[arg-type]

    rt = RehearsalRuntime(
        cfg,  # type: ignore[arg-type]
        prepare(cfg, data),  # type: ignore[arg-type]
        store,
        Quiet(),
        state,
        0,
        wrap=wrap if spec else None,
    )
    asyncio.run(rt.run())
    return rt, store


@pytest.mark.parametrize("name", list(CONFIGS))
def test_rehearsal_at_speed_0_books_exactly_the_backtest_trades(name: str, tmp_path: Path) -> None:
    """Same data, same config: rehearsal and backtest give the same trade list."""
    cfg, data = load(name, *SLICES.get(name, ("2023-04-03", "2023-04-04")))
    expected = trades(run_backtest(cfg, data, entries_at_once=True).exits)  # type: ignore[arg-type]
    rt, store = rehearse(cfg, data, tmp_path)
    try:
        got = trades(store.exits())
        assert got == expected
        assert len(expected) >= 3
        assert store.problems() == []
    finally:
        store.close()
    # and through the live machinery: every position had its exchange stop
    again = SqliteStore(tmp_path / "bot.sqlite", cfg.name)  # type: ignore[attr-defined]
    placed = again.orders()
    again.close()
    entries = {o.position_id for o in placed if o.reason == "entry" and o.status == "filled"}
    stopped = {o.position_id for o in placed if o.reason == "protective_stop"}
    assert entries and entries <= stopped


@pytest.mark.slow
def test_rehearsal_equals_backtest_on_two_weeks_of_every_preset(tmp_path: Path) -> None:
    """The longer comparison: two weeks of every preset (entries booked at once, as live)."""
    if str(REPO) not in sys.path:  # the workers import the helper by its module name
        sys.path.insert(0, str(REPO))
    from tests.runtimes.rehearsal_support import rehearsal_and_backtest

    # the same in-process runs as before, in two worker processes (the machine's two cores)
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        runs = {
            name: pool.submit(
                rehearsal_and_backtest, name, "2023-04-05", "2023-04-19", str(tmp_path / name)
            )
            for name in CONFIGS
        }
        for name, run in runs.items():
            got, expected = run.result(timeout=600)
            assert got == expected, name
            assert len(expected) >= 50, name


def test_a_stop_filled_while_lookups_fail_is_booked_once_when_they_answer(
    tmp_path: Path,
) -> None:
    """The exchange stop fills while order lookups are down: booked once, nothing sold twice."""
    cfg, data = load("A", "2023-04-03", "2023-04-04")
    rt, store = rehearse(cfg, data, tmp_path / "clean")
    first = store.exits()[0]
    store.close()
    at = first.ts_entry + 60_000  # the first position is open and protected by then
    iso = _iso(at)
    faults = f"lookups_down@{iso}+600s,stop_fill@{iso}+30s"
    rt, store = rehearse(cfg, data, tmp_path / "faulty", faults)
    try:
        mine = [e for e in store.exits() if e.position_id == first.position_id]
        stop = [
            o
            for o in store.orders()
            if o.position_id == first.position_id and o.reason == "protective_stop"
        ]
        filled = [o for o in stop if o.status == "filled"]
        assert len(filled) == 1
        # the stop's fill closed the position, at the stop's trigger, inside the fault window
        by_stop = [e for e in mine if e.reason in ("sl", "sl_breakeven")]
        assert len(by_stop) == 1 and by_stop[0] == mine[-1]
        assert by_stop[0].exit_price == Decimal(repr(filled[0].ref_price))
        assert at <= by_stop[0].ts_exit < at + 30_000
        ledger = rt.market.ledger()
        sold = [f for f in ledger if f.client_id.startswith(first.position_id) and f.side == "sell"]
        assert [f.client_id for f in sold] == [filled[0].client_id]  # nothing sold twice
        assert len({f.client_id for f in ledger}) == len(ledger)
        booked: dict[str, Decimal] = {}
        for f in store.fills():
            booked[f.client_id] = booked.get(f.client_id, Decimal(0)) + f.qty
        assert booked == {f.client_id: f.qty for f in ledger}  # the ledger equals the store
        assert store.problems() == []
    finally:
        store.close()


def _iso(ts: int) -> str:
    from optiflow.domain.timefmt import iso_utc

    return iso_utc(ts)[:16]


def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``optiflow ...`` in a real process."""
    return subprocess.run(
        [sys.executable, "-m", "optiflow.interfaces.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_cli_rehearsal_matches_backtest_and_a_finished_one_is_left_alone(tmp_path: Path) -> None:
    """`optiflow run A --mode rehearsal --speed 0` books the backtest's trades; rerun: finished."""
    state = tmp_path / "st"
    args = ["run", "A", "--mode", "rehearsal", "--speed", "0", "--from", "2023-04-03",
            "--to", "2023-04-04", "--state-dir", str(state)]  # fmt: skip
    proc = cli(*args)
    assert proc.returncode == 0, proc.stderr[-2000:]
    cfg, data = load("A", "2023-04-03", "2023-04-04")
    store = SqliteStore(state / "bot.sqlite", "OptiScalp_A")
    try:
        # on this day the default backtest books the same trades too (no same-close entries)
        assert trades(store.exits()) == trades(run_backtest(cfg, data).exits)  # type: ignore[arg-type]
    finally:
        store.close()
    again = cli(*args)
    assert again.returncode == 0 and "finished" in again.stdout


def test_two_rehearsals_on_one_state_dir_the_second_is_refused(tmp_path: Path) -> None:
    """A second process on the same state folder stops at once with the lock message."""
    state = tmp_path / "st"
    args = ["run", "A", "--mode", "rehearsal", "--speed", "600", "--from", "2023-04-03",
            "--to", "2023-04-10", "--state-dir", str(state)]  # fmt: skip
    first = subprocess.Popen(
        [sys.executable, "-m", "optiflow.interfaces.cli.main", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        import time

        deadline = time.monotonic() + 120  # a busy machine may take long to import and load
        while not (state / "bot.sqlite").exists():  # made under the first one's lock
            assert first.poll() is None and time.monotonic() < deadline, "the first did not start"
            time.sleep(0.05)
        second = cli(*args)
        assert second.returncode == 2
        assert f"already running (pid {first.pid})" in second.stderr
        assert "Traceback" not in second.stderr
    finally:
        first.terminate()
        first.wait(30)


def test_bad_faults_are_one_clear_line(tmp_path: Path) -> None:
    """A fault kind that does not exist, or --faults outside rehearsal: exit 2, no traceback."""
    proc = cli("run", "A", "--mode", "rehearsal", "--faults", "meteor@2023-04-03T10:00",
               "--state-dir", str(tmp_path / "a"))  # fmt: skip
    assert proc.returncode == 2 and "--faults 'meteor@2023-04-03T10:00'" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = cli("run", "A", "--mode", "replay", "--faults", "seed=1",
               "--state-dir", str(tmp_path / "b"))  # fmt: skip
    assert proc.returncode == 2 and "--faults only applies to --mode rehearsal" in proc.stderr


def test_stopped_mid_run_every_open_position_has_exactly_one_exchange_stop(tmp_path: Path) -> None:
    """Stopped at several moments (faults healed), each open position has one stop, its size."""
    cfg, data = load("A", "2023-04-03", "2023-04-04")
    state = tmp_path / "st"
    state.mkdir()
    spec = parse_faults("seed=3,rate=0.03,kinds=server_error/timeout_after_accept", parse_when)
    checked = 0
    for stop_at in ("2023-04-03T04:00", "2023-04-03T09:30", "2023-04-03T15:00"):
        store = SqliteStore(state / "bot.sqlite", cfg.name)  # type: ignore[attr-defined]
        rt = RehearsalRuntime(
            cfg,  # type: ignore[arg-type]
            prepare(cfg, data),  # type: ignore[arg-type]
            store,
            Quiet(),
            state,
            0,
            wrap=lambda ex, now: FaultyGateway(ex, spec, now),
        )
        limit = parse_when("t", stop_at)
        assert limit is not None

        async def go(rt: RehearsalRuntime = rt, limit: int = limit) -> None:
            async def watch() -> None:
                while rt.sim_clock.t < limit:
                    await asyncio.sleep(0)
                rt.stop_requested = True

            await asyncio.gather(rt.run(), watch())

        asyncio.run(go())
        bot = rt._bot()
        stops = list(rt.market.stops.values())
        assert sorted(s.symbol for s in stops) == sorted(bot.positions)  # one each, no stray
        for s in stops:
            assert s.qty == bot.positions[s.symbol].qty
        checked += len(stops)
        asyncio.run(rt.market.close())
        store.close()
    assert checked >= 1
