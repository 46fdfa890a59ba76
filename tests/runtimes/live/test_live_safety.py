"""Live safety: a lost stop fill never leaves a ghost position; refused exits back off.

Each scenario runs the live runtime against the fake Binance over real HTTP (ccxt) and ends
with the same consistency check as the fault suite: no client id sent twice, the books equal
the exchange's coins, every open position has exactly one exchange stop, the store agrees.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from optiflow.adapters.sqlite.store import SqliteStore  # noqa: E402
from optiflow.domain.errors import StoreUnavailable  # noqa: E402
from optiflow.domain.events import PriceTicked  # noqa: E402
from optiflow.engine.snapshot import to_snapshot  # noqa: E402
from optiflow.ports.store import StateBatch  # noqa: E402
from tests.fakes.binance import FakeBinance  # noqa: E402
from tests.runtimes.live.live_support import START, ManualClock, new_fake  # noqa: E402
from tests.runtimes.live.test_live_faults import (  # noqa: E402
    KEY,
    ORDER,
    SECRET,
    Live,
    assert_consistent,
    drive,
    has_position,
    open_stops,
    ours,
)


@pytest.fixture
def fake() -> Iterator[FakeBinance]:
    """A fake Binance with BTC/USDT, 1000 USDT and 700 real candles; unknown hits fail."""
    fb = new_fake(KEY, SECRET)
    yield fb
    fb.stop()
    assert fb.unknown == [], f"unknown endpoints hit: {fb.unknown}"


def market_sells(fake: FakeBinance) -> int:
    """How many market sell requests reached the exchange."""
    return len(
        [
            p
            for p in fake.calls("POST", ORDER)
            if p.get("side") == "SELL" and p.get("type") == "MARKET"
        ]
    )


def crash_through_stop(fake: FakeBinance, clock: ManualClock) -> None:
    """Freeze the clock's book and drop the price through the open exchange stop (it fills)."""
    stop = open_stops(fake)[0]
    clock.frozen = True
    fake.ledger.set_book("BTCUSDT", str(stop.stop_price - Decimal("0.02")), str(stop.stop_price))
    assert stop.status == "FILLED"


def test_stop_fill_while_lookups_fail_never_leaves_a_ghost(
    fake: FakeBinance, tmp_path: Path
) -> None:
    """Stop filled, cancel says -2011, lookups down: nothing sold; the SL is booked later."""
    clock = ManualClock(fake, START)
    live = Live(fake, clock, tmp_path)

    async def body() -> None:
        await live.start()
        await live.until("a position", has_position(live))
        pos = live.bot.positions["BTC/USDT"]
        stop = open_stops(fake)[0]
        crash_through_stop(fake, clock)
        fake.fail_for(3600, 500, path=ORDER, method="GET")  # order lookups down
        sells = market_sells(fake)
        await live.cycles(30)  # the engine wants its SL; the stop's fate is unknown
        assert market_sells(fake) == sells, "an exit was sent while the stop's state was unknown"
        assert live.bot.positions["BTC/USDT"].position_id == pos.position_id  # not forgotten
        kinds = live.told.kinds()
        assert kinds.count("stop_failed") == 0 and kinds.count("order_rejected") == 0
        assert kinds.count("exit_waiting") == 1  # said once, not every cycle
        snap = live.store.load()
        assert snap is not None and snap.snapshot["stops"]["stops"]["BTC/USDT"][0] == stop.client_id
        fake.heal()
        await live.cycles(1)  # the lookup answers: the stop's fill is the SL
        exits = [e for e in live.store.exits() if e.position_id == pos.position_id]
        assert [e.reason for e in exits] == ["sl"] and exits[0].qty == stop.qty
        assert market_sells(fake) == sells, "the position the stop closed was sold again"
        fills = live.store.fills(stop.client_id)
        assert [f.qty for f in fills] == [stop.qty]  # the stop's fill is in the fills table
        row = next(r for r in live.store.orders() if r.client_id == stop.client_id)
        assert row.status == "filled" and row.filled == stop.qty
        clock.frozen = False
        await live.cycles(20)
        assert_consistent(live)
        assert_store_matches_exchange(live)
        await live.close()

    drive(body)


def test_restart_books_a_stop_fill_the_snapshot_lost(fake: FakeBinance, tmp_path: Path) -> None:
    """A store that forgot its stop (older code) finds the fill in the trade history at start."""
    clock = ManualClock(fake, START)
    first = Live(fake, clock, tmp_path)

    async def body() -> None:
        await first.start()
        await first.until("a position", has_position(first))
        pos = first.bot.positions["BTC/USDT"]
        stop = open_stops(fake)[0]
        first.rt.protector.stops.clear()  # what the old release() did when lookups failed
        first.rt.commit()
        await first.close()
        with first.store.__class__(tmp_path / "bot.sqlite", "Fault") as st:
            # the old code also left the stop's row as it was: make it look cancelled
            st._conn.execute(
                "UPDATE orders SET status = 'cancelled' WHERE client_id = ?", (stop.client_id,)
            )
        crash_through_stop(fake, clock)
        sells = market_sells(fake)
        second = Live(fake, clock, tmp_path)
        await second.start()
        exits = [e for e in second.store.exits() if e.position_id == pos.position_id]
        assert [e.reason for e in exits] == ["sl"] and exits[0].qty == stop.qty
        assert "BTC/USDT" not in second.bot.positions
        assert market_sells(fake) == sells
        assert [f.qty for f in second.store.fills(stop.client_id)] == [stop.qty]
        clock.frozen = False
        await second.cycles(10)
        assert_consistent(second)
        await second.close()

    drive(body)


def test_position_the_exchange_no_longer_backs_is_reconciled_not_resold(
    fake: FakeBinance, tmp_path: Path
) -> None:
    """Coins gone from the account (sold by hand): closed in the books as reconciled, told once."""
    clock = ManualClock(fake, START)
    first = Live(fake, clock, tmp_path)

    async def body() -> None:
        await first.start()
        await first.until("a position", has_position(first))
        pos = first.bot.positions["BTC/USDT"]
        await first.close()
        stop = open_stops(fake)[0]
        fake.ledger.cancel(stop)  # someone cancels the stop and sells the coins by hand
        fake.ledger.set_balance("BTC", "0")
        sells = market_sells(fake)
        second = Live(fake, clock, tmp_path)
        await second.start()
        exits = [e for e in second.store.exits() if e.position_id == pos.position_id]
        assert [e.reason for e in exits] == ["reconciled"] and exits[0].qty == pos.qty
        assert "BTC/USDT" not in second.bot.positions
        assert market_sells(fake) == sells
        told = [n for n in second.told.notes if n.kind == "reconciled"]
        assert len(told) == 1 and pos.position_id in told[0].text
        await second.cycles(10)
        assert_consistent(second)
        await second.close()

    drive(body)


def test_refused_exit_backs_off_and_escalates_once(fake: FakeBinance, tmp_path: Path) -> None:
    """An exit the exchange keeps refusing: growing waits, told once, escalated once."""
    clock = ManualClock(fake, START)
    live = Live(fake, clock, tmp_path)

    async def body() -> None:
        await live.start()
        await live.until("a position", has_position(live))
        pos = live.bot.positions["BTC/USDT"]
        # every sell is refused: the exchange raised its minimum order size since
        fake.ledger.markets["BTCUSDT"].min_notional = Decimal(10**9)
        refusals_before = len(fake.calls("POST", ORDER))
        await live.until(
            "the exit decision", lambda: len(fake.calls("POST", ORDER)) > refusals_before
        )
        await live.cycles(60)  # an hour of accelerated time
        # waits of 30 s, 60 s, ... 15 min: 8 exits and as many stop placements in an hour,
        # not one of each every cycle (120)
        attempts = len(fake.calls("POST", ORDER)) - refusals_before
        assert attempts <= 20, f"{attempts} refused requests in an hour: no back-off"
        kinds = live.told.kinds()
        assert kinds.count("exit_failing") == 1
        assert kinds.count("order_rejected") <= 2
        assert live.bot.positions["BTC/USDT"].position_id == pos.position_id
        fake.ledger.markets["BTCUSDT"].min_notional = Decimal(5)
        await live.until("the exit", lambda: "BTC/USDT" not in live.bot.positions, limit=60)
        assert_consistent(live)
        await live.close()

    drive(body)


def assert_store_matches_exchange(live: Live) -> None:
    """Every order of the bot at the exchange has a row with its true state and its fills."""
    rows = {r.client_id: r for r in live.store.orders()}
    assert not [c for c in rows if c.startswith("cancel_")], "junk cancel rows in the store"
    status = {"NEW": "open", "PARTIALLY_FILLED": "partial", "FILLED": "filled"}
    for o in ours(live.fake):
        row = rows[o.client_id]
        want = status.get(o.status, "cancelled")
        assert row.status == want, f"{o.client_id}: store {row.status}, exchange {o.status}"
        booked = sum((f.qty for f in live.store.fills(o.client_id)), Decimal(0))
        fee_base = sum(
            (Decimal(str(t["fee"])) for t in o.fills if t["fee_asset"] == "BTC"), Decimal(0)
        )
        assert booked == o.executed - fee_base, f"{o.client_id}: fills {booked} vs {o.executed}"
    snap = live.store.load()
    assert snap is not None
    assert snap.snapshot["bot"] == json.loads(json.dumps(to_snapshot(live.bot)))


def test_start_during_an_outage_waits_and_starts(fake: FakeBinance, tmp_path: Path) -> None:
    """The exchange down at start: the bot says so once, retries with back-off, then starts."""
    clock = ManualClock(fake, START)
    live = Live(fake, clock, tmp_path)
    t0 = time.monotonic()  # before the outage: the start cannot come sooner than t0 + 2 s
    fake.fail_for(2.0, 503)  # every endpoint answers 503 for two seconds
    waits: list[float] = []

    async def pause(seconds: float) -> None:
        waits.append(seconds)
        await asyncio.sleep(seconds)

    live.rt.retry_sleep = pause

    async def body() -> None:
        await asyncio.wait_for(live.rt.run(max_cycles=1), 30)
        assert time.monotonic() - t0 >= 2.0
        kinds = live.told.kinds()
        assert kinds.count("start_waiting") == 1 and "start" in kinds
        assert live.rt.cycles == 1
        await live.close()

    drive(body)


def test_stop_during_a_start_outage_is_immediate(fake: FakeBinance, tmp_path: Path) -> None:
    """SIGTERM while waiting for a dead exchange at start ends the wait at once, no traceback."""
    clock = ManualClock(fake, START)
    live = Live(fake, clock, tmp_path)
    live.rt.start_retry_max_s = 60
    fake.fail_for(600, 503)
    before: list[float] = []  # the slices of the waits slept before the stop request
    after: list[float] = []  # slices asked for once the stop was requested (none may be)

    async def pause(seconds: float) -> None:
        if live.rt.stop_requested:
            after.append(seconds)
            await asyncio.sleep(seconds)  # real time: a wait ignoring the stop takes its length
            return
        before.append(seconds)
        if sum(before) >= 1 + 2 + 4 + 8 + 16 + 10:  # 10 s into the 32 s wait: SIGTERM
            live.rt.stop_requested = True
        await asyncio.sleep(0)  # the earlier waits pass at once (the attempts are real)

    live.rt.retry_sleep = pause

    async def body() -> None:
        task = asyncio.create_task(live.rt.run(max_cycles=1))
        while not live.rt.stop_requested:
            assert not task.done(), "the start ended without a stop request"
            await asyncio.sleep(0.01)
        t0 = time.monotonic()
        await asyncio.wait_for(task, 40)
        assert after == [], f"the wait went on after the stop request: {sum(after):.1f} s"
        assert time.monotonic() - t0 < 10  # the rest of the 32 s wait would take 22 s
        assert live.rt.cycles == 0
        assert live.told.kinds().count("start_waiting") == 1
        await live.gw.close()
        live.store.close()

    drive(body)


class FlakyStore(SqliteStore):
    """A real SQLite store whose commits fail while ``broken`` is set (disk full)."""

    broken = False

    def commit(self, batch: StateBatch) -> None:
        """Commit, or fail like a full disk."""
        if self.broken:
            raise StoreUnavailable(f"{self.path}: database or disk is full")
        super().commit(batch)


def test_store_that_cannot_commit_stops_entries_not_exits(
    fake: FakeBinance, tmp_path: Path
) -> None:
    """Disk full: no new position, the open one is still managed to its exit, all saved later."""
    clock = ManualClock(fake, START)
    live = Live(fake, clock, tmp_path)
    live.store.close()
    flaky = FlakyStore(tmp_path / "bot.sqlite", "Fault")
    live.store = live.rt.store = live.rt.guard.store = live.rt.saver.store = flaky

    async def body() -> None:
        await live.start()
        await live.until("a position", has_position(live))
        pid = live.bot.positions["BTC/USDT"].position_id
        store = live.store
        assert isinstance(store, FlakyStore)
        store.broken = True
        entries = len([p for p in fake.calls("POST", ORDER) if p.get("side") == "BUY"])
        await live.until("the exit", lambda: "BTC/USDT" not in live.bot.positions)
        await live.cycles(20)
        assert len([p for p in fake.calls("POST", ORDER) if p.get("side") == "BUY"]) == entries
        kinds = live.told.kinds()
        assert kinds.count("store_failed") == 1
        assert not [e for e in store.exits() if e.position_id == pid]  # nothing saved yet
        store.broken = False
        await live.cycles(1)
        assert "store_ok" in live.told.kinds()
        assert [e for e in store.exits() if e.position_id == pid]  # saved once it could
        await live.until("a new entry", lambda: bool(live.bot.positions))
        assert_consistent(live)
        assert_store_matches_exchange(live)
        await live.close()

    drive(body)


def test_exit_decided_but_never_sent_is_decided_again_after_a_crash(
    fake: FakeBinance, tmp_path: Path
) -> None:
    """Crash between an exit decision and its order: the restart frees the quantity, sells once."""
    clock = ManualClock(fake, START)
    first = Live(fake, clock, tmp_path)

    async def body() -> None:
        await first.start()
        await first.until("a position", has_position(first))
        pos = first.bot.positions["BTC/USDT"]
        # the engine decides its SL (a price far below) and the process dies before sending
        cmds = first.bot.handle(PriceTicked("BTC/USDT", clock.now, float(pos.levels.sl) * 0.99))
        assert [type(c).__name__ for c in cmds] == ["SubmitOrder"]
        first.rt.commit()  # e.g. the stop's cancel intent was saved with this state
        await first.close()
        second = Live(fake, clock, tmp_path)
        await second.start()
        assert second.bot.positions["BTC/USDT"].pending_exit == 0  # nothing held for ever
        await second.until("the exit", lambda: "BTC/USDT" not in second.bot.positions)
        assert_consistent(second)
        await second.close()

    drive(body)
