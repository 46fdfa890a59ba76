"""Batched shadow signals (the fast screen's hand-over) and the ladder's fast position copy."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import numpy as np
import pytest

from optiflow.engine.shadows import SignalBatch
from optiflow.engine.snapshot import shadows_restore, shadows_to_dict
from optiflow.portfolio.position import Levels, Position, evolve
from tests.engine.test_shadows import SYM, T0, TF, book

OTHER = "BBB/USDT"


def batch() -> SignalBatch:
    """Three candidates: capacity blocks all, cooldown the 1st and 3rd, $100 stake."""
    return SignalBatch(
        symbols=(SYM, OTHER),
        sym_idx=np.array([0, 1, 0]),
        nows=np.array([T0, T0, T0 + TF]),
        reasons=("capacity", "cooldown"),
        masks=(None, np.array([True, False, True])),
        stake=Decimal(100),
    )


def test_batch_expands_to_the_signals_one_by_one() -> None:
    """Each candidate gets exactly the reasons whose mask holds at it, in the batch's order."""
    assert batch().signals() == [
        (T0, SYM, ("capacity", "cooldown"), Decimal(100), 0.0),
        (T0, OTHER, ("capacity",), Decimal(100), 0.0),
        (T0 + TF, SYM, ("capacity", "cooldown"), Decimal(100), 0.0),
    ]


def test_eager_book_counts_a_batch_like_single_blocks() -> None:
    """A book not in lazy mode applies a batch as it applies each of its signals."""
    one, many = book(), book()
    one.limits[OTHER] = many.limits[OTHER] = one.limits[SYM]
    for now, sym, reasons, stake, price in batch().signals():
        one.block(sym, now, reasons, stake, price)
    many.block_batch(batch())
    assert many.table() == one.table()
    assert many.table()["capacity"]["blocked"] == 3
    assert many.table()["cooldown"]["blocked"] == 2
    assert not many.pending


def test_lazy_batch_is_saved_as_single_signals_and_restored() -> None:
    """A snapshot of a lazy book holding a batch saves each signal; restoring keeps them."""
    b = book()
    b.lazy = True
    b.block(SYM, T0 - TF, ("volume",), Decimal(50), 99.0)
    b.block_batch(batch())
    saved = shadows_to_dict(b)
    assert [p[:3] for p in saved["pending"]] == [
        [T0 - TF, SYM, ["volume"]],
        [T0, SYM, ["capacity", "cooldown"]],
        [T0, OTHER, ["capacity"]],
        [T0 + TF, SYM, ["capacity", "cooldown"]],
    ]
    again = book()
    shadows_restore(again, saved)
    assert again.pending == b.pending_signals()


def position() -> Position:
    """A position with every field off its default."""
    lv = Levels(99.0, 100.2, 100.5, 101.0, (100.7,), 103.0, 100.9, 5, 9)
    return Position(
        "p-1", SYM, T0, Decimal("100.05"), Decimal(2), Decimal(1), Decimal("0.2"), lv,
        Decimal("0.5"), True, (True,), 100.2, True,
    )  # fmt: skip


def test_evolve_knows_every_position_field() -> None:
    """``evolve`` builds a Position positionally: a new field must be added to it too."""
    names = [f.name for f in dataclasses.fields(Position)]
    assert names == [
        "position_id", "symbol", "ts_entry", "entry_price", "qty0", "qty", "entry_fee",
        "levels", "pending_exit", "tp1_hit", "steps_fired", "stop", "stop_is_breakeven",
        "signals",
    ]  # fmt: skip
    assert evolve(position()) == position()
    signed = dataclasses.replace(position(), signals="ema_trend+rsi_band")
    assert evolve(signed, qty=Decimal("0.5")).signals == "ema_trend+rsi_band"


@pytest.mark.parametrize(
    "change",
    [
        {"qty": Decimal("0.5")},
        {"pending_exit": Decimal(0)},
        {"tp1_hit": False},
        {"steps_fired": (False,)},
        {"stop": 0.0},
        {"stop_is_breakeven": False},
    ],
)
def test_evolve_equals_dataclasses_replace(change: dict[str, object]) -> None:
    """Changing one field (even to a falsy value) gives what ``dataclasses.replace`` gives."""
    assert evolve(position(), **change) == dataclasses.replace(position(), **change)  # type: ignore[arg-type]

