"""A notifier that writes to the log (console at INFO); Telegram replaces it later."""

from __future__ import annotations

import contextlib
import logging

from optiflow.domain.events import Notify

log = logging.getLogger("optiflow.notify")


class ConsoleNotifier:
    """Announces notifications as INFO log lines; never raises into the trading loop."""

    def __init__(self, bot_name: str) -> None:
        """Tag every line with the bot's name."""
        self.bot_name = bot_name

    def notify(self, note: Notify) -> None:
        """Log one notification."""
        with contextlib.suppress(Exception):  # a notifier must never break trading
            log.info("[%s] %s", self.bot_name, note.text)
