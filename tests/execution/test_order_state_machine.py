"""Property tests of the order state machine: never over-filled, terminal states are final."""

from __future__ import annotations

import contextlib
import dataclasses
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from optiflow.execution.orders import OrderRecord, OrderStatus, OrderTransitionError

actions = st.lists(
    st.one_of(
        st.tuples(st.just("fill"), st.integers(min_value=-2, max_value=60)),
        st.tuples(st.just("ack"), st.just(0)),
        st.tuples(st.just("cancel"), st.just(0)),
        st.tuples(st.just("reject"), st.just(0)),
    ),
    max_size=30,
)


@given(qty=st.integers(min_value=1, max_value=100), steps=actions)
def test_any_event_sequence_keeps_the_invariants(qty: int, steps: list[tuple[str, int]]) -> None:
    """0 ≤ filled ≤ qty; FILLED iff filled == qty; a finished order never changes again."""
    o = OrderRecord("c", "p", "BTC/USDT", "buy", "entry", Decimal(qty))
    for action, n in steps:
        before = o
        try:
            if action == "fill":
                o = o.fill(Decimal(n))
            elif action == "ack":
                o = o.acknowledged()
            elif action == "cancel":
                o = o.cancel()
            else:
                o = o.reject()
        except OrderTransitionError:
            o = before
        if before.done:
            assert o == before
        assert Decimal(0) <= o.filled <= o.qty
        assert (o.status is OrderStatus.FILLED) == (o.filled == o.qty)


def test_fill_after_cancel_is_refused() -> None:
    """A cancelled order cannot fill."""
    o = OrderRecord("c", "p", "BTC/USDT", "buy", "entry", Decimal(1)).cancel()
    with pytest.raises(OrderTransitionError):
        o.fill(Decimal(1))


def test_partial_then_full() -> None:
    """Two fills complete an order through PARTIAL."""
    o = OrderRecord("c", "p", "BTC/USDT", "sell", "tp1", Decimal(2)).acknowledged()
    o = o.fill(Decimal(1))
    assert o.status is OrderStatus.PARTIAL
    assert o.fill(Decimal(1)).status is OrderStatus.FILLED


def test_fill_keeps_every_other_field() -> None:
    """``fill`` builds the record positionally: it must equal ``dataclasses.replace``."""
    names = [f.name for f in dataclasses.fields(OrderRecord)]
    assert names == [
        "client_id", "position_id", "symbol", "side", "reason", "qty", "filled", "status",
        "reserved", "signals",
    ]  # fmt: skip
    o = OrderRecord(
        "c", "p", "ETH/USDT", "buy", "entry", Decimal(3), Decimal(1), OrderStatus.PARTIAL,
        Decimal("7.5"), "ema_trend+rsi_band",
    )  # fmt: skip
    want = dataclasses.replace(o, filled=Decimal(3), status=OrderStatus.FILLED)
    assert o.fill(Decimal(2)) == want
    assert o.fill(Decimal(1)) == dataclasses.replace(o, filled=Decimal(2))


@given(qty=st.integers(min_value=1, max_value=100), steps=actions, n=st.integers(-2, 120))
def test_completed_by_says_what_a_capped_fill_would_do(
    qty: int, steps: list[tuple[str, int]], n: int
) -> None:
    """``completed_by(q)`` is True exactly when ``fill(min(q, remaining))`` finishes the order."""
    o = OrderRecord("c", "p", "BTC/USDT", "buy", "entry", Decimal(qty))
    for action, k in steps:  # any state: open, partly filled, filled, cancelled, rejected
        with contextlib.suppress(OrderTransitionError):
            if action == "fill":
                o = o.fill(Decimal(k))
            else:
                o = {"ack": o.acknowledged, "cancel": o.cancel, "reject": o.reject}[action]()
    try:
        finished = o.fill(min(Decimal(n), o.remaining)).done
    except OrderTransitionError:
        finished = False
    assert o.completed_by(Decimal(n)) == finished
