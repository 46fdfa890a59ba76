"""Positional record builders (domain/records.py): the same frozen objects as the classes."""

from __future__ import annotations

import dataclasses
import pickle
from dataclasses import dataclass
from decimal import Decimal

import pytest

from optiflow.domain.events import OrderFilled, SubmitOrder
from optiflow.domain.records import builder
from optiflow.domain.results import ExitRow
from optiflow.execution.orders import OrderRecord, OrderStatus
from optiflow.portfolio.position import Levels

# every record the engine builds positionally, with its fields in order: a new field must
# be added at each builder call too (grep the class name's builder in engine/, adapters/sim)
FIELDS = {
    OrderFilled: "client_id symbol side qty price fee ts last",
    SubmitOrder: "client_id symbol side qty ref_price position_id reason ts",
    ExitRow: "bot symbol position_id ts_entry ts_exit entry_price exit_price qty fees net_pnl "
    "reason signals",
    OrderRecord: "client_id position_id symbol side reason qty filled status reserved signals",
    Levels: "sl breakeven tp1 tp2 steps auto_profit timeout_threshold timeout_at max_hold_at",
}
D = Decimal("1.5")
VALUES: dict[type, tuple[object, ...]] = {
    OrderFilled: ("c-1", "BTC/USDT", "sell", D, Decimal(2), Decimal("0.01"), 7, True),
    SubmitOrder: ("c-1", "BTC/USDT", "buy", D, 2.5, "p-1", "entry", 7),
    ExitRow: ("b", "BTC/USDT", "p-1", 1, 2, D, D, D, D, D, "tp2", "ema_trend+rsi_band"),
    OrderRecord: ("c", "p", "BTC/USDT", "buy", "entry", D, D, OrderStatus.FILLED, D, "x"),
    Levels: (99.0, 100.2, 100.5, 101.0, (100.7,), 103.0, 100.9, 5, 9),
}


@pytest.mark.parametrize("cls", list(FIELDS), ids=lambda c: c.__name__)
def test_a_builder_makes_what_the_class_makes(cls: type) -> None:
    """Same fields in the same order; equal, hashed, pickled, frozen like ``cls(...)``."""
    assert [f.name for f in dataclasses.fields(cls)] == FIELDS[cls].split()
    built: object = builder(cls)(*VALUES[cls])
    made = cls(*VALUES[cls])
    assert type(built) is cls and built == made and hash(built) == hash(made)
    assert repr(built) == repr(made) and pickle.loads(pickle.dumps(built)) == made
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(built, FIELDS[cls].split()[0], None)


def test_a_builder_refuses_what_it_cannot_build_alike() -> None:
    """No builder for a class without slots or with a ``__post_init__`` it would skip."""

    @dataclass(frozen=True)
    class NoSlots:
        """A record without slots."""

        a: int

    @dataclass(frozen=True, slots=True)
    class Checked:
        """A record that checks itself."""

        a: int

        def __post_init__(self) -> None:
            """Refuse negatives."""
            if self.a < 0:
                raise ValueError("negative")

    for cls in (NoSlots, Checked):
        with pytest.raises(TypeError):
            builder(cls)
