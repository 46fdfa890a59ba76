"""The Telegram service: one poller per token serving many bots, plus their outbox delivery.

Built on python-telegram-bot 22 (``Application``); the Bot API base comes from
``telegram.base_url`` so tests and proxies use the production path. Only ``chat_ids`` may
command; any other chat gets no answer and is logged once. Commands are answered from the
registry in a worker thread (queries read SQLite), never on the trading loop's time.
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Callable
from pathlib import Path

from telegram import BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import Conflict, InvalidToken, RetryAfter, TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from optiflow.adapters.logs import register_secret
from optiflow.config.telegram import TelegramConfig
from optiflow.domain.errors import UserInputError
from optiflow.interfaces.telegram import registry
from optiflow.interfaces.telegram.cmd_money import _summary_body
from optiflow.interfaces.telegram.cmd_runtime import shutdown_now
from optiflow.interfaces.telegram.fleet_notes import FleetNotes
from optiflow.interfaces.telegram.outbox import Delivery, retry_seconds
from optiflow.interfaces.telegram.registry import MAX_PARTS, Ctx, Reply, split_message
from optiflow.queries.view import BotView

log = logging.getLogger("optiflow.telegram")
for _noisy in ("httpx", "httpcore", "telegram", "telegram.ext"):
    # their DEBUG/INFO lines carry request URLs, which hold the token
    logging.getLogger(_noisy).setLevel(logging.WARNING)


class TelegramService:
    """Polls one token, answers commands for ``bots``, delivers their notifications."""

    def __init__(
        self,
        token: str,
        tg: TelegramConfig,
        bots: dict[str, BotView],
        stop_bot: Callable[[BotView], str] | None,
        *,
        poll_timeout: int = 10,
        min_gap_s: float = 1.0,
        fleet_root: Path | None = None,
    ) -> None:
        """Wire the application (nothing touches the network before ``start``)."""
        register_secret(token)
        self.tg, self.bots, self.poll_timeout = tg, bots, poll_timeout
        self.chat_ids = frozenset(tg.chat_ids)
        self.ctx = Ctx(bots, stop_bot)
        base = tg.base_url.rstrip("/")
        self.app: Application = (  # type: ignore[type-arg]
            ApplicationBuilder()
            .token(token)
            .base_url(base)
            .base_file_url(base.removesuffix("/bot") + "/file/bot")
            .get_updates_read_timeout(poll_timeout + 10)
            .build()
        )
        self.app.add_handler(MessageHandler(filters.COMMAND, self._on_command))
        self.app.add_handler(CallbackQueryHandler(self._on_button))
        self.delivery = Delivery(
            bots,
            tg.chat_ids,
            self._send_note,
            settings=lambda v: v.cfg.telegram if v.cfg is not None else tg,
            min_gap_s=min_gap_s,
            summary_text=lambda v: _summary_body(v, []),
            fleet=None if fleet_root is None else FleetNotes(fleet_root, tg.chat_ids),
            fleet_sends=lambda kind: tg.sends(f"fleet_{kind}"),
        )
        self._task: asyncio.Task[None] | None = None
        self._ignored: set[int] = set()
        self._conflict_told = False
        self.started = False

    async def check_token(self) -> None:
        """getMe: a refused token is a UserInputError (exit 2); an outage is only logged."""
        try:
            await self.app.initialize()
        except InvalidToken:
            raise UserInputError(
                "telegram: the Bot API refused the token (getMe: Unauthorized); check "
                "OPTIFLOW_TELEGRAM_TOKEN or telegram_token in the secrets file"
            ) from None

    async def start(self) -> None:
        """Check the token, publish the command menu, poll, and start delivering."""
        for view in self.bots.values():
            self.delivery.cursor(view)  # a new bot's outbox starts before its first note
        await self.check_token()
        try:
            await self.app.bot.set_my_commands([BotCommand(n, d) for n, d in registry.menu()])
        except TelegramError as exc:
            log.warning("telegram: could not set the command menu: %s", exc)
        await self.app.start()
        assert self.app.updater is not None
        await self.app.updater.start_polling(
            timeout=self.poll_timeout, error_callback=self._poll_error
        )
        self._task = asyncio.create_task(self.delivery.run(), name="telegram-delivery")
        self.started = True
        log.info("telegram: serving %s for %d chat(s)", ", ".join(self.bots), len(self.chat_ids))

    def _poll_error(self, exc: TelegramError) -> None:
        """getUpdates failed: a second poller (409) is said once; outages are retried."""
        if isinstance(exc, Conflict):
            if not self._conflict_told:
                self._conflict_told = True
                log.error(
                    "telegram: another process polls this token (409 Conflict); run one "
                    "`optiflow telegram` service for all bots"
                )
            return
        log.warning("telegram: getUpdates failed: %s", exc)

    async def stop(self, flush_s: float = 5.0) -> None:
        """Deliver what waits (at most ``flush_s``), then stop polling and close."""
        if not self.started:
            return
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.delivery.flush(flush_s)
        assert self.app.updater is not None
        await self.app.updater.stop()
        await self.app.stop()
        await self.app.shutdown()
        self.started = False

    async def _send_note(self, chat: int, text: str) -> None:
        await self.app.bot.send_message(chat, text, parse_mode=ParseMode.HTML)

    def _allowed(self, chat_id: int | None) -> bool:
        """Commands only from the configured chats; others are logged once, never answered."""
        if chat_id is not None and chat_id in self.chat_ids:
            return True
        if chat_id not in self._ignored:
            self._ignored.add(chat_id or 0)
            log.warning("telegram: ignoring commands from chat %s (not in chat_ids)", chat_id)
        return False

    async def _on_command(self, update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        msg = update.effective_message
        chat = update.effective_chat
        if msg is None or chat is None or not self._allowed(chat.id):
            return
        reply = await asyncio.to_thread(registry.answer, self.ctx, msg.text or "")
        await self._reply(chat.id, reply, (msg.text or "/reply").split()[0][1:])

    async def _on_button(self, update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        chat = update.effective_chat
        if query is None or chat is None or not self._allowed(chat.id):
            return
        await self._retry(lambda: query.answer())
        kind, _sep, name = (query.data or "").partition(":")
        view = registry.find_bot(self.ctx, name) if kind == "shutdown" else None
        text = "unknown button" if view is None else shutdown_now(self.ctx, view)
        await self._reply(chat.id, Reply(registry.esc(text)), "shutdown")

    async def _reply(self, chat: int, reply: Reply, name: str) -> None:
        """Send a reply: split in up to MAX_PARTS messages, else as a text file."""
        markup = (
            InlineKeyboardMarkup(
                [[InlineKeyboardButton(t, callback_data=d)] for t, d in reply.buttons]
            )
            if reply.buttons
            else None
        )
        if reply.document is not None:
            path = reply.document
            await self._retry(
                lambda: self.app.bot.send_document(
                    chat, path.read_bytes(), filename=path.name, caption=registry.plain(reply.text)
                )
            )
            return
        parts = split_message(reply.text)
        if len(parts) > MAX_PARTS:
            data = registry.plain(reply.text).encode("utf-8")
            await self._retry(
                lambda: self.app.bot.send_document(
                    chat, io.BytesIO(data), filename=f"{name}.txt", caption=f"/{name}: long reply"
                )
            )
            return
        for i, part in enumerate(parts):
            keyboard = markup if i == len(parts) - 1 else None
            await self._retry(
                lambda p=part, k=keyboard: self.app.bot.send_message(  # type: ignore[misc]
                    chat, p, parse_mode=ParseMode.HTML, reply_markup=k
                )
            )

    async def _retry(self, call: Callable[[], object], tries: int = 5) -> None:
        """A reply call, waiting out 429s and brief outages (a few tries)."""
        for attempt in range(tries):
            try:
                await call()  # type: ignore[misc]
                return
            except RetryAfter as exc:
                await asyncio.sleep(retry_seconds(exc))
            except TelegramError as exc:
                if attempt == tries - 1:
                    log.warning("telegram: a reply could not be sent: %s", exc)
                    return
                await asyncio.sleep(min(2**attempt, 10))
