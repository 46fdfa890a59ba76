"""The rehearsal's kept trigger bands: the same answers as asking the bot every time."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from optiflow.runtimes.rehearsal_clock import Bands


@dataclass(frozen=True)
class _Pos:
    """A frozen position: a band (lower, upper) until ``timeout``, a higher lower after."""

    stop: float
    timeout: int | None


@dataclass
class _Bot:
    """Positions by pair and a ``triggers`` that counts its calls (the engine's signature)."""

    positions: dict[str, _Pos] = field(default_factory=dict)
    asked: int = 0

    def triggers(self, symbol: str, now: int) -> tuple[float, float, int | None] | None:
        """Like ``ladder.triggers``: the deadline is the timeout until it has passed."""
        self.asked += 1
        pos = self.positions.get(symbol)
        if pos is None:
            return None
        if pos.timeout is not None and now >= pos.timeout:
            return (pos.stop + 1.0, 10.0, None)
        return (pos.stop, 10.0, pos.timeout)


def _fresh(bot: _Bot, symbol: str, ts: int) -> Any:
    return _Bot(dict(bot.positions)).triggers(symbol, ts)


def test_band_is_kept_while_the_position_and_its_deadline_hold() -> None:
    """Asked at every point, the bot is asked again only for a new position or past a deadline."""
    bot, bands = _Bot({"BTC/USDT": _Pos(1.0, 500)}), Bands()
    answers = [(ts, bands.get(bot, "BTC/USDT", ts)) for ts in range(0, 500, 50)]
    assert bot.asked == 1
    assert all(band == _fresh(bot, "BTC/USDT", ts) for ts, band in answers)
    assert bands.get(bot, "BTC/USDT", 500) == (2.0, 10.0, None)
    assert bot.asked == 2  # the deadline passed: the band moved
    bot.positions["BTC/USDT"] = _Pos(1.0, 500)  # equal, but a new position (a new object)
    assert bands.get(bot, "BTC/USDT", 600) == (2.0, 10.0, None)
    assert bot.asked == 3
    del bot.positions["BTC/USDT"]
    assert bands.get(bot, "BTC/USDT", 700) is None
    assert bands.get(bot, "ETH/USDT", 700) is None
