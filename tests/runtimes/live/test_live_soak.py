"""Soak: a live bot process against the fake Binance with random faults and random SIGKILLs.

The bot (tests/runtimes/live/soak_bot.py: the production live runtime on an accelerated clock)
trades
for ``OPTIFLOW_SOAK_SECONDS`` (default 50 s: about 1,000 cycles) while this
test injects timeouts after accept, 5xx bursts, 429s with Retry-After, order lookups down and
the network down, and kills the process with SIGKILL at random moments (a random time and
number of its requests after its start), restarting it each time. A slow machine runs on
until the floors of kills and cycles are reached. At the end the faults stop, the prices hold
still while the bot settles, and it is stopped cleanly; its store must equal the exchange's
ledger
for its client ids: positions, cash, every order's state and fills; no client id executed
twice; every open position with exactly one exchange stop. The counts are printed.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from optiflow.adapters.sqlite.store import SqliteStore  # noqa: E402
from optiflow.engine.settings import client_prefix  # noqa: E402
from tests.fakes.binance import FakeBinance  # noqa: E402
from tests.fakes.binance_ledger import Order, load_candles  # noqa: E402

KEY, SECRET = "k-SOAK0123456789", "s-SOAKSECRET-abcdef012345"
ROWS = load_candles(REPO / "data" / "binance_spot_1m" / "BTC-USDT_1m.csv.gz")[20_000:25_000]
ORIGIN = int(ROWS[160][0]) + 60_000 + 1_000
SPEED = float(os.environ.get("OPTIFLOW_SOAK_SPEED", "1800"))  # a 20 s cycle every 11 ms
ORDER = "/api/v3/order"
D0 = Decimal(0)
KILLS, CYCLES, ORDERS = 5, 120, 10  # floors: the soak runs on past its seconds to reach them
SETTLE = 30  # cycles (and at least 4 s) after the faults end and prices stop, before SIGTERM


class BookFollower:
    """Moves the fake's clock and best bid/ask along the real candles at the soak's speed."""

    def __init__(self, fake: FakeBinance, wall0: float) -> None:
        """Follow from ``wall0`` (shared with the bot's clock)."""
        self.fake, self.wall0 = fake, wall0
        self.stop = threading.Event()
        self.frozen = threading.Event()  # set: the book stays where it is (no stop can fill)
        self.thread = threading.Thread(target=self._run, daemon=True)

    def now_ms(self) -> int:
        """The shared accelerated time."""
        return ORIGIN + int((time.time() - self.wall0) * 1000 * SPEED)

    def _run(self) -> None:
        i = 0
        while not self.stop.is_set():
            ts = self.now_ms()
            self.fake.ledger.fixed_now_ms = ts
            while i + 1 < len(ROWS) and ROWS[i + 1][0] <= ts:
                i += 1
            row = ROWS[i]
            price = Decimal(str(row[4] if ts - row[0] >= 30_000 else row[1]))
            if not self.frozen.is_set():
                self.fake.ledger.set_book("BTCUSDT", str(price - Decimal("0.01")), str(price))
            time.sleep(0.005)


@pytest.fixture
def fake() -> Iterator[FakeBinance]:
    """A fake Binance with BTC/USDT, 1000 USDT and 5000 real candles."""
    fb = FakeBinance(api_key=KEY, secret=SECRET)
    led = fb.ledger
    led.add_market("BTC", "USDT", tick="0.01", step="0.00001", min_notional="5")
    led.set_balance("USDT", "1000")
    led.set_candles("BTCUSDT", ROWS)
    led.fixed_now_ms = ORIGIN
    yield fb.start()
    fb.stop()
    assert fb.unknown == [], f"unknown endpoints hit: {fb.unknown}"


def start_bot(url: str, state: Path, wall0: float, log: Path) -> subprocess.Popen[bytes]:
    """One bot process."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [
                sys.executable,
                str(REPO / "tests" / "runtimes" / "live" / "soak_bot.py"),
                url,
                str(state),
                str(ORIGIN),
                repr(wall0),
                str(SPEED),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=REPO,
        )


def depth_calls(fake: FakeBinance) -> int:
    """REST book fetches so far: one per cycle of the bot (all its lives)."""
    return len(fake.calls("GET", "/api/v3/depth"))


def kill_plan(rng: random.Random) -> tuple[float, int]:
    """When the bot just started is killed: after (seconds, requests of its own), both."""
    if rng.random() < 0.2:
        return 0.0, rng.randint(3, 20)  # during its start-up
    return rng.uniform(2.0, 8.0), rng.randint(20, 100)  # among its cycles


def inject(fake: FakeBinance, rng: random.Random) -> str:
    """One random fault."""
    kind = rng.choice(["timeout_after_accept", "5xx", "429", "lookups_down", "network_down"])
    if kind == "timeout_after_accept":
        fake.delay_next_order(1.2)  # the bot's HTTP timeout is 0.8 s
    elif kind == "5xx":
        path = rng.choice(["/api/v3/depth", "/api/v3/klines", ORDER, "/api/v3/myTrades", ""])
        fake.fail_next(rng.randint(1, 4), rng.choice([500, 502, 503]), path=path)
    elif kind == "429":
        fake.fail_next(rng.randint(1, 3), 429, retry_after=0.3, path="")
    elif kind == "lookups_down":
        fake.fail_for(rng.uniform(0.5, 3.0), 500, path=ORDER, method="GET")
    else:
        fake.network_down(rng.uniform(0.3, 1.5))
    return kind


def test_soak_faults_and_kills_leave_store_equal_to_exchange(
    fake: FakeBinance, tmp_path: Path
) -> None:
    """Thousands of cycles, random faults, random SIGKILLs: the books equal the exchange's."""
    seconds = float(os.environ.get("OPTIFLOW_SOAK_SECONDS", "50"))
    rng = random.Random(int(os.environ.get("OPTIFLOW_SOAK_SEED", "7")))
    state, log = tmp_path / "state", tmp_path / "bot.log"
    state.mkdir()
    wall0 = time.time()
    follower = BookFollower(fake, wall0)
    follower.thread.start()
    faults: Counter[str] = Counter()
    kills = 0
    bot = start_bot(fake.url, state, wall0, log)
    # a kill comes after a random time *and* a random amount of the bot's work (requests
    # since it started): on a slow machine a restart takes seconds, and kills by wall time
    # alone would leave the bot no time for cycles in between
    try:
        t0 = time.monotonic()
        t_end, t_cap = t0 + seconds, t0 + seconds + 60  # the candles last ~160 s of wall time
        next_fault = time.monotonic() + rng.uniform(0.5, 2.0)
        born, started, (wait, quota) = time.monotonic(), len(fake.requests), kill_plan(rng)
        while time.monotonic() < t_end or (
            time.monotonic() < t_cap
            and (kills < KILLS or depth_calls(fake) < CYCLES or len(our_orders(fake)) <= ORDERS)
        ):
            time.sleep(0.05)
            assert bot.poll() is None, f"the bot died on its own:\n{log.read_text()[-3000:]}"
            if time.monotonic() >= next_fault:
                faults[inject(fake, rng)] += 1
                next_fault = time.monotonic() + rng.uniform(0.5, 2.0)
            if (
                time.monotonic() - born >= wait
                and len(fake.requests) - started >= quota
                and (time.monotonic() < t_end or kills < KILLS)  # past it: only to the floor
            ):
                bot.send_signal(signal.SIGKILL)
                bot.wait(10)
                kills += 1
                bot = start_bot(fake.url, state, wall0, log)
                born, started, (wait, quota) = time.monotonic(), len(fake.requests), kill_plan(rng)
        fake.heal()
        # faults over, prices still: the bot settles what was unknown, and no stop can fill
        # between its last cycle and the SIGTERM (on a slow machine that gap is long)
        follower.frozen.set()
        settled, calm = depth_calls(fake) + SETTLE, time.monotonic() + 4.0
        deadline = time.monotonic() + 90
        while depth_calls(fake) < settled or time.monotonic() < calm:
            assert bot.poll() is None, f"the bot died on its own:\n{log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, "the bot stopped cycling after the faults"
            time.sleep(0.05)
        bot.send_signal(signal.SIGTERM)
        assert bot.wait(30) == 0, log.read_text()[-3000:]
    finally:
        if bot.poll() is None:
            bot.kill()
        follower.stop.set()
        follower.thread.join(5)
    cycles = depth_calls(fake)
    verdict = check_books(fake, state / "bot.sqlite")
    print(
        f"\nsoak: {time.monotonic() - t0:.0f} s, {cycles} cycles, {len(fake.requests)} requests, "
        f"{kills} SIGKILLs, "
        f"faults {dict(faults)}, {json.dumps(verdict)}"
    )
    # ~1,000 cycles on an idle machine, 150-250 with two CPU burners on two cores (slow requests,
    # slow restarts); a slow machine runs on (up to 60 s) until the floors are reached
    assert kills >= KILLS and cycles >= CYCLES and len(our_orders(fake)) > ORDERS


def our_orders(fake: FakeBinance) -> list[Order]:
    """The bot's orders at the exchange."""
    prefix = client_prefix("Soak") + "-"
    return [o for o in fake.ledger.orders if o.client_id.startswith(prefix)]


def check_books(fake: FakeBinance, db: Path) -> dict[str, object]:
    """Assert the store equals the exchange for the bot's client ids; return the counts."""
    prefix = client_prefix("Soak") + "-"
    ours = [o for o in fake.ledger.orders if o.client_id.startswith(prefix)]
    posts = Counter(p.get("newClientOrderId") for p in fake.calls("POST", ORDER))
    assert not [c for c, n in posts.items() if c and c.startswith(prefix) and n > 1], (
        "a client id was sent twice"
    )
    with SqliteStore(db, "Soak") as store:
        loaded = store.load()
        assert loaded is not None
        snap = loaded.snapshot["bot"]
        rows = {r.client_id: r for r in store.orders()}
        status = {"NEW": "open", "PARTIALLY_FILLED": "partial", "FILLED": "filled"}
        for o in ours:
            row = rows[o.client_id]
            assert row.status == status.get(o.status, "cancelled"), (
                f"{o.client_id}: store {row.status}, exchange {o.status}"
            )
            fee_base = sum((Decimal(str(t["fee"])) for t in o.fills if t["fee_asset"] == "BTC"), D0)
            booked = sum((f.qty for f in store.fills(o.client_id)), D0)
            assert booked == o.executed - fee_base, f"{o.client_id}: {booked} vs {o.executed}"
        assert not [r for r in rows.values() if r.status in ("intent", "unknown")]
        exits = store.exits()
        story = "; ".join(f"{n.kind}: {n.text}" for n in store.notes(200) if n.kind != "entry")
    held = sum((Decimal(p["qty"]) for p in snap["positions"]), D0)
    free, locked = fake.ledger.spot.get("BTC", [D0, D0])
    closed = len({e.position_id for e in exits})
    assert D0 <= free + locked - held < Decimal("0.00001") * (closed + 1), (
        f"exchange BTC {free + locked} vs positions {held}"
    )
    usdt = sum(fake.ledger.spot["USDT"], D0)
    assert abs(usdt - Decimal(snap["cash"])) < Decimal("0.01"), (
        f"USDT {usdt} vs {snap['cash']}: {story}"
    )
    for p in snap["positions"]:
        stops = [
            o for o in ours if o.client_id.startswith(p["position_id"] + "-p") and o.status == "NEW"
        ]
        assert len(stops) == 1, f"{p['position_id']}: {len(stops)} open stops"
    return {
        "orders": len(ours),
        "positions_closed": closed,
        "exit_rows": len(exits),
        "open_positions": len(snap["positions"]),
        "stop_exits": sum(1 for e in exits if e.reason.startswith("sl")),
    }
