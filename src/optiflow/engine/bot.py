"""The trading engine: ``Bot.handle(event) -> commands``; time comes only from events.

One engine for every mode: backtest, replay, paper and live feed it the same events and
carry out the commands it returns. It never does I/O and never reads the clock.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from functools import partial

from optiflow.decisions import ladder
from optiflow.decisions.sizing import order_qty
from optiflow.domain.events import (
    CandleClosed,
    Command,
    Event,
    LazyNotify,
    Notify,
    OrderFilled,
    OrderRejected,
    PositionReconciled,
    PriceTicked,
    ProtectiveStopFilled,
    StopRequested,
    SubmitOrder,
)
from optiflow.domain.market import MarketLimits
from optiflow.domain.records import builder
from optiflow.domain.results import ExitRow, NearMiss
from optiflow.engine.entry_note import entry_text
from optiflow.engine.exit_book import ExitBook
from optiflow.engine.settings import EngineSettings
from optiflow.engine.shadows import ShadowBook
from optiflow.execution.orders import OrderRecord, OrderStatus
from optiflow.filters import account, timing
from optiflow.filters.market import MARKET_REASONS, market_blocks
from optiflow.portfolio.position import Position, build_position, evolve
from optiflow.portfolio.stats import NearMissLog, SymbolCounters
from optiflow.signals.catalogue import signal_values
from optiflow.signals.oneplusone import combo, fired_names

_ZERO = Decimal(0)
_order = builder(OrderRecord)  # OrderRecord(...) / SubmitOrder(...) at half the cost,
_submit = builder(SubmitOrder)  # every field in order (domain/records.py)


class Bot(ExitBook):
    """One bot's trading state machine (its exit side is ``ExitBook``)."""

    def __init__(self, settings: EngineSettings, limits: Mapping[str, MarketLimits]) -> None:
        """Start flat with the configured balance."""
        self.s = settings
        self.limits = dict(limits)
        self.cash = settings.starting_balance
        self.reserved = Decimal(0)
        # constants of the settings and limits (both fixed for a bot's life), kept once
        # because the entry screen asks for them on every candidate
        self._cost_rate = settings.fee_rate + settings.slippage_rate + Decimal("0.005")
        self._cost_div = 1 + self._cost_rate
        self._reserve_rate = 1 + settings.fee_rate + settings.slippage_rate
        self._fraction = (
            None if settings.stake_fraction is None else Decimal(str(settings.stake_fraction))
        )
        self._floors = {
            sym: max(settings.min_order_usdt, lim.min_notional) for sym, lim in self.limits.items()
        }
        self.positions: dict[str, Position] = {}
        self.entry_orders: dict[str, str] = {}  # symbol -> client id of a pending entry
        self.orders: dict[str, OrderRecord] = {}
        self.seq = 0
        self.exit_seq: dict[str, int] = {}
        self.last_trade: dict[str, int] = {}
        self.rate = timing.RateLimit(settings.rate_per_hour)
        self.blacklist = timing.Blacklist(
            settings.blacklist_sl, settings.blacklist_window_min, settings.blacklist_pause_min
        )
        self.counters = {sym: SymbolCounters() for sym in settings.symbols}
        self.near_misses = NearMissLog(
            settings.near_miss_keep, {sym: i for i, sym in enumerate(settings.symbols)}
        )
        self.exits: list[ExitRow] = []
        self.equity_points: list[tuple[int, Decimal]] = []
        self.positions_opened = 0
        self._bands: dict[str, tuple[float, float, int | None]] = {}
        # position id -> (exits refused in a row, no new exit decision before this time)
        self.exit_block: dict[str, tuple[int, int]] = {}
        # (symbol, close time, primary, confirming, blocked reasons, features): every entry
        # decision, for per-symbol DEBUG logs; None (backtests) records nothing
        self.trace: list[tuple[str, int, bool, bool, tuple[str, ...], CandleClosed]] | None = None
        # shadow outcomes of blocked signals (engine/shadows.py); never read by trading
        self.shadows = (
            ShadowBook(settings.ladder, self.limits, settings.fee_rate, settings.slippage_rate)
            if settings.shadows
            else None
        )
        # the class's functions, not bound methods: a bound method held by the bot would
        # make a reference cycle, and a finished bot wait for the cyclic collector
        cls = type(self)
        self._handlers: dict[type, Callable[..., list[Command]]] = {
            CandleClosed: cls._on_candle,
            PriceTicked: cls._on_price,
            OrderFilled: cls._on_fill,
            OrderRejected: cls._on_reject,
            StopRequested: cls._on_stop,
            ProtectiveStopFilled: cls._on_protective_stop,
            PositionReconciled: cls._on_reconciled,
        }

    # ---- queries (no state change) -------------------------------------------------
    def open_count(self) -> int:
        """Positions open or being opened."""
        return len(self.positions) + len(self.entry_orders)

    def rescan_idle(self, symbol: str) -> bool:
        """True when a rescan of ``symbol``'s candle would return nothing and change nothing:
        capacity blocks it, no pause can lift (announced), no decision is traced."""
        busy = symbol in self.positions or symbol in self.entry_orders
        return (
            (busy or len(self.positions) + len(self.entry_orders) >= self.s.max_positions)
            and not self.blacklist.paused_until
            and self.trace is None
        )

    def rescan_blocked(self, symbol: str, now: int) -> bool:
        """True when a rescan of ``symbol``'s candle closing at ``now`` would return nothing
        and change nothing: an account filter blocks it, no pause can lift, none is traced."""
        return (
            not self.blacklist.paused_until
            and self.trace is None
            and bool(self.account_blocks(symbol, now))
        )

    def triggers(self, symbol: str, now: int) -> tuple[float, float, int | None] | None:
        """Price band and deadline outside of which the exit ladder may act (None: flat)."""
        pos = self.positions.get(symbol)
        return None if pos is None else ladder.triggers(pos, now)

    def has_pending_entry(self, symbol: str) -> bool:
        """True while an entry order of ``symbol`` waits for its fill."""
        return symbol in self.entry_orders

    @property
    def entry_cost_rate(self) -> Decimal:
        """Fee + slippage + a 0.5 % price buffer reserved on top of an entry's notional."""
        return self._cost_rate

    def max_order_value(self) -> Decimal:
        """The largest entry notional sizing can produce now (stake capped by free balance)."""
        stake = self.s.stake_usdt
        if stake is None:
            assert self._fraction is not None  # the config requires one of the two
            stake = self.realized_equity() * self._fraction
        return min(stake, (self.cash - self.reserved) / self._cost_div)

    # ---- events --------------------------------------------------------------------
    def handle(self, event: Event) -> list[Command]:
        """React to one event; returns the commands to carry out, in order."""
        return self._handlers[type(event)](self, event)

    def _on_candle(self, ev: CandleClosed) -> list[Command]:
        f, sym = ev.features, ev.symbol
        now = int(f.ts) + self.s.timeframe_ms
        names = fired_names(self.s.signals, f, ev.ob_imbalance)  # each signal once
        tradeable = f.tradeable > 0.5
        prim, conf = tradeable and bool(names[0]), tradeable and bool(names[1])
        c = self.counters[sym]
        if not ev.rescan:
            c.candles += 1
            c.primary += bool(prim)
            c.confirming += bool(conf)
        if not (prim and conf):
            if not ev.rescan and (prim or conf):
                c.near_miss_one_group += 1
                self.near_misses.add_lazy(
                    now,
                    sym,
                    "one_group",
                    "no_confirming" if prim else "no_primary",
                    lambda: signal_values(f) + (("spread_pct", ev.spread_pct),),
                )
            if self.trace is not None:
                self.trace.append((sym, now, bool(prim), bool(conf), (), ev))
            return []
        if not ev.rescan:
            c.passes_1plus1 += 1
        blocked = [
            r
            for r, b in zip(
                MARKET_REASONS,
                market_blocks(f, ev.spread_pct, self.s.market_filters),
                strict=True,
            )
            if b
        ]
        if blocked:
            if not ev.rescan:
                self._count_rejections(sym, now, blocked, ev)
            if self.trace is not None:
                self.trace.append((sym, now, True, True, tuple(blocked), ev))
            return []
        return self._try_enter(ev, now, names)

    def _count_rejections(self, sym: str, now: int, blocked: list[str], ev: CandleClosed) -> None:
        c = self.counters[sym]
        for reason in blocked:
            c.reject(reason)
        if self.shadows is not None:
            price = float(ev.features.close)
            self.shadows.block(sym, now, tuple(blocked), self.shadow_stake(), price)
        if len(blocked) == 1:
            c.near_miss_filter += 1
            self.near_misses.add(
                NearMiss(
                    now,
                    sym,
                    "filter",
                    blocked[0],
                    signal_values(ev.features) + (("spread_pct", ev.spread_pct),),
                )
            )

    def shadow_stake(self) -> Decimal:
        """The stake a shadow is sized at: the sizing's, as if the money were there."""
        s = self.s
        if s.stake_usdt is not None:
            return s.stake_usdt
        assert self._fraction is not None
        return self.realized_equity() * self._fraction

    def order_floor(self, sym: str) -> Decimal:
        """The smallest order notional allowed on ``sym`` (config floor and exchange minimum)."""
        return self._floors[sym]

    def account_blocks(self, sym: str, now: int) -> list[str]:
        """Account filters blocking an entry on ``sym`` at ``now`` (notional aside), in order."""
        s = self.s
        blocked: list[str] = []
        positions, pending = self.positions, self.entry_orders
        if account.capacity_blocks(
            len(positions) + len(pending), s.max_positions, sym in positions or sym in pending
        ):
            blocked.append("capacity")
        if s.cooldown_s is not None and timing.cooldown_blocks(
            now, self.last_trade.get(sym), s.cooldown_s
        ):
            blocked.append("cooldown")
        if self.rate.max_per_hour is not None and self.rate.blocks(now):
            blocked.append("rate")
        if self.blacklist.paused_until and self.blacklist.blocks(sym, now):
            blocked.append("blacklist")
        if account.balance_blocks(self.cash - self.reserved, self._floors[sym]):
            blocked.append("balance")
        return blocked

    def _try_enter(
        self, ev: CandleClosed, now: int, names: tuple[list[str], list[str]]
    ) -> list[Command]:
        sym, s = ev.symbol, self.s
        out: list[Command] = []
        if self.blacklist.paused_until and self.blacklist.lifted(sym, now):
            out.append(Notify("blacklist_off", sym, f"{sym} blacklist lifted", now))
        blocked = self.account_blocks(sym, now)
        limits = self.limits[sym]
        floor = self._floors[sym]
        free = self.cash - self.reserved
        qty = price = _ZERO
        if not blocked:  # the order size exists only for an order that would be placed
            price = Decimal(repr(float(ev.features.close)))
            qty = order_qty(
                stake_usdt=s.stake_usdt,
                stake_fraction=s.stake_fraction,
                equity=self.realized_equity() if s.stake_usdt is None else _ZERO,
                free_quote=free,
                price=price,
                cost_rate=self._cost_rate,
                amount_step=limits.amount_step,
            )
            if account.notional_blocks(qty, price, floor, limits.min_amount):
                blocked.append("notional")
        if self.trace is not None:
            self.trace.append((sym, now, True, True, tuple(blocked), ev))
        if blocked:
            if not ev.rescan:
                self._count_rejections(sym, now, blocked, ev)
            return out
        self.seq += 1
        pid = f"{s.prefix}-{self.seq:06d}"
        cid = f"{pid}-e"
        reserve = qty * price * self._reserve_rate
        self.reserved += reserve
        signals = combo(*names)  # the combination that fired, remembered for the trades
        self.orders[cid] = _order(  # OrderRecord(...), every field in order
            cid, pid, sym, "buy", "entry", qty, _ZERO, OrderStatus.INTENT, reserve, signals
        )
        self.entry_orders[sym] = cid
        self.rate.record(now)
        self.last_trade[sym] = now
        self.counters[sym].entries += 1
        out.append(_submit(cid, sym, "buy", qty, float(ev.features.close), pid, "entry", now))
        return out

    def _on_fill(self, ev: OrderFilled) -> list[Command]:
        info = self.orders.get(ev.client_id)
        if info is None:
            return [
                Notify("unknown_fill", ev.symbol, f"fill of unknown order {ev.client_id}", ev.ts)
            ]
        if info.completed_by(ev.qty):  # the order is gone; what is read of it below is
            done = True  # unchanged by a fill
            del self.orders[ev.client_id]
        else:
            info = info.fill(min(ev.qty, info.remaining))
            done = info.done or ev.last
            if done:
                del self.orders[ev.client_id]
            else:
                self.orders[ev.client_id] = info
        if info.side == "buy":
            return self._entry_filled(info, ev, done)
        return self._exit_filled(info, ev)

    def _entry_filled(self, info: OrderRecord, ev: OrderFilled, done: bool) -> list[Command]:
        self.cash -= ev.qty * ev.price + ev.fee
        pos = self.positions.get(ev.symbol)
        if pos is None:
            qty0, cost, fee = ev.qty, ev.qty * ev.price, ev.fee
            self.positions_opened += 1
        else:
            qty0, cost, fee = (
                pos.qty0 + ev.qty,
                pos.entry_price * pos.qty0 + ev.qty * ev.price,
                pos.entry_fee + ev.fee,
            )
        entry = cost / qty0
        ts_entry = ev.ts if pos is None else pos.ts_entry
        tick = self.limits[ev.symbol].price_tick
        levels = ladder.make_levels(float(entry), float(qty0), ts_entry, self.s.ladder, tick)
        self._bands.pop(ev.symbol, None)
        signals = info.signals or (pos.signals if pos is not None else "")
        self.positions[ev.symbol] = build_position(  # Position(...), every field in order
            info.position_id,
            ev.symbol,
            ts_entry,
            entry,  # entry_price
            qty0,
            qty0,  # qty
            fee,  # entry_fee
            levels,
            _ZERO,  # pending_exit
            False,  # tp1_hit
            (False,) * len(levels.steps),  # steps_fired
            levels.sl,  # stop
            False,  # stop_is_breakeven
            signals,
        )
        if done:
            self.reserved -= info.reserved
            self.entry_orders.pop(ev.symbol, None)
        text = partial(entry_text, ev.symbol, ev.qty, ev.price, levels, signals)
        return [LazyNotify("entry", ev.symbol, text, ev.ts)]  # formatted when read

    def _on_reject(self, ev: OrderRejected) -> list[Command]:
        info = self.orders.pop(ev.client_id, None)
        if info is None:
            return []
        out: list[Command] = []
        if info.side == "buy":
            self.reserved -= info.reserved
            self.entry_orders.pop(ev.symbol, None)
        else:
            pos = self.positions.get(ev.symbol)
            if pos is not None and pos.position_id == info.position_id:
                self._bands.pop(ev.symbol, None)
                left = max(Decimal(0), pos.pending_exit - (info.qty - info.filled))
                self.positions[ev.symbol] = evolve(pos, pending_exit=left)
                if ev.refused:
                    return self._exit_refused(pos, info, ev)
        return out + [
            Notify(
                "order_rejected",
                ev.symbol,
                f"{info.reason} order {ev.client_id} rejected: {ev.reason}",
                ev.ts,
            )
        ]
