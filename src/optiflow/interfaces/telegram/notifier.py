"""The notifier of a bot with Telegram on: console as before, the outbox, a nudge to deliver."""

from __future__ import annotations

import contextlib
import logging
import sqlite3

from optiflow.adapters.logs import mask_secrets
from optiflow.domain.events import Notify
from optiflow.interfaces.telegram.outbox import Delivery
from optiflow.ports.notifier import Notifier
from optiflow.queries.view import BotView

log = logging.getLogger("optiflow.telegram")

# Kinds the runtime announces through the notifier only, without committing them to the
# store's notes (the rest reach the notes table with the state that made them): they are
# written to the outbox here. A kind the store cannot hold (it is failing) goes to memory.
UNSTORED_KINDS = frozenset(
    {"shutdown", "crash", "files", "store_failed", "store_ok", "start_waiting"}
)


class TelegramNotifier:
    """Wraps a notifier: every note also reaches Telegram through the outbox."""

    def __init__(self, inner: Notifier, view: BotView, delivery: Delivery | None) -> None:
        """Notify ``inner`` first, then the outbox of ``view``'s bot (and wake ``delivery``)."""
        self.inner, self.view, self.delivery = inner, view, delivery

    def notify(self, note: Notify) -> None:
        """Log it, make sure the outbox holds it, wake the delivery; never raises."""
        self.inner.notify(note)
        with contextlib.suppress(Exception):
            if note.kind in UNSTORED_KINDS and not self._store(note) and self.delivery:
                self.delivery.ephemeral.append((self.view.name, note))
            if self.delivery is not None:
                self.delivery.wake()

    def _store(self, note: Notify) -> bool:
        """Append the note to the bot's notes table; False if the database refuses."""
        try:
            conn = sqlite3.connect(self.view.db_path, timeout=2.0)
            try:
                with conn:
                    conn.execute(
                        "INSERT INTO notes (kind, symbol, text, ts) VALUES (?, ?, ?, ?)",
                        (note.kind, note.symbol, mask_secrets(note.text), note.ts),
                    )
            finally:
                conn.close()
        except sqlite3.Error as exc:
            log.warning("telegram: could not queue a %s note in the store: %s", note.kind, exc)
            return False
        return True
