"""The fast feed's shortcuts (capacity-only screens, no prices before the next position
event) give exactly what the general screen and the every-candle feed give."""

from __future__ import annotations

import copy
import random
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from optiflow.config.loader import load_config
from optiflow.domain.market import Features
from optiflow.engine.bot import Bot
from optiflow.engine.screen import NearBatch, flush_near
from optiflow.interfaces.cli.timeparse import parse_when
from optiflow.marketdata.loaders import load_folder
from optiflow.runtimes.fast_screen import _FLUSH, Candidates, _screen
from optiflow.runtimes.threshold_screen import screen_thresholds, settle_thresholds
from optiflow.signals.catalogue import signal_values
from tests.engine.screen_support import random_bot
from tests.runtimes.runs_support import assert_feeds_equal

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "data" / "binance_spot_1m"
MIN = 60_000
T0 = 1_680_000_000_000
SPREAD = 0.0

CASH = ("1000000000", "400", "140", "60", "50.1", "40", "5")


def features(ts: int) -> Features:
    """Any candle's features (only the near-miss values read them)."""
    return Features(ts, 100.0, 99.0, 5.0, 101.0, 100.0, 100.5, 100.0, 60.0, 0.1, 0.05,
                    1.0, 1.0, 4.0, 99.0, 99.0, 99.0, 1.0)  # fmt: skip


Values = Callable[[int], tuple[tuple[str, float], ...]]


def random_candidates(
    rng: random.Random, bot: Bot, n: int, most_bars: int
) -> tuple[Candidates, Values, np.ndarray, np.ndarray]:
    """``n`` random candidates (bar by bar, up to ``most_bars`` bars apart): the candidates,
    their values, their symbol indexes and their times."""
    sym = np.array([rng.randrange(len(bot.s.symbols)) for _ in range(n)], dtype=np.int64)
    bar = np.array(np.cumsum([rng.randint(0, most_bars) for _ in range(n)]), dtype=np.int64)
    order = np.lexsort((sym, bar))
    sym, bar = sym[order], bar[order]
    now = T0 + bar * MIN
    cands = Candidates(bot, int(bar[-1]) + 1, bar, sym, np.arange(n, dtype=np.int64), now)

    def values(j: int) -> tuple[tuple[str, float], ...]:
        return signal_values(features(int(now[j]) - MIN))

    return cands, values, sym, now


def assert_same_counts(
    cands: Candidates,
    bot: Bot,
    general: Bot,
    near_fast: list[NearBatch],
    near_general: list[NearBatch],
) -> None:
    """Once ``cands`` has settled its counts and both queues are flushed, ``bot`` keeps the
    counters and near misses ``general`` keeps."""
    cands.settle(bot)
    assert not cands.tally.screens and not cands.spans[0]
    flush_near(bot, near_fast, SPREAD)
    flush_near(general, near_general, SPREAD)
    assert {s: c.frozen() for s, c in bot.counters.items()} == {
        s: c.frozen() for s, c in general.counters.items()
    }
    assert bot.near_misses.latest() == general.near_misses.latest()


@pytest.mark.parametrize("name", ["reference_ema_rsi.json", "runtime_config_optiscalpA.json"])
@pytest.mark.parametrize("seed", range(150))
def test_capacity_shortcut_counts_like_the_general_screen(name: str, seed: int) -> None:
    """Same first unblocked candidate, counters and kept near misses, whatever the state."""
    rng = random.Random(seed)
    bot = random_bot(rng, name, busy=None, traded=0.3, paused=0.2, cash=CASH, shadows=False)
    n = rng.randint(1, 300)
    cands, values, sym, now = random_candidates(rng, bot, n, 3)

    start = rng.randint(0, n - 1)
    stop = rng.randint(start, n)
    general = copy.deepcopy(bot)
    near_fast: list[NearBatch] = []
    near_general: list[NearBatch] = []
    k = cands.screen(bot, start, stop, values, SPREAD, near_fast)
    assert _screen(general, start, stop, sym, now, values, SPREAD, near_general) == k
    assert_same_counts(cands, bot, general, near_fast, near_general)


SHADOWLESS = [
    ("runtime_config_optiscalpA.json", "2023-03-22", "2023-03-27"),
    ("runtime_config_optiscalpB.json", "2023-03-31", "2023-04-04"),
    ("runtime_config_optiscalpC.json", "2023-04-01", "2023-04-05"),
    ("reference_ema_rsi.json", "2023-04-10", "2023-04-15"),
    ("runtime_config_swing1.json", "2023-04-01", "2023-04-15"),
    ("reference_ema_rsi.json@rich", "2023-04-10", "2023-04-15"),  # never short of money
]


@pytest.mark.parametrize(("config", "start", "end"), SHADOWLESS, ids=[c[0] for c in SHADOWLESS])
def test_fast_feed_equals_every_candle_feed_without_shadows(
    config: str, start: str, end: str
) -> None:
    """With shadows off (the bench's setting: the fast feed's shortcuts apply), both feeds
    give the same exits, counters, near misses, equity and balance."""
    name, _, variant = config.partition("@")
    cfg = load_config(REPO / "configs" / name)
    cfg = cfg.model_copy(update={"shadows": cfg.shadows.model_copy(update={"enabled": False})})
    if variant == "rich":
        capital = cfg.capital.model_copy(update={"starting_balance_usdt": 1_000_000_000})
        cfg = cfg.model_copy(update={"capital": capital})
    data = load_folder(DATA, list(cfg.pairs), parse_when("from", start), parse_when("to", end))
    assert_feeds_equal(cfg, data)


def screens_in_a_row(name: str, seed: int, deferred: bool) -> None:
    """Runs of candidates screened one after another, the state changing between them (an
    entry, an exit, a pause with a cooldown), few or no near misses kept; the threshold
    screens' counts wait for ``settle`` (the tally), and with ``deferred`` the capacity
    screens' too (``defer``: the fast feed's setting). The threshold screen finds the same
    candidates and keeps the same counters and near misses as the general screen does one
    candidate at a time."""
    rng = random.Random(seed)
    bot = random_bot(rng, name, busy=None, traded=0.3, paused=0.2, cash=CASH, shadows=False)
    keep = rng.choice([0, 1, 3, 50])
    bot.s = replace(bot.s, near_miss_keep=keep)
    bot.near_misses.keep = keep
    n = rng.randint(50, 600)
    syms = len(bot.s.symbols)
    cands, values, sym, now = random_candidates(rng, bot, n, 2)
    cands.defer = deferred
    general = copy.deepcopy(bot)
    near_fast: list[NearBatch] = []
    near_general: list[NearBatch] = []
    start = 0
    while start < n:
        stop = min(n, start + rng.choice([rng.randint(1, 20), rng.randint(1, n)]))
        k = cands.screen(bot, start, stop, values, SPREAD, near_fast)
        assert _screen(general, start, stop, sym, now, values, SPREAD, near_general) == k
        at = int(now[min(k, n - 1)])
        s = bot.s.symbols[rng.randrange(syms) if k >= stop else int(sym[k])]
        move, pause = rng.random(), rng.randint(1, 30)
        for b in (bot, general):  # the same state change in both
            if move < 0.4 and s not in b.entry_orders:  # an entry (on the unblocked one)
                b.entry_orders[s] = f"{s}-e"
                b.rate.record(at)
                b.last_trade[s] = at
            elif move < 0.8 and b.entry_orders:  # a position closes
                gone = sorted(b.entry_orders)[0]
                del b.entry_orders[gone]
                b.last_trade[gone] = at
            elif move < 0.9:  # a pause, and a cooldown (two time filters on one symbol)
                b.blacklist.paused_until[s] = at + pause * MIN
                b.last_trade[s] = at
        start = max(k + 1, stop) if k < stop else stop
    assert_same_counts(cands, bot, general, near_fast, near_general)


@pytest.mark.parametrize("name", ["reference_ema_rsi.json", "runtime_config_optiscalpA.json"])
@pytest.mark.parametrize("seed", range(60))
def test_threshold_screens_in_a_row_count_like_the_general_screen(name: str, seed: int) -> None:
    """Screens in a row, capacity counted as it runs, count like the general screen."""
    screens_in_a_row(name, 1000 + seed, deferred=False)


def test_threshold_screen_keeps_a_near_miss_far_behind_the_last_candidates() -> None:
    """The kept near miss lies far before the run's end (every later candidate is blocked
    twice: no free slot and a cooldown): found as the general screen finds it."""
    rng = random.Random(7)
    bot = random_bot(
        rng, "runtime_config_optiscalpA.json", busy=None, traded=0.3, paused=0.2, cash=CASH,
        shadows=False,
    )
    bot.s = replace(bot.s, near_miss_keep=1)
    bot.near_misses.keep = 1
    bot.cash = Decimal("1000000000")
    bot.blacklist.paused_until.clear()
    bot.rate.entries.clear()
    bot.last_trade.clear()
    first, second, third = bot.s.symbols
    bot.entry_orders.clear()
    bot.entry_orders.update({second: "b-e", third: "c-e"})  # no free slot
    n = 300
    sym = np.array([0, 0, 0] + [1] * (n - 3), dtype=np.int64)
    bar = np.arange(n, dtype=np.int64)
    now = T0 + bar * MIN
    bot.last_trade[second] = int(now[-1])  # its cooldown blocks all its candidates
    cands = Candidates(bot, n, bar, sym, np.arange(n, dtype=np.int64), now)

    def values(j: int) -> tuple[tuple[str, float], ...]:
        return signal_values(features(int(now[j]) - MIN))

    general = copy.deepcopy(bot)
    near_fast: list[NearBatch] = []
    near_general: list[NearBatch] = []
    assert cands.screen(bot, 0, n, values, SPREAD, near_fast) == n
    assert _screen(general, 0, n, sym, now, values, SPREAD, near_general) == n
    cands.settle(bot)
    flush_near(bot, near_fast, SPREAD)
    flush_near(general, near_general, SPREAD)
    kept = bot.near_misses.latest()
    assert [(m.ts, m.symbol, m.reason) for m in kept] == [(int(now[2]), first, "capacity")]
    assert kept == general.near_misses.latest()
    assert bot.counters[second].frozen() == general.counters[second].frozen()


@pytest.mark.parametrize("seed", range(4))
def test_near_misses_flushed_mid_run_keep_the_latest(seed: int) -> None:
    """A long run of screens queues more near-miss batches than the flush bound, so the
    queue is flushed mid-run (``_FLUSH``): the kept near misses and the counters are still
    those of the general screen."""
    rng = random.Random(5000 + seed)
    bot = random_bot(
        rng, "runtime_config_optiscalpA.json", busy=None, traded=0.3, paused=0.2, cash=CASH,
        shadows=False,
    )
    keep = 1 + seed % 2
    bot.s = replace(bot.s, near_miss_keep=keep)
    bot.near_misses.keep = keep
    n = 3000
    cands, values, sym, now = random_candidates(rng, bot, n, 2)
    general = copy.deepcopy(bot)
    near_fast: list[NearBatch] = []
    near_general: list[NearBatch] = []
    flushed = False
    start = 0
    while start < n:
        stop = min(n, start + rng.randint(1, 12))
        queued = len(near_fast)
        k = cands.screen(bot, start, stop, values, SPREAD, near_fast)
        assert _screen(general, start, stop, sym, now, values, SPREAD, near_general) == k
        if len(near_fast) < queued:  # flushed: both logs now keep the same latest ones
            flushed = True
            flush_near(general, near_general, SPREAD)
            assert bot.near_misses.latest() == general.near_misses.latest()
        s = bot.s.symbols[int(sym[min(k, n - 1)])]
        at = int(now[min(k, n - 1)])
        pause = rng.random() < 0.3
        for b in (bot, general):  # the same state change in both: a cooldown, a pause
            b.last_trade[s] = at
            if pause:
                b.blacklist.paused_until[s] = at + 3 * MIN
        start = max(k + 1, stop) if k < stop else stop
    assert flushed and len(near_fast) < _FLUSH * keep
    assert_same_counts(cands, bot, general, near_fast, near_general)


@pytest.mark.parametrize("name", ["reference_ema_rsi.json", "runtime_config_optiscalpA.json"])
@pytest.mark.parametrize("seed", range(40))
def test_deferred_screen_counts_equal_the_general_screen(name: str, seed: int) -> None:
    """Screens in a row whose counts all wait for ``settle`` count like the general screen."""
    screens_in_a_row(name, 9000 + seed, deferred=True)


@pytest.mark.parametrize("name", ["reference_ema_rsi.json", "runtime_config_optiscalpA.json"])
@pytest.mark.parametrize("seed", range(100))
def test_settled_threshold_counts_equal_the_general_screen(name: str, seed: int) -> None:
    """Whatever the state (slots, cash, cooldowns, rate, pauses), threshold screens count
    nothing until ``settle_thresholds``, which adds what the general screen counts."""
    rng = random.Random(20_000 + seed)
    bot = random_bot(rng, name, busy=None, traded=0.5, paused=0.4, cash=CASH, shadows=False)
    n = rng.randint(1, 400)
    cands, values, sym, now = random_candidates(rng, bot, n, 3)
    general = copy.deepcopy(bot)
    before = {s: c.frozen() for s, c in bot.counters.items()}
    start = 0
    while start < n:
        stop = rng.randint(start + 1, n)
        k = screen_thresholds(cands, bot, start, stop, values, [])
        assert _screen(general, start, stop, sym, now, values, SPREAD, []) == k
        start = stop
    assert {s: c.frozen() for s, c in bot.counters.items()} == before  # nothing yet
    settle_thresholds(cands, bot, cands.tally)
    assert {s: c.frozen() for s, c in bot.counters.items()} == {
        s: c.frozen() for s, c in general.counters.items()
    }
