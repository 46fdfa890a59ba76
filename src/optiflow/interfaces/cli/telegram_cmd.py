"""``optiflow telegram --state-root DIR``: one Telegram service for every bot under DIR."""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path

from optiflow.adapters.logs import setup_logging
from optiflow.config.telegram import TelegramConfig
from optiflow.domain.errors import UserInputError
from optiflow.interfaces.cli.secrets import load_telegram_token
from optiflow.interfaces.telegram.control import stop_by_signal
from optiflow.interfaces.telegram.service import TelegramService
from optiflow.queries.view import BotView, bot_dirs

log = logging.getLogger("optiflow.telegram")
RESCAN_S = 5.0


def fleet_settings(views: list[BotView], root: Path) -> TelegramConfig:
    """One telegram setting for the fleet: every enabled bot's chats, one shared base URL."""
    enabled = [v for v in views if v.cfg is not None and v.cfg.telegram.enabled]
    if not enabled:
        raise UserInputError(
            f"--state-root {root}: no bot there has telegram.enabled in its config.json "
            "(a bot writes it at start)"
        )
    bases = {v.cfg.telegram.base_url.rstrip("/") for v in enabled if v.cfg is not None}
    if len(bases) > 1:
        raise UserInputError(
            f"--state-root {root}: the bots name different telegram.base_url values "
            f"({', '.join(sorted(bases))}); one service serves one Bot API"
        )
    chats: list[int] = []
    for v in enabled:
        assert v.cfg is not None
        chats += [c for c in v.cfg.telegram.chat_ids if c not in chats]
    first = enabled[0].cfg
    assert first is not None
    return first.telegram.model_copy(update={"chat_ids": tuple(chats)})


def telegram_command(state_root: Path, secrets: Path | None) -> int:
    """Serve every bot under ``state_root`` until SIGINT/SIGTERM; exit code 0."""
    views = [BotView(d) for d in bot_dirs(state_root)]
    tg = fleet_settings(views, state_root)
    token = load_telegram_token(secrets)
    setup_logging(state_root / ".telegram" / "logs", "telegram", [])
    bots = {v.name: v for v in views}
    service = TelegramService(token, tg, bots, stop_by_signal, fleet_root=state_root)
    asyncio.run(_serve(service, state_root))
    return 0


async def _serve(service: TelegramService, root: Path) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await service.start()
    try:
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), RESCAN_S)
            except TimeoutError:
                _rescan(service, root)
    finally:
        await service.stop()


def _rescan(service: TelegramService, root: Path) -> None:
    """Serve bots whose state folders appeared since the start."""
    try:
        dirs = bot_dirs(root)
    except UserInputError:
        return
    known = {v.state_dir for v in service.bots.values()}
    for d in dirs:
        if d not in known:
            view = BotView(d)
            service.bots[view.name] = view
            service.delivery.cursor(view)
            log.info("telegram: now serving %s", view.name)
