"""Rehearsal SIGKILLed at chosen writes and at random moments: the same trades as a clean run."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import pytest

from optiflow.adapters.sqlite.store import SqliteStore
from optiflow.domain.results import ExitRow
from optiflow.runtimes.rehearsal_resume import KILL_ENV

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "configs" / "runtime_config_optiscalpA.json"
START, END = "2023-04-03", "2023-04-07"
FAULTS = "seed=7,rate=0.02,stop_fill@2023-04-03T18:00+600s,lookups_down@2023-04-04T06:00+300s"


def rehearsal_cmd(state: Path, speed: str = "0") -> list[str]:
    """The rehearsal command line with faults on."""
    return [
        sys.executable, "-m", "optiflow.interfaces.cli.main", "run", str(CONFIG),
        "--mode", "rehearsal", "--speed", speed, "--from", START, "--to", END,
        "--state-dir", str(state), "--faults", FAULTS,
    ]  # fmt: skip


def trade_list(exits: list[ExitRow]) -> list[tuple[object, ...]]:
    """What must match: pair, entry time and price, exit time, reason, price and quantity."""
    return [
        (e.symbol, e.ts_entry, e.entry_price, e.ts_exit, e.reason, e.exit_price, e.qty)
        for e in exits
    ]


def read_exchange(state: Path) -> tuple[list[tuple[str, str, str]], list[tuple[str, str]]]:
    """The simulated exchange's ledger (client id, qty, price) and its open stops."""
    import json

    db = sqlite3.connect(state / "sim_exchange.sqlite")
    try:
        ledger = db.execute("SELECT client_id, qty, price FROM ledger ORDER BY seq").fetchall()
        row = db.execute("SELECT v FROM state WHERE k = 'books'").fetchone()
    finally:
        db.close()
    stops = [(s["client_id"], s["symbol"]) for s in json.loads(row[0])["stops"]] if row else []
    return ledger, stops


def test_sigkill_campaign_with_faults_ends_like_an_uninterrupted_run(tmp_path: Path) -> None:
    """22 SIGKILLs at random moments: no order twice, ledger = store, same final trades."""
    rng = random.Random(int(os.environ.get("OPTIFLOW_KILL_SEED", "8")))
    state, clean = tmp_path / "killed", tmp_path / "clean"
    # the uninterrupted run meanwhile, in its own process and state folder
    uninterrupted = subprocess.Popen(
        rehearsal_cmd(clean), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    kills, t0 = 0, time.monotonic()
    while True:
        assert time.monotonic() - t0 < 400, "the rehearsal did not finish in time"
        # paced (4 days in ~45 s) so the kills land all along the run, not in start-ups only;
        # after the last kill the rest runs flat out (pacing only spreads the kills)
        speed = "8000" if kills < 22 else "0"
        proc = subprocess.Popen(
            rehearsal_cmd(state, speed), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        if kills < 22:
            time.sleep(rng.uniform(1.9, 3.2))
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait(30)
                kills += 1
                if (state / "sim_exchange.sqlite").exists():
                    _, stops = read_exchange(state)
                    per_symbol = Counter(sym for _, sym in stops)
                    assert all(n == 1 for n in per_symbol.values()), stops  # never two stops
                continue
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err.decode()[-2000:]
        break
    assert kills >= 20
    _, err = uninterrupted.communicate(timeout=300)
    assert uninterrupted.returncode == 0, err.decode()[-2000:]
    stores = {p: SqliteStore(p / "bot.sqlite", "OptiScalp_A") for p in (state, clean)}
    try:
        killed_exits, clean_exits = stores[state].exits(), stores[clean].exits()
        assert len(killed_exits) > 50
        fills = stores[state].fills()
        orders = stores[state].orders()
        loaded = stores[state].load()
    finally:
        for s in stores.values():
            s.close()
    ledger, stops = read_exchange(state)
    executed = [cid for cid, _, _ in ledger]
    assert len(executed) == len(set(executed))  # no client id executed twice
    booked: dict[str, Decimal] = {}
    for f in fills:
        booked[f.client_id] = booked.get(f.client_id, Decimal(0)) + f.qty
    assert booked == {cid: Decimal(q) for cid, q, _ in ledger}  # the ledger equals the store
    assert len({o.client_id for o in orders}) == len(orders)
    assert stops == [] and loaded is not None and loaded.snapshot["bot"]["positions"] == []
    assert trade_list(killed_exits) == trade_list(clean_exits)


# writes (store commits and exchange saves) after which a killed run used to resume on a
# different path: inside a list of exits, between a stop's cancel and the exit, between an
# intent and its request, after a fill before the reactive re-entry, while closing at the end
KILL_POINTS = (6, 30, 33, 41, 49, 64, 79, 91, 99, 1067)


# the same with random faults on (``DAY_FAULTS``), one point of each way a restart used to
# diverge: 12, a fault filled both stops inside a lookup that then failed (the restart
# learned both fills at once; the uninterrupted run one then, one a cycle later); 169, a
# pair's waiting exits were being sent (the rest of the list was lost); 473, a fault filled
# a stop during an exit at a sweep, then the next stop placement was cut off by the kill
# (the restart learned the fill before the next cycle, and placed that stop after the exit)
DAY_FAULTS = "seed=7,rate=0.02"
FAULTED_KILL_POINTS = (12, 169, 473)


# other days and seeds, kill points that used to diverge: 2023-04-10, 85, a fault filled two
# stops at the lookup of the second one, and the restart, replaying that cycle, looked the
# first one up again before it (the run had been told "open" there); 284, the restart
# carried out an entry (and its stop) before replaying that lookup, whose fault then filled
# the new stop too; 2023-04-20, 640, killed while closing at the end of the data after the
# exchange refused an exit: the restart told the engine to stop again, and the new exit
# went through; 2023-04-25, 581, a partial fill's rest had grown a position whose stop still
# covered the first third, killed while another pair's waiting exits went out (the restart
# resized the stop at once, the run only after those exits, when a fault had filled it);
# 583, killed as those exits began: the resumed cycle checked the stops again after carrying
# them on, and learned the stop's fill before the run did; 2023-04-12, 295, killed between
# committing a stop's cancel and sending it: the restart cancelled it at start-up without the
# fault the run's cancel met there, so the exits the run held back went out at once;
# 2023-04-18, 317, killed between committing a stop's cancel (the position had grown) and
# sending it: the restart placed its successor at start-up without the fault the run's
# placement met there, so the next stops took other client ids and met other faults
REPLAYED_FAULTS = [
    (("2023-04-10", "2023-04-11"), "seed=11,rate=0.03", (85, 284)),
    (("2023-04-20", "2023-04-21"), "seed=5,rate=0.04", (640,)),
    (("2023-04-25", "2023-04-26"), "seed=99,rate=0.03", (581, 583)),
    (("2023-04-12", "2023-04-13"), "seed=7,rate=0.05", (295,)),
    (("2023-04-18", "2023-04-19"), "seed=31,rate=0.04", (317,)),
]
DAY = ("2023-04-03", "2023-04-04")


def day_cmd(state: Path, faults: str | None = None, day: tuple[str, str] = DAY) -> list[str]:
    """One day of preset A in rehearsal, flat out (no faults unless given)."""
    return [
        sys.executable, "-m", "optiflow.interfaces.cli.main", "run", str(CONFIG),
        "--mode", "rehearsal", "--speed", "0", "--from", day[0], "--to", day[1],
        "--state-dir", str(state), *(["--faults", faults] if faults else []),
    ]  # fmt: skip


def run_day(
    state: Path, kill_at: int | None = None, faults: str | None = None, day: tuple[str, str] = DAY
) -> int:
    """Run the day (killed after write ``kill_at`` if given); the exit code."""
    env = {k: v for k, v in os.environ.items() if k != KILL_ENV}
    if kill_at is not None:
        env[KILL_ENV] = str(kill_at)
    cmd = day_cmd(state, faults, day)
    proc = subprocess.run(cmd, env=env, capture_output=True, timeout=300)
    if kill_at is None:
        assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    return proc.returncode


def day_trades(state: Path) -> list[tuple[object, ...]]:
    """The trade list a state folder's store holds."""
    store = SqliteStore(state / "bot.sqlite", "OptiScalp_A")
    try:
        return trade_list(store.exits())
    finally:
        store.close()


def resumed_after_kill(
    state: Path, n: int, faults: str | None = None, day: tuple[str, str] = DAY, again: bool = False
) -> list[tuple[object, ...]]:
    """Kill the run right after write ``n`` (the restart too after its write 3 if ``again``),
    then run it to the end: its trade list."""
    assert run_day(state, n, faults, day) == -signal.SIGKILL, f"no kill at write {n}"
    if again:  # killed again while carrying on what the first run left
        assert run_day(state, 3, faults, day) == -signal.SIGKILL
    run_day(state, faults=faults, day=day)
    return day_trades(state)


def clean_day(
    state: Path, faults: str | None = None, day: tuple[str, str] = DAY
) -> list[tuple[object, ...]]:
    """The uninterrupted run's trade list."""
    run_day(state, faults=faults, day=day)
    return day_trades(state)


def compare_kills(
    tmp_path: Path, points: tuple[int, ...], least: int, faults: str | None = None,
    day: tuple[str, str] = DAY, again: tuple[int, ...] = (),
) -> None:  # fmt: skip
    """The clean run and each killed-and-resumed run, two processes at a time: same trades."""
    with ThreadPoolExecutor(2) as pool:  # independent state folders: the machine's two cores
        clean = pool.submit(clean_day, tmp_path / "clean", faults, day)
        killed = {
            n: pool.submit(resumed_after_kill, tmp_path / f"k{n}", n, faults, day, n in again)
            for n in points
        }
        expected = clean.result()
        assert len(expected) > least
        for n, trades in killed.items():
            assert trades.result() == expected, f"killed after write {n}"


def test_kill_after_chosen_writes_resumes_to_exactly_the_clean_trades(tmp_path: Path) -> None:
    """SIGKILL right after the Nth durable write (and again inside the restart): same trades."""
    compare_kills(tmp_path, KILL_POINTS, 100, again=(30, 49))


def test_kill_with_faults_after_chosen_writes_resumes_to_exactly_the_clean_trades(
    tmp_path: Path,
) -> None:
    """With random faults, SIGKILL after the writes that used to diverge: the same trades."""
    compare_kills(tmp_path, FAULTED_KILL_POINTS, 80, DAY_FAULTS)


@pytest.mark.parametrize(("day", "faults", "points"), REPLAYED_FAULTS)
def test_kill_inside_a_point_a_fault_changed_resumes_to_exactly_the_clean_trades(
    tmp_path: Path, day: tuple[str, str], faults: str, points: tuple[int, ...]
) -> None:
    """A restart replaying a point where a fault acted: same answers, same trades."""
    compare_kills(tmp_path, points, 40, faults, day)
