"""The Telegram service inside ``optiflow run`` (a bot running alone): start, stop, outages."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

from telegram.error import TelegramError

from optiflow.config.models import BotConfig
from optiflow.domain.errors import UserInputError
from optiflow.interfaces.telegram.control import stop_by_signal
from optiflow.interfaces.telegram.notifier import TelegramNotifier
from optiflow.interfaces.telegram.service import TelegramService
from optiflow.queries.view import BotView

log = logging.getLogger("optiflow.telegram")
RETRY_MAX_S = 60.0


def in_process_service(token: str, cfg: BotConfig, folder: Path) -> TelegramService:
    """A service for this one bot; /shutdown signals this very process (a clean stop)."""
    view = BotView(folder, cfg)
    return TelegramService(token, cfg.telegram, {cfg.name: view}, stop_by_signal)


async def start_telegram(service: TelegramService) -> asyncio.Task[None] | None:
    """Start the service; a refused token stops the bot (exit 2), an outage never does.

    While Telegram is unreachable the bot trades and a background task keeps trying; the
    notifications wait in the outbox.
    """
    try:
        await service.start()
        return None
    except UserInputError:
        raise
    except TelegramError as exc:
        log.warning("telegram unreachable at start (%s); trading anyway, retrying", exc)
    return asyncio.create_task(_keep_trying(service), name="telegram-start")


async def _keep_trying(service: TelegramService) -> None:
    """Retry the start with back-off until it works (or the token is refused)."""
    wait = 1.0
    while True:
        await asyncio.sleep(wait)
        try:
            await service.start()
            log.info("telegram reachable: notifications resume")
            return
        except UserInputError as exc:
            log.error("%s; notifications stay in the outbox", exc)
            return
        except TelegramError:
            wait = min(wait * 2, RETRY_MAX_S)


async def stop_telegram(service: TelegramService, starting: asyncio.Task[None] | None) -> None:
    """Stop the start retries, deliver what waits (a few seconds at most) and close."""
    if starting is not None:
        starting.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await starting
    try:
        await service.stop()
    except Exception as exc:  # noqa: BLE001 - never turn a clean stop into a crash
        log.warning("telegram: stopping failed: %s", exc)


__all__ = [
    "TelegramNotifier",
    "TelegramService",
    "in_process_service",
    "start_telegram",
    "stop_telegram",
]
