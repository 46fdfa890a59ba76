"""The engine's entry and exit notes: formatted when read, equal to the plain texts."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from collections.abc import Callable

from optiflow.config.models import BotConfig
from optiflow.domain.events import LazyNotify, Notify, PriceTicked
from tests.engine.test_bot import MIN, SYM, T0, candle, fill, make_bot, orders


def test_entry_and_exit_notes_read_as_the_plain_texts(
    make_config: Callable[..., BotConfig],
) -> None:
    """The notes of an entry and a TP2 exit have exactly the texts the notifier sends."""
    bot = make_bot(make_config())
    (order,) = orders(candle(bot, T0, close=100.0))
    (entry,) = fill(bot, order, 100.0, T0 + MIN)
    assert isinstance(entry, LazyNotify)
    want = (
        "BUY BTC/USDT 1.500 @ 100.0 = 150.00 USDT (TP1 100.3, TP2 100.6, SL 99.4; steps "
        "100.26693, 100.33367, 100.4004, 100.46713; primary ema_trend; confirming rsi_band)"
    )
    assert entry == Notify("entry", SYM, want, T0 + MIN)
    assert Notify("entry", SYM, want, T0 + MIN) == entry
    (sell,) = orders(bot.handle(PriceTicked(SYM, T0 + 2 * MIN, 100.6)))
    out = fill(bot, sell, 100.6, T0 + 2 * MIN)
    note = next(c for c in out if isinstance(c, Notify))
    assert f"{bot.exits[0].net_pnl:.4f}" == "0.5991"
    assert note.text == "TP2 BTC/USDT 1.500 @ 100.6 net 0.5991"
    assert note.kind == "tp2" and note.ts == T0 + 2 * MIN


def test_a_lazy_note_is_formatted_once_and_travels_as_a_plain_one() -> None:
    """The text is built on the first read only; copies and pickles are plain ``Notify``."""
    calls: list[int] = []

    def make() -> str:
        """Count the formatting."""
        calls.append(1)
        return "TP2 BTC/USDT 1 @ 2 net 0.0000"

    note = LazyNotify("tp2", SYM, make, 5)
    assert calls == []
    assert note.text == note.text == "TP2 BTC/USDT 1 @ 2 net 0.0000"
    assert calls == [1]
    plain = Notify("tp2", SYM, "TP2 BTC/USDT 1 @ 2 net 0.0000", 5)
    assert hash(note) == hash(plain) and repr(note) == repr(plain)
    assert type(pickle.loads(pickle.dumps(note))) is Notify
    assert pickle.loads(pickle.dumps(note)) == plain == copy.copy(note)
    assert dataclasses.asdict(note) == dataclasses.asdict(plain)
    assert dataclasses.replace(note, text="x") == dataclasses.replace(plain, text="x")
    assert note != dataclasses.replace(plain, ts=6)
