"""Shadow outcomes: what each blocked 1+1 signal would have made, with no money.

A 1+1 signal that a filter blocks opens a shadow position: entered at the signal candle's
close plus slippage (rounded up to the price tick), sized at the bot's stake as if the
money were there, exited by the same ladder (``decisions.ladder``) played over each later
candle as the backtest plays a real position (open, low, high, close, each swept from the
one before), every fill net of fees and slippage. When it ends, its net PnL is credited
to every filter that blocked it. At most one shadow is open per symbol: a blocked signal
on a symbol whose shadow is still open is counted as blocked and opens nothing.

Pure: no I/O, no clock; it never touches the bot's positions, balances or counters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from optiflow.decisions import ladder
from optiflow.decisions.ladder import LadderParams
from optiflow.domain.market import MarketLimits
from optiflow.domain.results import ShadowResult
from optiflow.portfolio.position import Position, evolve, exit_fee_share, net_pnl, round_step

__all__ = ["FilterOutcome", "Shadow", "ShadowBook", "ShadowResult", "SignalBatch"]

TOP_KEEP = 10  # the biggest missed winners kept for reports
Signal = tuple[int, str, tuple[str, ...], Decimal, float]  # now, symbol, reasons, stake, price


@dataclass(slots=True)
class Shadow:
    """An open shadow position."""

    pos: Position
    reasons: tuple[str, ...]
    pnl: Decimal = Decimal(0)
    exits: list[tuple[str, Decimal, Decimal]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class SignalBatch:
    """Blocked signals handed over at once (a lazy book's feed applies them in bulk):
    candidate j is ``symbols[sym_idx[j]]`` closing at ``nows[j]``, blocked by each reason
    ``reasons[k]`` whose mask ``masks[k]`` is None (blocks all) or true at j."""

    symbols: tuple[str, ...]
    sym_idx: Any  # numpy int array
    nows: Any  # numpy int array
    reasons: tuple[str, ...]
    masks: tuple[Any, ...]  # numpy bool arrays or None
    stake: Decimal

    def signals(self) -> list[tuple[int, str, tuple[str, ...], Decimal, float]]:
        """One ``ShadowBook.pending`` tuple per candidate (price 0: read from the candles)."""
        cols = [None if m is None else m.tolist() for m in self.masks]
        pairs = zip(self.sym_idx.tolist(), self.nows.tolist(), strict=True)
        return [
            (
                int(now),
                self.symbols[si],
                tuple(r for r, m in zip(self.reasons, cols, strict=True) if m is None or m[j]),
                self.stake,
                0.0,
            )
            for j, (si, now) in enumerate(pairs)
        ]


@dataclass(slots=True)
class FilterOutcome:
    """Per filter: signals blocked, and the shadows credited to it."""

    blocked: int = 0
    wins: int = 0
    losses: int = 0
    net_pnl: Decimal = Decimal(0)


def tick_round(price: Decimal, tick: Decimal, up: bool) -> Decimal:
    """Round a price to the tick (up for buys, down for sells), as the exchange model does."""
    if tick <= 0:
        return price
    steps = (price / tick).to_integral_value(rounding=ROUND_CEILING if up else ROUND_FLOOR)
    return steps * tick


class ShadowBook:
    """Open shadows per symbol, the per-filter tally and the finished shadows."""

    def __init__(
        self,
        params: LadderParams,
        limits: dict[str, MarketLimits],
        fee_rate: Decimal,
        slippage_rate: Decimal,
    ) -> None:
        """An empty book for one bot's exit settings and markets."""
        self.p, self.limits = params, limits
        self.fee_rate, self.slippage_rate = fee_rate, slippage_rate
        self.open: dict[str, Shadow] = {}
        self.outcomes: dict[str, FilterOutcome] = {}
        self.top: list[ShadowResult] = []  # the biggest winners, best first
        self.finished: list[ShadowResult] = []  # drained by runtimes that store them
        self.keep_finished = True
        self.seq = 0
        # lazy mode (bar-loop runtimes): signals wait here, in order, for ``apply``
        self.lazy = False
        self.pending: list[Signal | SignalBatch] = []
        self._bands: dict[str, tuple[float, float, int | None]] = {}  # symbol -> trigger band

    # ---- signals -------------------------------------------------------------------
    def block(
        self, sym: str, now: int, reasons: tuple[str, ...], stake: Decimal, price: float
    ) -> None:
        """A 1+1 signal of ``sym`` closing at ``now`` (price) was blocked by ``reasons``."""
        if self.lazy:
            self.pending.append((now, sym, reasons, stake, price))
        else:
            self.apply(sym, now, reasons, stake, price)

    def block_batch(self, batch: SignalBatch) -> None:
        """``block`` for a batch of signals, in their order."""
        if self.lazy:
            self.pending.append(batch)
        else:
            for now, sym, reasons, stake, price in batch.signals():
                self.apply(sym, now, reasons, stake, price)

    def pending_signals(self) -> list[Signal]:
        """The signals waiting for ``apply`` (lazy mode), one tuple each, in order."""
        out: list[Signal] = []
        for p in self.pending:
            if isinstance(p, SignalBatch):
                out += p.signals()
            else:
                out.append(p)
        return out

    def apply(
        self, sym: str, now: int, reasons: tuple[str, ...], stake: Decimal, price: float
    ) -> None:
        """Count the blocked signal; open its shadow unless one is open on ``sym``."""
        for r in reasons:
            self.outcomes.setdefault(r, FilterOutcome()).blocked += 1
        self.open_shadow(sym, now, reasons, stake, price)

    def tally(self, reason: str, n: int) -> None:
        """Count ``n`` signals blocked by ``reason`` (a batch of ``apply``'s counting)."""
        if n:
            self.outcomes.setdefault(reason, FilterOutcome()).blocked += n

    def open_shadow(
        self, sym: str, now: int, reasons: tuple[str, ...], stake: Decimal, price: float
    ) -> None:
        """Open the shadow of a counted blocked signal unless one is open on ``sym``."""
        if sym in self.open or price <= 0:
            return
        lim = self.limits[sym]
        ref = Decimal(repr(float(price)))
        qty = round_step(stake / ref, lim.amount_step)
        if qty <= 0:
            return  # the stake buys not even one lot: nothing to shadow
        px = tick_round(ref + ref * self.slippage_rate, lim.price_tick, True)
        fee = qty * px * self.fee_rate
        levels = ladder.make_levels(float(px), float(qty), now, self.p, lim.price_tick)
        self.seq += 1
        pos = Position(
            position_id=f"shadow-{self.seq:06d}",
            symbol=sym,
            ts_entry=now,
            entry_price=px,
            qty0=qty,
            qty=qty,
            entry_fee=fee,
            levels=levels,
            steps_fired=(False,) * len(levels.steps),
            stop=levels.sl,
        )
        self.open[sym] = Shadow(pos, reasons)

    # ---- prices --------------------------------------------------------------------
    def on_price(self, sym: str, ts: int, price: float, swept: float | None) -> None:
        """Show ``sym``'s shadow one price (swept continuously from ``swept`` if given)."""
        sh = self.open.get(sym)
        if sh is None:
            return
        band = self._bands.get(sym)  # as Bot._on_price: inside the band the ladder cannot act
        if band is None or band[2] is not None and ts >= band[2]:
            band = self._bands[sym] = ladder.triggers(sh.pos, ts)
        if band[0] < price < band[1] and (band[2] is None or ts < band[2]):
            return
        lim = self.limits[sym]
        pos, decisions = ladder.evaluate_sweep(
            sh.pos, price, ts, swept, self.p, lim.amount_step
        )
        for d in decisions:
            pos = self._fill(sh, pos, d.reason, d.qty, d.ref_price, lim)
        if pos is not sh.pos:
            self._bands.pop(sym, None)
        sh.pos = pos
        if decisions and pos.qty < lim.amount_step:
            self._end(sym, sh, ts)

    def play_candle(
        self, sym: str, ts0: int, tf: int, o: float, h: float, lo: float, c: float
    ) -> None:
        """Play one traded candle as the backtest plays it: open, low, high, close."""
        if sym not in self.open:
            return
        band = self._bands.get(sym)  # kept by ``on_price``: valid for any time before band[2]
        if (
            band is not None
            and (band[2] is None or ts0 + tf - 1 < band[2])
            and band[0] < o < band[1]
            and band[0] < lo < band[1]
            and band[0] < h < band[1]
            and band[0] < c < band[1]
        ):
            return  # each of the four prices would return at ``on_price``'s band test
        offsets = (0, tf // 4, tf // 2, tf - 1)
        prices = (o, lo, h, c)
        for k in range(4):
            if sym not in self.open:
                return
            self.on_price(sym, ts0 + offsets[k], prices[k], None if k == 0 else prices[k - 1])

    def close_all(self, ts: int, prices: dict[str, float], reason: str) -> None:
        """Close every open shadow at ``prices`` (e.g. the last close at the end of data)."""
        for sym in sorted(self.open):
            sh = self.open[sym]
            price = prices.get(sym)
            if price is None:
                continue
            lim = self.limits[sym]
            qty = sh.pos.qty
            sh.pos = self._fill(sh, sh.pos, reason, qty, price, lim)
            self._end(sym, sh, ts)

    def _fill(
        self, sh: Shadow, pos: Position, reason: str, qty: Decimal, ref: float, lim: MarketLimits
    ) -> Position:
        """Book one exit of ``qty`` at ``ref`` minus slippage, net of fees."""
        r = Decimal(repr(float(ref)))
        px = tick_round(r - r * self.slippage_rate, lim.price_tick, False)
        fee = qty * px * self.fee_rate
        pnl = net_pnl(pos.entry_price, px, qty, exit_fee_share(pos, qty) + fee)
        sh.pnl += pnl
        sh.exits.append((reason, qty, px))
        return evolve(pos, qty=pos.qty - qty, pending_exit=max(Decimal(0), pos.pending_exit - qty))

    def _end(self, sym: str, sh: Shadow, ts: int) -> None:
        """Credit a finished shadow to the filters that blocked it."""
        del self.open[sym]
        self._bands.pop(sym, None)
        res = ShadowResult(
            symbol=sym,
            ts_signal=sh.pos.ts_entry,
            ts_exit=ts,
            reasons=sh.reasons,
            entry_price=sh.pos.entry_price,
            qty=sh.pos.qty0,
            net_pnl=sh.pnl,
            exit_reason=sh.exits[-1][0],
            exits=tuple(sh.exits),
        )
        for r in sh.reasons:
            out = self.outcomes.setdefault(r, FilterOutcome())
            if res.net_pnl > 0:
                out.wins += 1
            else:
                out.losses += 1
            out.net_pnl += res.net_pnl
        if res.net_pnl > 0:
            self.top.append(res)
            self.top.sort(key=lambda x: (-x.net_pnl, x.ts_signal, x.symbol))
            del self.top[TOP_KEEP:]
        if self.keep_finished:
            self.finished.append(res)

    # ---- reports and snapshots -----------------------------------------------------
    def table(self) -> dict[str, dict[str, Any]]:
        """Per filter: blocked, shadow_wins, shadow_losses, shadow_net_pnl (sorted by name)."""
        return {
            r: {
                "blocked": o.blocked,
                "shadow_wins": o.wins,
                "shadow_losses": o.losses,
                "shadow_net_pnl": o.net_pnl,
            }
            for r, o in sorted(self.outcomes.items())
        }

    def drain(self) -> list[ShadowResult]:
        """The shadows finished since the last drain (for the store)."""
        out, self.finished = self.finished, []
        return out

    def report(self) -> dict[str, Any]:
        """Per filter its tally (``table``)."""
        return dict(self.table())

    def top_missed(self) -> tuple[dict[str, Any], ...]:
        """The biggest missed winners, best first."""
        return tuple(
            {
                "symbol": r.symbol,
                "ts": r.ts_signal,
                "reasons": r.reasons,
                "entry_price": r.entry_price,
                "qty": r.qty,
                "shadow_net_pnl": r.net_pnl,
                "exit_reason": r.exit_reason,
            }
            for r in self.top
        )
