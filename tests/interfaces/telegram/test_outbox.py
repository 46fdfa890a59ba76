"""The outbox: notes delivered in order, bundled, once, through 429s, outages and restarts."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
from optiflow.adapters.sqlite.store import SqliteStore  # noqa: E402
from optiflow.config.telegram import TelegramConfig  # noqa: E402
from optiflow.domain.events import Notify  # noqa: E402
from optiflow.interfaces.telegram.service import TelegramService  # noqa: E402
from optiflow.ports.store import StateBatch  # noqa: E402
from optiflow.queries.view import BotView  # noqa: E402
from tests.fakes.telegram import FakeTelegram  # noqa: E402
from tests.interfaces.telegram.support import CHAT, OTHER_CHAT, TOKEN  # noqa: E402


def add_notes(state: Path, texts: list[str], kind: str = "entry") -> None:
    """Commit notes to the bot's store the way a runtime does."""
    store = SqliteStore(state / "bot.sqlite", "B1")
    try:
        notes = tuple(Notify(kind, "BTC/USDT", t, 0) for t in texts)
        store.commit(StateBatch(snapshot={}, notes=notes))
    finally:
        store.close()


def delivered(fake: FakeTelegram, chat: int = CHAT) -> list[str]:
    """Every note line delivered to ``chat``, in order (bundle headers removed)."""
    lines: list[str] = []
    for text in fake.texts(chat):
        head, *rest = text.split("\n")
        assert head == "<b>B1</b>", text  # each message names the bot
        lines += rest
    return lines


def serve(fake: FakeTelegram, state: Path, body: object, **tg: object) -> None:
    """Run a service for bot B1 while ``body(service)`` (a coroutine function) runs."""

    async def run() -> None:
        cfg = TelegramConfig.model_validate(
            {"enabled": True, "chat_ids": [CHAT, OTHER_CHAT], "base_url": fake.base_url} | tg
        )
        service = TelegramService(TOKEN, cfg, {"B1": BotView(state)}, None, poll_timeout=1)
        await asyncio.wait_for(service.start(), 20)
        try:
            await asyncio.wait_for(body(service), 90)  # type: ignore[operator]
        finally:
            await asyncio.wait_for(service.stop(flush_s=0), 20)

    asyncio.run(run())


async def until(cond: object, timeout: float = 30) -> None:
    """Wait (async) until ``cond()`` holds."""
    end = time.monotonic() + timeout
    while not cond():  # type: ignore[operator]
        assert time.monotonic() < end, "timed out"
        await asyncio.sleep(0.05)


def test_notes_go_to_every_chat_in_order_bundled(fake: FakeTelegram, tmp_path: Path) -> None:
    """A burst reaches every chat in order, in fewer messages than notes, at most 1/s per chat."""
    add_notes(tmp_path, [])  # the bot exists before the service: it starts at its beginning
    texts = [f"note {i}" for i in range(30)]

    async def body(service: TelegramService) -> None:
        for i in range(0, 30, 3):
            await asyncio.to_thread(add_notes, tmp_path, texts[i : i + 3])
            await asyncio.sleep(0.1)
        await until(lambda: len(delivered(fake)) == 30 and len(delivered(fake, OTHER_CHAT)) == 30)

    serve(fake, tmp_path, body)
    assert delivered(fake) == texts and delivered(fake, OTHER_CHAT) == texts
    times = [m["t"] for m in fake.sent if int(m["chat_id"]) == CHAT]
    assert len(times) < 30
    assert all(b - a >= 0.95 for a, b in zip(times, times[1:], strict=False))


def test_a_429_storm_waits_retry_after_and_loses_nothing(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    """429s with retry_after delay delivery; everything arrives once, in order."""
    add_notes(tmp_path, [])
    fake.rate_limit(6, retry_after=1)
    texts = [f"storm {i}" for i in range(8)]

    async def body(service: TelegramService) -> None:
        for t in texts:
            await asyncio.to_thread(add_notes, tmp_path, [t])
            await asyncio.sleep(0.3)
        await until(lambda: len(delivered(fake)) == 8 and len(delivered(fake, OTHER_CHAT)) == 8)

    started = time.monotonic()
    serve(fake, tmp_path, body)
    assert fake.rate_limited == 6
    assert delivered(fake) == texts and delivered(fake, OTHER_CHAT) == texts
    assert time.monotonic() - started >= 3  # six 1 s waits over two chats


def test_an_outage_then_everything_in_order(fake: FakeTelegram, tmp_path: Path) -> None:
    """While the Bot API is down notes wait; after it returns all arrive in order, once."""
    add_notes(tmp_path, [])
    texts = ["before", *[f"during {i}" for i in range(12)], "after"]

    async def body(service: TelegramService) -> None:
        await asyncio.to_thread(add_notes, tmp_path, ["before"])
        await until(lambda: delivered(fake) == ["before"])
        fake.down = True
        for t in texts[1:-1]:
            await asyncio.to_thread(add_notes, tmp_path, [t])
            await asyncio.sleep(0.2)
        await asyncio.sleep(2)
        assert delivered(fake) == ["before"]
        fake.down = False
        await asyncio.to_thread(add_notes, tmp_path, ["after"])
        await until(lambda: len(delivered(fake)) == len(texts), 60)

    serve(fake, tmp_path, body)
    assert delivered(fake) == texts


def test_a_restart_resumes_without_repeats(fake: FakeTelegram, tmp_path: Path) -> None:
    """A second service on the same bot sends only what the first one did not."""
    add_notes(tmp_path, [])

    async def first(service: TelegramService) -> None:
        await asyncio.to_thread(add_notes, tmp_path, ["one", "two"])
        await until(lambda: delivered(fake) == ["one", "two"])

    async def second(service: TelegramService) -> None:
        await until(lambda: len(delivered(fake)) >= 3)
        await asyncio.sleep(1.5)

    serve(fake, tmp_path, first)
    add_notes(tmp_path, ["three"])
    serve(fake, tmp_path, second)
    assert delivered(fake) == ["one", "two", "three"]


def test_a_kind_switched_off_is_not_sent(fake: FakeTelegram, tmp_path: Path) -> None:
    """telegram.notify: {entry: false} keeps entries out of Telegram (other kinds still go)."""
    add_notes(tmp_path, [])

    async def body(service: TelegramService) -> None:
        await asyncio.to_thread(add_notes, tmp_path, ["an entry"], "entry")
        await asyncio.to_thread(add_notes, tmp_path, ["a stop"], "sl")
        await until(lambda: "a stop" in delivered(fake))
        await asyncio.sleep(0.5)

    serve(fake, tmp_path, body, notify={"entry": False})
    assert delivered(fake) == ["a stop"]
