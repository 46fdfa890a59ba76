"""Events the engine reacts to (past tense) and commands it returns (verbs)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from optiflow.domain.market import Features
from optiflow.domain.records import builder

Side = Literal["buy", "sell"]


@dataclass(frozen=True, slots=True)
class CandleClosed:
    """A candle of ``symbol`` closed; ``rescan`` marks a reactive re-check of the latest one."""

    symbol: str
    features: Features
    spread_pct: float  # (ask - bid) / mid * 100 at the close; modelled when there is no book
    rescan: bool = False
    ob_imbalance: float = float("nan")  # bid share of top-of-book depth, NaN when unknown


@dataclass(frozen=True, slots=True)
class PriceTicked:
    """The tradeable price of ``symbol`` moved to ``price`` at ``ts`` (ms).

    ``swept_from`` is set when the price moved continuously from that price (inside a
    candle); a level crossed on the way then fills at the level. Otherwise the price
    jumped (a new candle's open, a live quote) and exits fill at ``price``.
    """

    symbol: str
    ts: int
    price: float
    swept_from: float | None = None


# PriceTicked(symbol, ts, price, swept_from), every field, at half the cost (domain/records.py)
price_ticked = builder(PriceTicked)
# CandleClosed(symbol, features, spread_pct, rescan, ob_imbalance), every field, likewise
candle_closed = builder(CandleClosed)


@dataclass(frozen=True, slots=True)
class OrderFilled:
    """An order (or part of it) was filled."""

    client_id: str
    symbol: str
    side: Side
    qty: Decimal
    price: Decimal
    fee: Decimal
    ts: int
    last: bool = False  # no more fills will come for this order (e.g. fees taken in base)


@dataclass(frozen=True, slots=True)
class OrderRejected:
    """The exchange refused an order; nothing was filled."""

    client_id: str
    symbol: str
    reason: str
    ts: int
    refused: bool = False  # the exchange refused it (not: superseded, never sent)


@dataclass(frozen=True, slots=True)
class StopRequested:
    """Close every position now (shutdown, end of data, manual)."""

    ts: int
    reason: str


@dataclass(frozen=True, slots=True)
class ProtectiveStopFilled:
    """The exchange-side stop order of a position filled (e.g. while the bot was down)."""

    client_id: str
    symbol: str
    qty: Decimal
    price: Decimal
    fee: Decimal
    ts: int


@dataclass(frozen=True, slots=True)
class PositionReconciled:
    """The exchange no longer backs ``qty`` of a position: close it in the books, sell nothing.

    ``reason`` is the exit reason booked (``reconciled`` when nothing on the exchange says
    what sold it; ``sl`` for a stop fill found only in the exchange's trade history).
    """

    symbol: str
    position_id: str
    qty: Decimal
    price: Decimal
    fee: Decimal
    ts: int
    reason: str = "reconciled"
    why: str = ""


Event = (
    CandleClosed
    | PriceTicked
    | OrderFilled
    | OrderRejected
    | StopRequested
    | ProtectiveStopFilled
    | PositionReconciled
)


@dataclass(frozen=True, slots=True)
class SubmitOrder:
    """Place a market order; ``ref_price`` is where the engine expects it to execute."""

    client_id: str
    symbol: str
    side: Side
    qty: Decimal
    ref_price: float
    position_id: str
    reason: str  # "entry" or an exit reason code
    ts: int


@dataclass(frozen=True, slots=True)
class RequestScan:
    """Ask the driver to re-send the latest closed candle of every symbol (reactive entry)."""

    ts: int


@dataclass(frozen=True, slots=True)
class Notify:
    """Something a trader wants to be told about (entry, exit, blacklist, ...)."""

    kind: str
    symbol: str
    text: str
    ts: int


@dataclass(frozen=True, slots=True)
class CancelOrder:
    """Cancel an order that has not filled (yet)."""

    client_id: str
    symbol: str
    ts: int


_KIND, _SYMBOL, _TEXT, _TS = (Notify.__dict__[n] for n in ("kind", "symbol", "text", "ts"))


class LazyNotify(Notify):
    """A ``Notify`` whose text is formatted when it is first read (a backtest reads none).

    Reads, compares, hashes, prints and pickles as the ``Notify`` with the same text.
    """

    __slots__ = ("_make",)
    _make: Callable[[], str]

    def __init__(self, kind: str, symbol: str, text: str | Callable[[], str], ts: int) -> None:
        """A note of ``kind`` whose text ``text()`` gives (from immutable inputs), or ``text``."""
        _KIND.__set__(self, kind)  # through the slots: the dataclass's __setattr__ refuses
        _SYMBOL.__set__(self, symbol)
        _TS.__set__(self, ts)
        if isinstance(text, str):  # dataclasses.replace passes the text itself
            _TEXT.__set__(self, text)
        else:
            object.__setattr__(self, "_make", text)

    @property  # type: ignore[misc]
    def text(self) -> str:  # type: ignore[override]
        """The note's text, formatted once."""
        try:
            return str(_TEXT.__get__(self, Notify))
        except AttributeError:
            text = self._make()
            _TEXT.__set__(self, text)
            return text

    def plain(self) -> Notify:
        """The same note as a plain ``Notify``."""
        return Notify(self.kind, self.symbol, self.text, self.ts)

    def __eq__(self, other: object) -> bool:
        """Equal to a ``Notify`` (lazy or not) with the same fields."""
        if not isinstance(other, Notify):
            return NotImplemented
        return (self.kind, self.symbol, self.text, self.ts) == (
            other.kind,
            other.symbol,
            other.text,
            other.ts,
        )

    def __hash__(self) -> int:
        """The hash of the plain note."""
        return hash(self.plain())

    def __repr__(self) -> str:
        """The plain note's repr."""
        return repr(self.plain())

    def __reduce__(self) -> tuple[type[Notify], tuple[str, str, str, int]]:
        """Pickled (and copied) as the plain note."""
        return Notify, (self.kind, self.symbol, self.text, self.ts)


Command = SubmitOrder | CancelOrder | RequestScan | Notify
