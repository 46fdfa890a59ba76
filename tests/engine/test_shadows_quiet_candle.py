"""A shadow's candle inside its trigger band is skipped whole: the same book as point by point."""

from __future__ import annotations

import random
from decimal import Decimal

from optiflow.engine.shadows import ShadowBook
from optiflow.engine.snapshot import shadows_to_dict
from tests.engine.shadow_support import SYM, book

TF = 60_000
T0 = 1_700_000_000_000


def point_by_point(b: ShadowBook, ts0: int, o: float, h: float, lo: float, c: float) -> None:
    """``play_candle`` as defined: open, low, high, close, each swept from the one before."""
    offsets, prices = (0, TF // 4, TF // 2, TF - 1), (o, lo, h, c)
    for k in range(4):
        if SYM not in b.open:
            return
        b.on_price(SYM, ts0 + offsets[k], prices[k], None if k == 0 else prices[k - 1])


def test_play_candle_leaves_the_same_book_as_its_four_points() -> None:
    """Random small walks (mostly inside the band, some crossing it, timeouts passing)."""
    rng = random.Random(11)
    skipped = 0
    for case in range(40):
        timeout, hold = rng.choice([(None, None), (3.0, None), (None, 7.0), (2.0, 5.0)])
        fast, slow = book(hold, timeout), book(hold, timeout)
        ts, px = T0, 100.0
        for n in range(200):
            if SYM not in fast.open:
                for b in (fast, slow):
                    b.apply(SYM, ts, ("rsi",), Decimal(100), px)
            step = rng.choice((0.0005, 0.001, 0.002, 0.008))
            o = px * (1 + rng.uniform(-step, step))
            c = o * (1 + rng.uniform(-step, step))
            h = max(o, c) * (1 + rng.uniform(0, step))
            lo = min(o, c) * (1 - rng.uniform(0, step))
            band = fast._bands.get(SYM)
            if band is not None and band[0] < lo and h < band[1]:
                skipped += 1
            fast.play_candle(SYM, ts, TF, o, h, lo, c)
            point_by_point(slow, ts, o, h, lo, c)
            assert shadows_to_dict(fast) == shadows_to_dict(slow), (case, n)
            assert fast.finished == slow.finished
            ts, px = ts + TF, c
    assert skipped > 1000  # the shortcut was taken (most candles stay inside the band)
