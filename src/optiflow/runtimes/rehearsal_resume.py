"""What a killed rehearsal needs to carry on exactly where it stopped.

A rehearsal is deterministic, and the market stands still while it restarts, so a restart
can continue the interrupted work instead of deciding anew:

* the **outbox**: the engine's commands decided but not carried out yet (the rest of a
  list of exits, a reactive rescan pair by pair, an order whose intent was committed but
  which never reached the exchange), stored with every commit of the engine state that
  decided them; a restart carries them out after the start-up reconciliation;
* the **kill switch** (``OPTIFLOW_REHEARSAL_KILL_AT=N``): the process SIGKILLs itself right
  after its Nth durable write (a commit of the bot's store or of the simulated exchange's
  file). Between two writes nothing durable changes, so sweeping N over every write covers
  every moment a kill can land on (tests use it).
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any

from optiflow.domain.events import CancelOrder, CandleClosed, Command, RequestScan, SubmitOrder
from optiflow.runtimes.live.runtime import LiveRuntime

KILL_ENV = "OPTIFLOW_REHEARSAL_KILL_AT"


@dataclass(frozen=True, slots=True)
class Scan:
    """One pair of a reactive rescan (``RequestScan`` is carried out pair by pair)."""

    symbol: str


Item = Command | Scan


def dump_items(items: list[Item]) -> list[dict[str, Any]]:
    """The outbox as JSON-able data (notifications are not kept: they were sent)."""
    out: list[dict[str, Any]] = []
    for it in items:
        if isinstance(it, SubmitOrder):
            out.append({"submit": {**_shallow(it), "qty": str(it.qty)}})
        elif isinstance(it, CancelOrder):
            out.append({"cancel": _shallow(it)})
        elif isinstance(it, Scan):
            out.append({"scan": it.symbol})
    return out


def _shallow(obj: SubmitOrder | CancelOrder) -> dict[str, Any]:
    """A flat dataclass as a dict (``asdict`` deep-copies: too slow for every commit)."""
    return {name: getattr(obj, name) for name in _FIELDS[type(obj)]}


_FIELDS = {cls: tuple(f.name for f in fields(cls)) for cls in (SubmitOrder, CancelOrder)}


def load_items(data: list[dict[str, Any]]) -> list[Item]:
    """Inverse of ``dump_items``."""
    out: list[Item] = []
    for d in data:
        if "submit" in d:
            out.append(SubmitOrder(**{**d["submit"], "qty": Decimal(d["submit"]["qty"])}))
        elif "cancel" in d:
            out.append(CancelOrder(**d["cancel"]))
        elif "scan" in d:
            out.append(Scan(str(d["scan"])))
    return out


class KillSwitch:
    """Counts durable writes; SIGKILLs this process after the Nth one (if armed)."""

    def __init__(self, at: int | None = None) -> None:
        """Armed at write ``at`` (default: from the environment; unset or 0: never)."""
        raw = os.environ.get(KILL_ENV, "") if at is None else str(at)
        self.at = int(raw) if raw.strip().isdigit() else 0
        self.writes = 0

    def wrote(self) -> None:
        """One durable write done: die now if this is the armed one."""
        self.writes += 1
        if self.at and self.writes == self.at:
            os.kill(os.getpid(), signal.SIGKILL)


class CarryingRuntime(LiveRuntime):
    """A live runtime whose decided commands stay in an outbox (in its snapshot) until done."""

    _frames: list[list[Item]]  # commands being carried out, outermost first
    unplaced: dict[str, str]  # symbol -> client id of a stop placement never sent
    replacing: list[str]  # symbols whose stop was being cancelled (to follow the position)

    def _exchange_knows(self, client_id: str) -> bool:
        """Whether the exchange ever received this order (the rehearsal's own exchange)."""
        raise NotImplementedError

    def _snapshot(self) -> dict[str, Any]:
        snap = super()._snapshot()
        snap["outbox"] = dump_items([it for f in reversed(self._frames) for it in f])
        return snap

    async def run_commands(self, commands: list[Command]) -> None:
        """As the live runtime, but each command stays in the outbox until it is done."""
        frame: list[Item] = []
        for cmd in commands:
            if isinstance(cmd, RequestScan):
                frame += [Scan(sym) for sym in self.latest]
            else:
                frame.append(cmd)
        self._frames.append(frame)
        try:
            await self._drain(frame)
        finally:
            self._frames.pop()

    async def _drain(self, frame: list[Item]) -> None:
        """Carry out a frame's items in order; an order leaves it once it went out."""
        while frame:
            item = frame[0]
            if isinstance(item, SubmitOrder):
                await super().run_commands([item])
                frame.pop(0)
                continue
            frame.pop(0)
            if isinstance(item, Scan):
                f, book = self.latest.get(item.symbol), self.books.get(item.symbol)
                if f is not None and book is not None:
                    ev = CandleClosed(item.symbol, f, self._spread(book), rescan=True,
                                      ob_imbalance=book.imbalance)  # fmt: skip
                    await self.feed(ev)
            else:
                await super().run_commands([item])

    async def reconcile(self, recovering: bool) -> None:
        """Carry on orders whose answer the killed run never got; reconcile the rest.

        An order still an intent in the store is sent again under its own client id (the
        exchange answers a repeated id with the order it holds, faults included, as it
        answered the killed run); a stop being placed that the exchange never received is
        placed again under the same id, first thing after the start-up (``carry_on``).
        """
        # pairs with an order decided (an exit whose stop was being cancelled): left as they were
        busy = {
            it.symbol for f in self._frames for it in f if isinstance(it, SubmitOrder | CancelOrder)
        }
        busy |= set(self.guard.deferred)
        if self._frames:
            bot, rows = self._bot(), {r.client_id: r.status for r in self.store.orders()}
            waiting = {c.client_id for cmds in self.guard.deferred.values() for c in cmds}
            self._frames[0][:] = [
                it
                for it in self._frames[0]
                if not isinstance(it, SubmitOrder)
                or (
                    it.client_id in bot.orders
                    and it.client_id not in waiting
                    and rows.get(it.client_id, "intent") == "intent"
                )
            ]
            self.continuing = {
                it.client_id: it.symbol for it in self._frames[0] if isinstance(it, SubmitOrder)
            }
        p = self.protector
        self.unplaced, self.replacing = {}, []
        for sym, st in list(p.stops.items()) if p is not None else []:
            if st.status == "placing" and not self._exchange_knows(st.client_id):
                self.unplaced[sym] = st.client_id  # placed right after the start-up
                self.continuing[st.client_id] = sym
            elif st.status == "cancelling" and sym not in busy:  # following its position:
                # the cancel at start-up, its successor after it
                self.replacing.append(sym)
                self.continuing[st.client_id] = sym
        await super().reconcile(recovering)

    async def carry_on(self) -> None:
        """After the start-up: a stop placement cut off by the kill, then the outbox.

        A stop the killed run was cancelling is followed by its successor here, not in the
        start-up (which meets no faults): the same request, at the same market moment,
        meets the same faults as in the uninterrupted run, and takes the same client id.
        """
        await self._place_again()
        replacing, self.replacing = self.replacing, []
        for sym in replacing:
            await self.guard.protect(sym)
        if self._frames:
            await self._drain(self._frames[0])
        self._frames, self.continuing = [], {}

    async def _place_again(self) -> None:
        """Send the stop placements the killed run had committed and not sent yet.

        First, as the killed run did, under the same client id (the start-up left the
        position alone): the same request, at the same market moment, meets the same faults.
        """
        p, self.unplaced, unplaced = self.protector, {}, self.unplaced
        for sym, cid in unplaced.items():
            st = p.stops.get(sym) if p is not None else None
            if p is None or st is None or st.client_id != cid or st.status != "placing":
                continue
            del p.stops[sym]
            p.seq[st.position_id] -= 1
            await self.guard.protect(sym)
