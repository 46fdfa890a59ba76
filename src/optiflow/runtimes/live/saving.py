"""Commits that survive a store which cannot write: keep the batch, stop new risk, say so."""

from __future__ import annotations

import logging
from collections.abc import Callable

from optiflow.domain.errors import StoreUnavailable
from optiflow.domain.events import Notify
from optiflow.ports.notifier import Notifier
from optiflow.ports.store import StateBatch, Store, merge_batches

log = logging.getLogger("optiflow.runtime")


class Saver:
    """Commits batches; while the store fails, keeps them merged and ``failed`` says why."""

    def __init__(
        self, store: Store, notifier: Notifier, name: str, now_ms: Callable[[], int]
    ) -> None:
        """Save through ``store``; announce failure and recovery through ``notifier``."""
        self.store, self.notifier, self.name, self.now_ms = store, notifier, name, now_ms
        self.failed: str | None = None  # why the store cannot commit (no new entries)
        self._unsaved: StateBatch | None = None

    def save(self, batch: StateBatch) -> None:
        """Commit (with anything unsaved before it); on failure keep it and tell once."""
        if self._unsaved is not None:
            batch = merge_batches([self._unsaved, batch])
        try:
            self.store.commit(batch)
        except StoreUnavailable as exc:
            self._unsaved = batch
            if self.failed is None:
                self.failed = str(exc)
                log.error("the store cannot commit (%s): no new positions until it can", exc)
                self.notifier.notify(
                    Notify(
                        "store_failed",
                        "",
                        f"🚨 {self.name}: the state database cannot save ({exc}). No new "
                        "positions; exits and exchange stops are still managed. Free disk "
                        "space or fix the state folder.",
                        self.now_ms(),
                    )
                )
            return
        self._unsaved = None
        if self.failed is not None:
            log.warning("the store saves again; entries resume")
            self.notifier.notify(
                Notify("store_ok", "", f"✅ {self.name}: the state database saves again", 0)
            )
            self.failed = None
