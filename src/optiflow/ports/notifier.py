"""The notifier port: tell the trader (console now, Telegram later)."""

from __future__ import annotations

from typing import Protocol

from optiflow.domain.events import Notify


class Notifier(Protocol):
    """Delivers notifications; must never raise into the trading loop."""

    def notify(self, note: Notify) -> None:
        """Queue or send one notification."""
        ...
