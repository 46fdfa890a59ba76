"""Every notification kind: made by a real engine event or runtime path, its text checked,
delivered through the fake Bot API, and switched off by ``telegram.notify``."""

from __future__ import annotations

import asyncio
import re
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
from optiflow.adapters.logs import register_secret  # noqa: E402
from optiflow.adapters.sqlite.store import SqliteStore  # noqa: E402
from optiflow.config.models import BotConfig  # noqa: E402
from optiflow.config.telegram import TelegramConfig  # noqa: E402
from optiflow.domain.events import (  # noqa: E402
    Notify,
    OrderFilled,
    OrderRejected,
    PositionReconciled,
    PriceTicked,
)
from optiflow.interfaces.cli.run import serve_protected  # noqa: E402
from optiflow.interfaces.telegram.notifier import TelegramNotifier  # noqa: E402
from optiflow.interfaces.telegram.outbox import Cursor  # noqa: E402
from optiflow.interfaces.telegram.service import TelegramService  # noqa: E402
from optiflow.ports.store import StateBatch  # noqa: E402
from optiflow.queries.view import BotView  # noqa: E402
from tests.engine.test_bot import (  # noqa: E402
    MIN,
    SYM,
    T0,
    candle,
    fill,
    make_bot,
    open_position,
    orders,
    stop_out,
)
from tests.fakes.telegram import FakeTelegram  # noqa: E402
from tests.interfaces.telegram.support import CHAT, TOKEN  # noqa: E402

EXIT = r"{} BTC/USDT [0-9.]+ @ [0-9.]+ net -?[0-9]+\.[0-9]{{4}}"


def notes_of(cmds: list[Any]) -> list[Notify]:
    """The notifications among an engine's commands."""
    return [c for c in cmds if isinstance(c, Notify)]


def engine_notes(make_config: Callable[..., BotConfig]) -> list[Notify]:
    """Each engine notification kind, made by the events that make it in production."""
    out: list[Notify] = []
    no_steps = make_config(exits={"stepwise": {"enabled": False}})
    bot = make_bot(make_config())
    (order,) = orders(candle(bot, T0))
    out += notes_of(fill(bot, order, 100.0, T0 + MIN))  # entry
    for o in orders(bot.handle(PriceTicked(SYM, T0 + 2 * MIN, 100.7, 100.0))):
        out += notes_of(fill(bot, o, o.ref_price, T0 + 2 * MIN))  # step_1, tp1, step_2, step_3
    bot = make_bot(no_steps)
    open_position(bot, T0)
    for price in (100.32, 100.7):  # tp1 then tp2
        for o in orders(bot.handle(PriceTicked(SYM, T0 + 2 * MIN, price))):
            out += notes_of(fill(bot, o, o.ref_price, T0 + 2 * MIN))
    bot = make_bot(no_steps)
    open_position(bot, T0)
    (tp1,) = orders(bot.handle(PriceTicked(SYM, T0 + 2 * MIN, 100.32)))
    fill(bot, tp1, tp1.ref_price, T0 + 2 * MIN)
    (be,) = orders(bot.handle(PriceTicked(SYM, T0 + 3 * MIN, 99.0, 100.32)))
    out += notes_of(fill(bot, be, be.ref_price, T0 + 3 * MIN))  # sl_breakeven
    for price, at in ((104.0, 2), (100.1, 61), (100.0, 121)):  # auto_profit, timeout, max_hold
        bot = make_bot(no_steps)
        open_position(bot, T0)
        (o,) = orders(bot.handle(PriceTicked(SYM, T0 + at * MIN, price)))
        out += notes_of(fill(bot, o, price, T0 + at * MIN))
    bot = make_bot(make_config(filters={"cooldown": {"enabled": False}}))
    for i in range(3):  # sl x3 -> blacklist_on, then blacklist_off 120 min later
        open_position(bot, T0 + i * 10 * MIN)
        out += notes_of(stop_out(bot, T0 + i * 10 * MIN + 5 * MIN))
    out += notes_of(candle(bot, T0 + 144 * MIN))
    bot = make_bot(make_config())
    (order,) = orders(candle(bot, T0))
    out += notes_of(bot.handle(OrderRejected(order.client_id, SYM, "insufficient balance", T0)))
    open_position(bot, T0 + 10 * MIN)
    for n in range(3):  # a refused exit: told once, escalated on the third refusal
        (o,) = orders(bot.handle(PriceTicked(SYM, T0 + (20 + 30 * n) * MIN, 99.0)))
        out += notes_of(bot.handle(OrderRejected(o.client_id, SYM, "market closed", o.ts, True)))
    pid = bot.positions[SYM].position_id
    gone = PositionReconciled(
        SYM, pid, Decimal("1.5"), Decimal("99"), Decimal("0"), T0 + 200 * MIN,
        why="sold in the exchange's app",
    )  # fmt: skip
    out += notes_of(bot.handle(gone))
    one = Decimal(1)
    out += notes_of(bot.handle(OrderFilled("nobody-1", SYM, "buy", one, one, Decimal(0), T0)))
    return out


def test_engine_kinds_and_their_texts(make_config: Callable[..., BotConfig]) -> None:
    """Each kind the engine makes comes from its event, with its figures in the text."""
    by_kind: dict[str, list[str]] = {}
    for n in engine_notes(make_config):
        by_kind.setdefault(n.kind, []).append(n.text)
    assert set(by_kind) == {
        "entry", "step_1", "tp1", "step_2", "step_3", "tp2", "sl_breakeven", "auto_profit",
        "timeout", "max_hold", "sl", "blacklist_on", "blacklist_off", "order_rejected",
        "exit_failing", "reconciled", "unknown_fill",
    }  # fmt: skip
    assert re.fullmatch(
        r"BUY BTC/USDT 1\.500 @ 100\.0 = 150\.00 USDT \(TP1 100\.3, TP2 100\.6, SL 99\.4; "
        r"steps [0-9., ]+; primary ema_trend; confirming rsi_band\)",
        by_kind["entry"][0],
    ), by_kind["entry"][0]
    for kind in ("step_1", "tp1", "step_2", "step_3", "tp2", "sl_breakeven", "auto_profit",
                 "timeout", "max_hold", "sl"):  # fmt: skip
        assert re.fullmatch(EXIT.format(kind.upper()), by_kind[kind][0]), by_kind[kind]
    assert by_kind["auto_profit"] == ["AUTO_PROFIT BTC/USDT 1.500 @ 104.0 net 5.6940"]
    assert by_kind["blacklist_on"] == ["BTC/USDT paused after 3 stop-losses"]
    assert by_kind["blacklist_off"] == ["BTC/USDT blacklist lifted"]
    assert by_kind["order_rejected"][0] == (
        "entry order T-000001-e rejected: insufficient balance"
    ) or by_kind["order_rejected"][0].endswith("rejected: insufficient balance")
    assert by_kind["order_rejected"][1].endswith("rejected: market closed; retrying in 30 s")
    assert by_kind["exit_failing"][0].startswith("🚨 BTC/USDT: the exchange refused 3 exits")
    assert by_kind["reconciled"][0].startswith("⚠️ RECONCILED BTC/USDT 1.5 @ 99 net ")
    assert by_kind["reconciled"][0].endswith(
        "sold in the exchange's app; booked from the exchange's records, nothing sold"
    )
    assert by_kind["unknown_fill"] == ["fill of unknown order nobody-1"]


class Exploding:
    """A runtime that fails like a bug would, with a secret in its message."""

    stop_requested = False

    async def run(self) -> None:
        """Raise."""
        raise ZeroDivisionError(f"boom with {TOKEN} inside")


class Quiet:
    """The console side of the notifier."""

    def notify(self, note: Notify) -> None:
        """Say nothing."""


def deliver(fake: FakeTelegram, state: Path, notes: list[Notify], off: set[str]) -> list[str]:
    """Commit ``notes``, crash a runtime, deliver with ``off`` switched off; the lines sent."""
    with SqliteStore(state / "bot.sqlite", "B1") as store:
        store.commit(StateBatch(snapshot={}))
        Cursor.load(state, lambda: 0)  # the service knew the bot before these notes
        store.commit(StateBatch(snapshot={}, notes=tuple(notes)))
    notifier = TelegramNotifier(Quiet(), BotView(state), None)
    assert serve_protected(Exploding(), notifier, "B1") == 1  # a real crash, announced

    async def run() -> None:
        tg = TelegramConfig(
            enabled=True, chat_ids=(CHAT,), base_url=fake.base_url,
            notify={k: False for k in off}, daily_summary_hour_utc=None,
        )  # fmt: skip
        service = TelegramService(TOKEN, tg, {"B1": BotView(state)}, None, poll_timeout=1)
        await asyncio.wait_for(service.start(), 20)
        try:
            end = time.monotonic() + 30
            while service.delivery.pending() and time.monotonic() < end:
                await asyncio.sleep(0.1)
            await asyncio.sleep(0.5)
        finally:
            await asyncio.wait_for(service.stop(flush_s=0), 20)

    asyncio.run(run())
    lines: list[str] = []
    for text in fake.texts(CHAT):
        head, *rest = text.split("\n")
        assert head == "<b>B1</b>"
        lines += [x.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&") for x in rest]
    return lines


def test_every_kind_is_delivered_and_each_can_be_switched_off(
    fake: FakeTelegram, tmp_path: Path, make_config: Callable[..., BotConfig]
) -> None:
    """Two runs, each switching off half of the kinds: the rest arrive, in order, once."""
    register_secret(TOKEN)
    made = engine_notes(make_config) + [
        Notify("start", "", "▶️ B1 starting in replay mode: BTC/USDT; balance 400.00 USDT", 0),
        Notify("shutdown", "", "🛑 Bot shutting down… (B1)", 0),
    ]
    kinds = sorted({n.kind for n in made} | {"crash"})
    halves = (set(kinds[::2]), set(kinds[1::2]))
    for i, off in enumerate(halves):
        fake.sent.clear()
        state = tmp_path / f"run{i}"
        state.mkdir()
        lines = deliver(fake, state, made, off)
        crash = "💥 B1 crashed: ZeroDivisionError: boom with *** inside"
        want = [n.text for n in made if n.kind not in off]
        want += [] if "crash" in off else [crash]
        assert lines == want, (off, lines)
        assert all(TOKEN not in x for x in lines)
        for path in state.rglob("*"):  # the crash note is stored masked too
            assert TOKEN.encode() not in path.read_bytes(), path
