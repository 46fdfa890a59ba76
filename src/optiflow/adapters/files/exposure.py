"""The fleet-wide cap on open exposure: a file ledger shared by the bots of one state root.

Files (under ``<state_root>/.shared/``, the folder that also holds the request budgets):

- ``fleet_limits.json``: ``{"exposure_cap_usdt": 1500}``, written by the fleet supervisor
  from ``fleet.json`` (absent: no cap; a bot run alone never has one).
- ``exposure/<bot>.json``: ``{"bot": ..., "exposure_usdt": "123.45", "ts": ...}``, each
  bot's open positions at cost, rewritten by that bot when it changes.
- ``exposure.lock``: a flock held while one bot checks the cap and reserves its entry, so
  two bots cannot both pass with the last room under the cap.

An entry whose notional would take the fleet's total over the cap is refused with the
reason code ``fleet_exposure`` (the engine releases its reservation and announces it).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import time
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Protocol

from optiflow.domain.events import SubmitOrder

log = logging.getLogger("optiflow.exposure")
LIMITS = "fleet_limits.json"
REASON = "fleet_exposure"
# a bot without a cap looks for one at most this often (wall seconds; it commits far more
# often in a rehearsal, and a paper/live cycle is longer): a cap the supervisor adds later
# is published within this delay; entries themselves read the cap every time (``refuse``)
LOOK_S = 1.0


class HasPositions(Protocol):
    """What the ledger needs of the engine: its open positions (qty, entry price)."""

    @property
    def positions(self) -> Mapping[str, object]:
        """Open positions by symbol."""
        ...


def write_limits(state_root: Path, cap_usdt: float | None) -> None:
    """The supervisor's side: publish (or remove) the fleet's exposure cap."""
    shared = state_root / ".shared"
    shared.mkdir(parents=True, exist_ok=True)
    path = shared / LIMITS
    if cap_usdt is None:
        path.unlink(missing_ok=True)
        return
    tmp = shared / f".{LIMITS}.{os.getpid()}"
    tmp.write_text(json.dumps({"exposure_cap_usdt": cap_usdt}), encoding="utf-8")
    os.replace(tmp, path)


def at_cost(positions: Mapping[str, object]) -> Decimal:
    """Open exposure of one bot: quantity times entry price, summed."""
    total = Decimal(0)
    for p in positions.values():
        total += Decimal(getattr(p, "qty", 0)) * Decimal(getattr(p, "entry_price", 0))
    return total


class ExposureLedger:
    """One bot's view of the shared ledger (cheap when the fleet has no cap)."""

    def __init__(self, state_dir: Path, bot: str) -> None:
        """The ledger next to `state_dir` (its parent is the fleet's state root)."""
        self.shared = state_dir.parent / ".shared"
        self.folder = self.shared / "exposure"
        self.bot = bot
        self._published: str | None = None
        self._limits = str(self.shared / LIMITS)
        self._look_at = 0.0  # monotonic time of the next look for a cap (while none)

    def cap(self) -> Decimal | None:
        """The fleet's cap now (read at every entry, so a change needs no restart)."""
        if not os.path.exists(self._limits):
            return None  # no cap (a stat costs a tenth of a failing open and its exception)
        try:
            doc = json.loads((self.shared / LIMITS).read_text(encoding="utf-8"))
            return Decimal(str(doc["exposure_cap_usdt"]))
        except (OSError, ValueError, KeyError, TypeError, InvalidOperation):
            return None

    def publish(self, bot: HasPositions | None) -> None:
        """Record this bot's open exposure (only when a cap exists and the value changed)."""
        if bot is None:
            return
        if self._published is None:  # no cap seen yet: look (a stat) at most every LOOK_S
            now = time.monotonic()
            if now < self._look_at:
                return
            self._look_at = now + LOOK_S
            if self.cap() is None:  # (a stat when there is no cap file)
                return
        self._write(at_cost(bot.positions))

    def _write(self, exposure: Decimal) -> None:
        """Rewrite this bot's file atomically."""
        text = f"{exposure:.8f}"
        if text == self._published:
            return
        with contextlib.suppress(OSError):
            self.folder.mkdir(parents=True, exist_ok=True)
            tmp = self.folder / f".{self.bot}.{os.getpid()}"
            doc = {"bot": self.bot, "exposure_usdt": text, "ts": int(time.time() * 1000)}
            tmp.write_text(json.dumps(doc), encoding="utf-8")
            os.replace(tmp, self.folder / f"{self.bot}.json")
            self._published = text

    def others(self) -> Decimal:
        """Open exposure of every other bot of the state root."""
        total = Decimal(0)
        for path in self.folder.glob("*.json"):
            if path.stem == self.bot:
                continue
            try:
                total += Decimal(json.loads(path.read_text(encoding="utf-8"))["exposure_usdt"])
            except (OSError, ValueError, KeyError, TypeError, InvalidOperation):
                continue
        return total

    def refuse(self, cmd: SubmitOrder, bot: HasPositions | None) -> str | None:
        """``fleet_exposure`` when this entry would take the fleet over its cap, else None.

        A passing entry is reserved at once (this bot's file grows by its notional) while
        the lock is held; the next publish sets the real value.
        """
        cap = self.cap()
        if cap is None or bot is None:
            return None
        own = at_cost(bot.positions)
        notional = cmd.qty * Decimal(str(cmd.ref_price))
        self.shared.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.shared / "exposure.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            total = self.others() + own + notional
            if total > cap:
                log.warning(
                    "%s: entry %s %s refused: fleet exposure would be %.2f USDT, cap %s",
                    self.bot, cmd.symbol, cmd.client_id, total, cap,
                )  # fmt: skip
                return REASON
            self._write(own + notional)
            return None
        finally:
            os.close(fd)  # closing releases the flock
