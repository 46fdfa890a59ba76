"""Screen many entry candidates at once while the bot's state cannot change.

Between two state changes (an entry, a fill, an exit) the stateful filters are pure
functions of time: capacity and balance are constant, cooldown, rate and blacklist depend
only on the candle's close time. This evaluates them for a batch of candidates exactly as
``Bot._try_enter`` would one by one, counts the rejections, and returns the first candidate
that would not be blocked, which the caller then hands to ``Bot.handle`` as usual.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from optiflow.engine.bot import Bot
from optiflow.engine.shadows import SignalBatch
from optiflow.filters.timing import MS_PER_MIN

STATEFUL_REASONS = ("capacity", "cooldown", "rate", "blacklist", "balance", "notional")

Values = tuple[tuple[str, float], ...]
# near misses of one screen: close times, symbol indexes, reasons (or one reason for all),
# candidate j, values(j); times and indexes may stay int arrays until flushed (most never are)
NearRows = tuple[
    Sequence[int] | np.ndarray,
    Sequence[int] | np.ndarray,
    Sequence[str] | str,
    Sequence[int],
    Callable[[int], Values],
]
NearBatch = NearRows | Callable[[], NearRows]  # or built when read (only the latest are)


def stateful_masks(
    bot: Bot, sym_idx: np.ndarray, nows: np.ndarray
) -> list[tuple[str, np.ndarray | None]]:
    """The reasons (``STATEFUL_REASONS`` order) blocking some of the candidates (symbol
    index, close time), each with its mask, or None when it blocks every candidate.

    Reasons that block none are left out, and cheaply: most filters block none or all.
    """
    s, syms = bot.s, bot.s.symbols
    out: list[tuple[str, np.ndarray | None]] = []
    if bot.open_count() >= s.max_positions:
        out.append(("capacity", None))
    else:
        busy = [sym in bot.positions or sym in bot.entry_orders for sym in syms]
        if any(busy):
            out.append(("capacity", np.array(busy)[sym_idx]))
    nows_f = None
    if s.cooldown_s is not None and bot.last_trade:
        nows_f = nows.astype(np.float64)
        last = np.array([float(bot.last_trade.get(sym, np.nan)) for sym in syms])[sym_idx]
        out.append(("cooldown", (nows_f - last) < s.cooldown_s * 1000))
    if s.rate_per_hour is not None and len(bot.rate.entries) >= s.rate_per_hour:
        entries = np.array(sorted(bot.rate.entries), dtype=np.int64)
        inside = len(entries) - np.searchsorted(entries, nows - 60 * MS_PER_MIN, side="right")
        out.append(("rate", inside >= s.rate_per_hour))
    if bot.blacklist.paused_until:
        nows_f = nows.astype(np.float64) if nows_f is None else nows_f
        until = np.array([float(bot.blacklist.paused_until.get(sym, -np.inf)) for sym in syms])
        out.append(("blacklist", nows_f < until[sym_idx]))
    floors = [bot.order_floor(sym) for sym in syms]
    free = bot.cash - bot.reserved
    balance = [free < f for f in floors]
    if any(balance):
        out.append(("balance", np.array(balance)[sym_idx]))
    # notional is judged only when nothing else blocks (as in Bot._try_enter); here only the
    # sure case: even the largest affordable order is under the floor, whatever the price
    cap = bot.max_order_value()
    small = [cap < f for f in floors]
    if any(small) and not any(m is None for _, m in out):
        notional = np.array(small)[sym_idx]
        for _, m in out:
            notional &= ~m  # type: ignore[operator]
        out.append(("notional", notional))
    return [(r, m) for r, m in out if m is None or m.any()]


def screen_candidates(
    bot: Bot,
    sym_idx: np.ndarray,
    nows: np.ndarray,
    values: Callable[[int], Values],
    spread_pct: float,
    near: list[NearBatch] | None = None,
) -> int:
    """Count the rejections of the leading blocked candidates; return the first unblocked one.

    ``sym_idx``/``nows`` list candidates that passed 1+1 and every market filter, in the
    order the engine would see them. ``values(j)`` gives candidate j's near-miss values.
    The (single filter) near misses go to the bot's log, or to ``near`` (see
    :func:`flush_near`) when the caller screens in time order and keeps them for later.
    """
    n = len(nows)
    if n == 0:
        return 0
    active = stateful_masks(bot, sym_idx, nows)
    if not active:
        return 0
    if any(m is None for _, m in active):
        k = n  # every candidate is blocked
    else:
        masks = [m for _, m in active if m is not None]  # (none is None here)
        any_block = masks[0] if len(masks) == 1 else np.logical_or.reduce(masks)
        k = n if any_block.all() else int(any_block.argmin())  # the first one not blocked
    if k == 0:
        return 0
    idx = sym_idx[:k]
    syms = bot.s.symbols
    nsym = len(syms)
    totals = np.bincount(idx, minlength=nsym).tolist()
    head = [(r, None if m is None else m[:k]) for r, m in active]
    if len(head) == 1:
        nblocked = None  # one reason blocks them all: each is a single-filter near miss
        singles = totals
        per_reason = [(head[0][0], totals)]
    else:
        full = [(r, np.ones(k, bool) if m is None else m) for r, m in head]
        nblocked = full[0][1].astype(np.int64)
        for _, m in full[1:]:
            nblocked += m
        singles = np.bincount(idx[nblocked == 1], minlength=nsym).tolist()
        per_reason = [
            (r, totals if m is None else np.bincount(idx[m], minlength=nsym).tolist())
            for r, m in head
        ]
    for i, sym in enumerate(syms):
        count = totals[i]
        if not count:
            continue
        c = bot.counters[sym]
        c.candles += count
        c.primary += count
        c.confirming += count
        c.passes_1plus1 += count
        for reason, counts in per_reason:
            if counts[i]:
                c.reject(reason, counts[i])
        c.near_miss_filter += singles[i]
    if bot.shadows is not None:
        _shadow_batch(bot, idx, nows[:k], head)
    keep = bot.s.near_miss_keep
    if not keep:
        return k
    if nblocked is None:  # the last ones, all blocked by the one reason
        lo = max(0, k - keep)
        if near is not None:  # array views: only the latest batches are read (flush_near)
            near.append((nows[lo:k], sym_idx[lo:k], head[0][0], range(lo, k), values))
            return k
        last = np.arange(lo, k)
        reasons = [head[0][0]] * (k - lo)
    else:
        last = np.flatnonzero(nblocked == 1)[-keep:]
        which = np.stack([m[last] for _, m in full]).argmax(axis=0).tolist()
        reasons = [full[w][0] for w in which]
    if near is not None:
        near.append((nows[last].tolist(), sym_idx[last].tolist(), reasons, last.tolist(), values))
        return k
    extra = (("spread_pct", spread_pct),)
    bot.near_misses.add_many_lazy(
        [
            (
                ts,
                syms[si],
                "filter",
                reason,
                lambda j=j: values(j) + extra,  # type: ignore[misc]
            )
            for j, ts, si, reason in zip(
                last.tolist(), nows[last].tolist(), sym_idx[last].tolist(), reasons, strict=True
            )
        ]
    )
    return k


def _shadow_batch(
    bot: Bot, idx: np.ndarray, nows: np.ndarray, head: list[tuple[str, np.ndarray | None]]
) -> None:
    """Hand the screened blocked candidates to the shadow book, each with its reasons
    (price 0: a lazy book's feed reads the close from the candles)."""
    assert bot.shadows is not None
    reasons = tuple(r for r, _ in head)
    masks = tuple(m for _, m in head)
    batch = SignalBatch(tuple(bot.s.symbols), idx, nows, reasons, masks, bot.shadow_stake())
    bot.shadows.block_batch(batch)


def screen_few(
    bot: Bot,
    sym_idx: np.ndarray,
    nows: np.ndarray,
    values: Callable[[int], Values],
    near: list[NearBatch],
) -> int:
    """:func:`screen_candidates` for a few candidates, one by one through the engine's own
    account filters (``Bot.account_blocks``): numpy costs more than it saves on 1-4 rows.

    Same counts and near misses (queued in ``near``); returns the first unblocked one.
    """
    syms, counters = bot.s.symbols, bot.counters
    cap = bot.max_order_value()  # constant: nothing changes the bot's state while screening
    shadows = bot.shadows
    stake = bot.shadow_stake() if shadows is not None else None
    ts_l: list[int] = []
    si_l: list[int] = []
    reasons: list[str] = []
    js: list[int] = []
    k = len(nows)
    for j, (si, now) in enumerate(zip(sym_idx.tolist(), nows.tolist(), strict=True)):
        sym = syms[si]
        blocked = bot.account_blocks(sym, now)
        if not blocked:
            if not cap < bot.order_floor(sym):
                k = j
                break
            blocked = ["notional"]  # the sure case: even the largest order is too small
        if shadows is not None and stake is not None:  # price 0: the lazy feed reads the close
            shadows.block(sym, now, tuple(blocked), stake, 0.0)
        c = counters[sym]
        c.candles += 1
        c.primary += 1
        c.confirming += 1
        c.passes_1plus1 += 1
        for reason in blocked:
            c.reject(reason)
        if len(blocked) == 1:
            c.near_miss_filter += 1
            ts_l.append(now)
            si_l.append(si)
            reasons.append(blocked[0])
            js.append(j)
    if js and bot.s.near_miss_keep:
        near.append((ts_l, si_l, reasons, js, values))
    return k


def flush_near(bot: Bot, near: list[NearBatch], spread_pct: float) -> None:
    """Add the latest ``near_miss_keep`` of batches screened in time order to the bot's log.

    Exact: the log keeps the latest ones of each kind, and these are all "filter" misses
    in time order, so an earlier one can never outrank the last ``keep`` of them.
    """
    keep, syms = bot.s.near_miss_keep, bot.s.symbols
    extra = (("spread_pct", spread_pct),)
    items: list[tuple[int, str, str, str, Values | Callable[[], Values]]] = []
    for batch in reversed(near):
        need = keep - len(items)
        if need <= 0:
            break
        nows, sym_idx, reasons, js, values = batch() if callable(batch) else batch
        n = min(need, len(js))  # only the batch's last ones can be kept
        nows_l = nows[-n:].tolist() if isinstance(nows, np.ndarray) else list(nows[-n:])
        si_l = sym_idx[-n:].tolist() if isinstance(sym_idx, np.ndarray) else list(sym_idx[-n:])
        why = [reasons] * n if isinstance(reasons, str) else list(reasons[-n:])
        for ts, si, reason, j in zip(
            reversed(nows_l), reversed(si_l), reversed(why), reversed(js[-n:]), strict=True
        ):
            items.append((ts, syms[si], "filter", reason, _later(values, j, extra)))
    near.clear()
    bot.near_misses.add_many_lazy(items[::-1])


def _later(values: Callable[[int], Values], j: int, extra: Values) -> Callable[[], Values]:
    """Candidate ``j``'s near-miss values, computed only if the near miss is kept."""
    return lambda: values(j) + extra
