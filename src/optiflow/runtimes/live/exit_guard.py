"""The one owner of everything that sells a position: its exchange stop and its exit orders.

Rules it keeps, by construction rather than by care in several places:

* an exit is sent only when the position's exchange stop is settled (cancelled with a known
  result); while the stop's state is unknown the exit waits (``deferred``, persisted) and
  the engine keeps the quantity pending, so it decides nothing twice;
* an exit whose outcome is unknown blocks every new exit and stop of its position until a
  lookup answers (the executor keeps it ``unknown`` and polls it);
* a stop fill is booked in the same commit that drops the stop (events are fed at once);
* an exit refused for lack of funds triggers a check of what the exchange really holds
  (``backing``): a position it no longer backs is closed in the books, never re-sold.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from decimal import Decimal
from typing import Any

from optiflow.domain.events import Event, Notify, OrderRejected, SubmitOrder
from optiflow.engine.bot import Bot
from optiflow.ports.exchange import ExchangeGateway
from optiflow.ports.store import FillRow, OrderRow, Store
from optiflow.runtimes.live.backing import reconcile_position
from optiflow.runtimes.live.executor import Executor
from optiflow.runtimes.live.protection import Protector

log = logging.getLogger("optiflow.exits")
D0 = Decimal(0)
Feed = Callable[[Event], Awaitable[None]]


class ExitGuard:
    """Sells positions safely: stop first, exit after, unknowns waited out."""

    def __init__(
        self,
        *,
        executor: Executor,
        protector: Protector | None,
        gateway: ExchangeGateway,
        store: Store,
        bot: Callable[[], Bot],
        feed: Feed,
        tell: Callable[[Notify], None],
        now_ms: Callable[[], int],
        price: Callable[[str], Decimal | None],
        spot: bool = True,
    ) -> None:
        """Wire the executor and (live) the protector; ``feed`` hands events to the engine."""
        self.executor, self.protector, self.gateway = executor, protector, gateway
        self.store, self.bot, self.feed, self.tell, self.now_ms = store, bot, feed, tell, now_ms
        self.price, self.spot = price, spot
        self.deferred: dict[str, list[SubmitOrder]] = {}
        # how waiting exits are sent when they may go (a rehearsal routes them through its
        # outbox, all of a pair's at once, so a kill meanwhile loses none of them)
        self.resend: Callable[[list[SubmitOrder]], Awaitable[None]] = self.sell_all
        self.pending_fills: list[FillRow] = []  # fills found in the trade history
        self._told: set[str] = set()

    def drain(self) -> tuple[list[OrderRow], list[FillRow]]:
        """Rows and fills to commit with the engine state that booked them."""
        rows, fills = self.protector.drain() if self.protector is not None else ([], [])
        fills = fills + self.pending_fills
        self.pending_fills = []
        return rows, fills

    def held(self, symbol: str) -> Decimal:
        """Coins of this position locked in its own open orders (exits and the stop)."""
        pos = self.bot().positions.get(symbol)
        if pos is None:
            return Decimal(0)
        held = self.executor.open_sells(pos.position_id)
        if self.protector is not None:
            st = self.protector.stops.get(symbol)
            if st is not None and st.status == "open" and st.position_id == pos.position_id:
                held += st.qty
        return held

    # ---- persistence ------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """Deferred exits as JSON-able data (the engine holds their quantity pending)."""
        return {
            s: [{**asdict(c), "qty": str(c.qty)} for c in cmds] for s, cmds in self.deferred.items()
        }

    def restore(self, snap: dict[str, Any]) -> None:
        """Inverse of ``snapshot``."""
        self.deferred = {
            s: [SubmitOrder(**{**c, "qty": Decimal(c["qty"])}) for c in cmds]
            for s, cmds in snap.items()
        }

    # ---- selling ----------------------------------------------------------------------
    def blocked(self, symbol: str, position_id: str) -> bool:
        """True while an exit of this position must wait (stop or earlier exit unknown)."""
        return (
            bool(self.deferred.get(symbol))
            or position_id in self.executor.unknown_positions()
            or (self.protector is not None and self.protector.uncertain(symbol))
        )

    async def sell(self, cmd: SubmitOrder) -> None:
        """Carry out one exit decision of the engine."""
        if self.blocked(cmd.symbol, cmd.position_id) and not self._can_settle(cmd.symbol):
            self._defer(cmd)
            return
        if self.protector is not None:
            settled, events = await self.protector.release(self.bot(), cmd.symbol)
            for ev in events:
                await self.feed(ev)
            if not settled:
                self._defer(cmd)
                return
            pos = self.bot().positions.get(cmd.symbol)
            if pos is None or pos.position_id != cmd.position_id or events:
                # the stop closed it, or part of it: the engine decides again on what is left
                await self.feed(
                    OrderRejected(
                        cmd.client_id, cmd.symbol, "position already closed by its stop", cmd.ts
                    )
                )
                await self.protect(cmd.symbol)
                return
        if cmd.position_id in self.executor.unknown_positions():
            self._defer(cmd)
            return
        events = await self.executor.submit(cmd)
        for ev in events:
            await self.feed(ev)
        if any(
            isinstance(ev, OrderRejected) and ev.refused and "insufficient" in ev.reason.lower()
            for ev in events
        ):
            await self.check_backing(cmd.symbol, "an exit was refused for lack of funds")
        await self.protect(cmd.symbol)

    async def sell_all(self, cmds: list[SubmitOrder]) -> None:
        """Carry out exit decisions in order."""
        for cmd in cmds:
            await self.sell(cmd)

    def _can_settle(self, symbol: str) -> bool:
        """Only an uncertain stop (no deferred exit, no unknown exit) is worth a try now."""
        pos = self.bot().positions.get(symbol)
        return (
            not self.deferred.get(symbol)
            and pos is not None
            and pos.position_id not in self.executor.unknown_positions()
        )

    def _defer(self, cmd: SubmitOrder) -> None:
        self.deferred.setdefault(cmd.symbol, []).append(cmd)
        log.warning(
            "%s: exit %s waits for the stop/exit state to be known", cmd.symbol, cmd.client_id
        )
        if cmd.position_id not in self._told:
            self._told.add(cmd.position_id)
            self.tell(
                Notify(
                    "exit_waiting",
                    cmd.symbol,
                    f"⏳ {cmd.symbol}: {cmd.reason} exit of {cmd.position_id} waits: the "
                    "exchange has not confirmed an earlier order of this position yet; "
                    "nothing is sold twice",
                    self.now_ms(),
                )
            )

    async def protect(self, symbol: str) -> None:
        """Place or refresh the position's exchange stop unless an exit of it is unsure."""
        if self.protector is None:
            return
        executor, bot = self.executor, self.bot()
        for _ in range(3):  # a fill found on the way is booked, then the stop follows
            pos = bot.positions.get(symbol)
            busy = bool(executor.inflight)  # without orders in flight: none unknown, none held
            if pos is not None and (
                (busy and pos.position_id in executor.unknown_positions())
                or self.deferred.get(symbol)
            ):
                return
            hold = executor.open_sells(pos.position_id) if pos is not None and busy else D0
            events = await self.protector.protect(bot, symbol, hold)
            if not events:
                break
            for ev in events:
                await self.feed(ev)
        self.flush()

    async def cycle(self) -> None:
        """Each cycle: settle/check every stop, protect all, send exits that may go now.

        Every stop follows its position before any waiting exit goes out: a position that
        grew (the rest of a partial fill found by a lookup) is never left less protected
        while other exits are carried out, as a restart's start-up protects it at once.
        The cycle a restart resumes (at the same time) does not check the stops again when
        their checks were saved: the exits it carried on came after them.
        """
        p = self.protector
        if p is not None and not p.checks_done(now := self.now_ms()):
            for symbol in list(p.stops):
                for ev in await p.check(self.bot(), symbol):
                    await self.feed(ev)
            p.checked = now
        if p is not None and self.deferred:  # without, the protection below comes next
            for symbol in sorted(self.bot().positions):
                await self.protect(symbol)
        for symbol in list(self.deferred):
            cmds = self.deferred.get(symbol, [])
            if not cmds:
                self.deferred.pop(symbol, None)
                continue
            pid = cmds[0].position_id
            if pid in self.executor.unknown_positions() or (
                self.protector is not None and self.protector.uncertain(symbol)
            ):
                continue
            del self.deferred[symbol]
            self._told.discard(pid)
            await self.resend(cmds)
        for symbol in sorted(self.bot().positions):
            await self.protect(symbol)
        self.flush()

    async def check_backing(self, symbol: str, why: str) -> None:
        """Book what the exchange did for this position; close what it no longer backs.

        Nothing is concluded while an order of the position (its stop or an exit) has no
        known outcome: the coins may be locked in it or already sold by it.
        """
        pos = self.bot().positions.get(symbol)
        if pos is None or self.blocked(symbol, pos.position_id):
            return
        if self.protector is not None:
            self.protector.save_pending()  # before the lookups below
        await reconcile_position(
            bot=self.bot(),
            symbol=symbol,
            gateway=self.gateway,
            store=self.store,
            fills=self.pending_fills,
            held_by_orders=self.held,
            price=self.price(symbol),
            spot=self.spot,
            now_ms=self.now_ms(),
            why=why,
            feed=self.feed,
            unsaved=self.executor.pending_fills
            + (self.protector.pending_fills if self.protector is not None else []),
        )

    def flush(self) -> None:
        """Hand the protector's warnings to the notifier."""
        if self.protector is not None:
            for note in self.protector.warnings:
                self.tell(note)
            self.protector.warnings.clear()
