"""Outbox delivery: the bots' ``notes`` tables sent to every chat in order, exactly once.

Each bot's ``notes`` table is its outbox (notes are committed with the trading state that
made them). Per bot and chat, ``telegram_outbox.json`` in the bot's state folder holds the
id of the last note delivered; it is written (fsync, atomic rename) right after each
successful ``sendMessage``, so a crash or a restart resumes after the last delivered note
and repeats nothing (only a crash between Telegram's answer and that write, a window of
about a millisecond, can repeat one message). Bursts are bundled into one message (up to
4096 characters) and each chat gets at most one message per ``min_gap_s``; a 429 waits its
``retry_after``; an outage backs off up to 30 s and then delivers everything in order.
Nothing here is awaited by a trading cycle: it runs as its own task.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import time
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from telegram.error import BadRequest, Forbidden, InvalidToken, RetryAfter, TelegramError

from optiflow.adapters.files.exports import write_atomic
from optiflow.adapters.logs import mask_secrets
from optiflow.config.telegram import TelegramConfig
from optiflow.domain.events import Notify
from optiflow.interfaces.telegram.fleet_notes import FleetCursor, FleetNotes
from optiflow.interfaces.telegram.registry import MAX_MESSAGE, esc
from optiflow.queries.view import BotView, StoredNote

log = logging.getLogger("optiflow.telegram")
CURSOR_FILE = "telegram_outbox.json"
MAX_BACKOFF_S = 30.0

Send = Callable[[int, str], Awaitable[None]]


@dataclass
class Cursor:
    """Per chat, the id of the last note delivered; plus the last daily-summary day."""

    path: Path
    chats: dict[str, int] = field(default_factory=dict)
    daily: str = ""
    db: int = 0  # the database file's inode: a reset bot (new file) starts over at 0

    @classmethod
    def load(cls, folder: Path, start_at: Callable[[], int]) -> Cursor:
        """Read the cursor; a bot seen for the first time starts after its current notes."""
        path = folder / CURSOR_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            chats = {str(k): int(v) for k, v in data["chats"].items()}
            return cls(path, chats, data["daily"], int(data.get("db", 0)))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            cur = cls(path, {"*": start_at()}, db=_inode(folder))
            cur.save()
            return cur

    def follow(self, view: BotView, newest: int) -> bool:
        """Start over at 0 when the bot's database was replaced (state reset, --fresh)."""
        inode = _inode(view.state_dir)
        behind = any(v > newest for v in self.chats.values())
        reset = False
        if inode and (inode != self.db or behind):
            if self.db or behind:
                log.info("telegram: %s has a new state database; its outbox starts over", view.name)
                self.chats, self.daily, reset = {"*": 0}, "", True
            self.db = inode
            self.save()
        return reset

    def get(self, chat: int) -> int:
        """The last id delivered to ``chat`` (a new chat starts where the bot started)."""
        return self.chats.get(str(chat), self.chats.get("*", 0))

    def save(self) -> None:
        """Write the cursor atomically (fsync + rename)."""
        data = {"chats": self.chats, "daily": self.daily, "db": self.db}
        text = json.dumps(data, sort_keys=True)
        write_atomic(self.path, text + "\n")


def bundle(bot: str, notes: list[StoredNote], limit: int = MAX_MESSAGE) -> tuple[str, int]:
    """One message naming the bot with as many notes as fit; returns (text, last id in it)."""
    head = f"<b>{esc(bot)}</b>"
    text, last = head, notes[0].id
    for i, n in enumerate(notes):
        line = esc(mask_secrets(n.note.text))
        if i == 0 and len(head) + 1 + len(line) > limit:
            return f"{head}\n{line[: limit - len(head) - 2]}…", n.id
        if len(text) + 1 + len(line) > limit:
            break
        text, last = f"{text}\n{line}", n.id
    return text, last


@dataclass
class _Chat:
    """Pacing of one chat: when the next message may go, the current outage back-off."""

    next_at: float = 0.0
    backoff: float = 0.0


class Delivery:
    """Delivers every bot's new notes to every chat; run ``run()`` as a task."""

    def __init__(
        self,
        bots: dict[str, BotView],
        chat_ids: tuple[int, ...],
        send: Send,
        *,
        settings: Callable[[BotView], TelegramConfig | None] = lambda v: None,
        min_gap_s: float = 1.0,
        poll_s: float = 0.5,
        summary_text: Callable[[BotView], str] | None = None,
        fleet: FleetNotes | None = None,
        fleet_sends: Callable[[str], bool] | None = None,
    ) -> None:
        """Deliver for ``bots`` (and a fleet supervisor's notes) to ``chat_ids`` via ``send``."""
        self.bots, self.chat_ids, self.send = bots, chat_ids, send
        self.settings, self.min_gap_s, self.poll_s = settings, min_gap_s, poll_s
        self.summary_text = summary_text
        self.fleet, self.fleet_sends = fleet, fleet_sends
        self.cursors: dict[str, Cursor] = {}
        self.chats = {c: _Chat() for c in chat_ids}
        self.ephemeral: list[tuple[str, Notify]] = []  # notes the store could not hold
        self._daily_due: dict[str, str] = {}  # bot -> day of a summary queued, not yet sent
        self._fleet_told = False
        self._woken = False
        self.sent = 0  # messages delivered (for tests and benchmarks)
        self.fatal: str | None = None

    def wake(self) -> None:
        """A note may be waiting: look now instead of at the next poll."""
        self._woken = True

    def cursor(self, view: BotView) -> Cursor:
        """The bot's cursor, loaded on first use."""
        if view.name not in self.cursors:
            self.cursors[view.name] = Cursor.load(view.state_dir, lambda: _max_id(view))
        return self.cursors[view.name]

    async def run(self) -> None:
        """Deliver until cancelled (or the token is refused)."""
        while self.fatal is None:
            try:
                wait = await self.step()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - delivery must never die; retry later
                log.warning("telegram delivery: %s: %s", type(exc).__name__, exc)
                wait = self.poll_s
            await self._pause(wait)

    async def _pause(self, seconds: float) -> None:
        """Sleep up to ``seconds``, ending early (within 20 ms) when ``wake`` is called."""
        end = time.monotonic() + seconds
        while not self._woken and (left := end - time.monotonic()) > 0:
            await asyncio.sleep(min(0.02, left))
        self._woken = False

    async def step(self) -> float:
        """One pass over every bot and chat; returns how long to wait before the next one."""
        await self._daily()
        while self.ephemeral:
            name, note = self.ephemeral[0]
            text = f"<b>{esc(name)}</b>\n{esc(mask_secrets(note.text))}"
            if not all([await self._send(c, text) for c in self.chat_ids]):
                return self.poll_s
            self.ephemeral.pop(0)
            if note.kind == "daily_summary":
                self._daily_sent(name)
        wait, sent = self.poll_s, False
        for view in list(self.bots.values()):
            cur = self.cursor(view)
            base = min(cur.get(c) for c in self.chat_ids)
            newest, notes = await asyncio.to_thread(view.outbox, base, 200)
            if cur.follow(view, newest):
                return 0.0  # the database was replaced: read it again from the start
            tg = self.settings(view)
            w, s = await self._deliver(view.name, cur, notes, tg.sends if tg else None)
            wait, sent = min(wait, w), sent or s
        fleet = self.fleet
        if fleet is not None and await asyncio.to_thread(fleet.exists):
            try:
                fcur = await asyncio.to_thread(fleet.load)
                base = min(fcur.get(c) for c in self.chat_ids)
                notes = await asyncio.to_thread(fleet.read, base, 200)
                w, s = await self._deliver(fleet.name, fcur, notes, self.fleet_sends)
                wait, sent = min(wait, w), sent or s
            except sqlite3.Error as exc:  # the bots' notes still go; said once
                if not self._fleet_told:
                    log.warning("telegram: cannot read the fleet's notes %s: %s", fleet.path, exc)
                self._fleet_told = True
        return 0.0 if sent else wait

    async def _deliver(
        self,
        name: str,
        cur: Cursor | FleetCursor,
        notes: list[StoredNote],
        sends: Callable[[str], bool] | None,
    ) -> tuple[float, bool]:
        """Send one source's pending notes to every chat that may get a message now."""
        wait, sent = self.poll_s, False
        for chat in self.chat_ids:
            pending = [n for n in notes if n.id > cur.get(chat)]
            wanted = [n for n in pending if sends is None or sends(n.note.kind)]
            if not pending:
                continue
            if not wanted:
                cur.chats[str(chat)] = pending[-1].id
                cur.save()
                continue
            st = self.chats[chat]
            now = time.monotonic()
            if st.next_at > now:
                wait = min(wait, st.next_at - now)
                continue
            text, last = bundle(name, wanted)
            if await self._send(chat, text):
                cur.chats[str(chat)] = last
                cur.save()
                sent = True
            else:
                wait = min(wait, max(0.05, st.next_at - time.monotonic()))
        return wait, sent

    async def _send(self, chat: int, text: str) -> bool:
        """Send one message now if the chat allows; False when it must wait (or failed)."""
        st = self.chats[chat]
        now = time.monotonic()
        if st.next_at > now:
            await asyncio.sleep(st.next_at - now)
        try:
            await self.send(chat, text)
        except RetryAfter as exc:
            wait = retry_seconds(exc)
            log.warning("telegram: 429 for chat %d, retrying after %.0f s", chat, wait)
            st.next_at = time.monotonic() + wait
            return False
        except InvalidToken:
            self.fatal = "the Bot API refused the token"
            log.error("telegram: the Bot API refused the token; delivery stopped")
            return False
        except (BadRequest, Forbidden) as exc:
            # this message can never be delivered to this chat: skip it rather than block
            log.error("telegram: chat %d refused a message (%s); skipped", chat, exc)
            st.next_at = time.monotonic() + self.min_gap_s
            return True
        except TelegramError as exc:  # network errors, timeouts, 5xx: an outage
            st.backoff = min(MAX_BACKOFF_S, max(1.0, st.backoff * 2))
            if st.backoff == 1.0:
                log.warning("telegram unreachable (%s); retrying with back-off", exc)
            st.next_at = time.monotonic() + st.backoff
            return False
        if st.backoff:
            log.info("telegram reachable again; delivering what waited")
        st.backoff = 0.0
        st.next_at = time.monotonic() + self.min_gap_s
        self.sent += 1
        return True

    async def _daily(self) -> None:
        """Each bot's daily summary once its own clock crosses the configured UTC hour.

        The bot's clock is the time of its last commit (replay time in a replay, about now
        when live). The summary of a day is marked sent in the cursor only once delivered.
        """
        if self.summary_text is None:
            return
        for view in list(self.bots.values()):
            tg = self.settings(view)
            hour = tg.daily_summary_hour_utc if tg is not None else None
            if hour is None or tg is None or not tg.sends("daily_summary"):
                continue
            ms = await asyncio.to_thread(_bot_time, view)
            if ms is None:  # no commit yet: the bot's clock is unknown
                continue
            now = datetime.fromtimestamp(ms / 1000, UTC)
            cur = self.cursor(view)
            passed = now.hour >= hour
            day = now.date() if passed else now.date() - timedelta(days=1)
            if not cur.daily:  # first sight of this bot: the next crossing is the first due
                cur.daily = day.isoformat()
                cur.save()
                continue
            if not passed or cur.daily >= day.isoformat() or view.name in self._daily_due:
                continue
            text = f"📊 daily summary {day.isoformat()}\n"
            text += await asyncio.to_thread(self.summary_text, view)
            self._daily_due[view.name] = day.isoformat()
            self.ephemeral.append((view.name, Notify("daily_summary", "", text, 0)))

    def _daily_sent(self, name: str) -> None:
        """The daily summary of bot ``name`` reached every chat: remember its day."""
        day = self._daily_due.pop(name, None)
        view = self.bots.get(name)
        if day is not None and view is not None:
            cur = self.cursor(view)
            cur.daily = day
            cur.save()

    async def flush(self, timeout_s: float) -> bool:
        """Deliver what is waiting, for at most ``timeout_s``; True when nothing is left."""
        end = time.monotonic() + timeout_s
        while time.monotonic() < end and self.fatal is None:
            if not self.pending():
                return True
            try:
                wait = await asyncio.wait_for(self.step(), max(0.1, end - time.monotonic()))
            except TimeoutError:
                break
            await asyncio.sleep(max(0.01, min(wait, end - time.monotonic())))
        return not self.pending()

    def pending(self) -> bool:
        """True while some chat has notes it was not sent yet."""
        if self.ephemeral:
            return True
        for view in self.bots.values():
            cur = self.cursor(view)
            if any(view.notes(cur.get(c), 1) for c in self.chat_ids):
                return True
        fleet = self.fleet
        if fleet is not None and fleet.exists():
            try:
                fcur = fleet.load()
                return any(fleet.read(fcur.get(c), 1) for c in self.chat_ids)
            except sqlite3.Error:
                return False
        return False


def retry_seconds(exc: RetryAfter) -> float:
    """A 429's retry_after in seconds (an int now, a timedelta in later releases)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value: object = exc.retry_after
    total = getattr(value, "total_seconds", None)
    return float(total()) if callable(total) else float(value)  # type: ignore[arg-type]


def _inode(folder: Path) -> int:
    """The inode of the bot's database file (0 when there is none)."""
    try:
        return (folder / "bot.sqlite").stat().st_ino
    except OSError:
        return 0


def _bot_time(view: BotView) -> int | None:
    """The bot's clock: the time of its last commit (None before the first one)."""
    try:
        with view.connect() as conn:  # the cursor only: the state itself can be large
            row = conn.execute("SELECT cursor FROM snapshot WHERE id = 1").fetchone()
        cursor = json.loads(row[0]) if row is not None and row[0] else {}
    except Exception:  # noqa: BLE001 - no store yet
        return None
    ts = cursor.get("ts") if isinstance(cursor, dict) else None
    return ts if isinstance(ts, int) and ts >= 0 else None


def _max_id(view: BotView) -> int:
    """The id of the newest note (0 for a new bot)."""
    try:
        with view.connect() as conn:
            row = conn.execute("SELECT MAX(id) FROM notes").fetchone()
    except Exception:  # noqa: BLE001 - no store yet: start at the beginning
        return 0
    return int(row[0] or 0)
