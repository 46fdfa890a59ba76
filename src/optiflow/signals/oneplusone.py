"""The 1+1 rule: an entry needs at least one primary AND one confirming signal."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from optiflow.domain.market import Features
from optiflow.signals.catalogue import CONFIRMING, PRIMARY, SignalFn, SignalParams


@dataclass(frozen=True, slots=True)
class SignalSet:
    """The signals one bot uses, resolved from their names."""

    primary: tuple[SignalFn, ...]
    confirming: tuple[SignalFn, ...]
    params: SignalParams

    @classmethod
    def from_names(
        cls, primary: tuple[str, ...], confirming: tuple[str, ...], params: SignalParams
    ) -> SignalSet:
        """Resolve signal names (already validated by the config) to functions."""
        return cls(
            tuple(PRIMARY[n] for n in primary), tuple(CONFIRMING[n] for n in confirming), params
        )


def any_of(fns: tuple[SignalFn, ...], f: Features, p: SignalParams, ob: Any) -> Any:
    """True where at least one of the signals fires (scalar or array)."""
    result: Any = fns[0](f, p, ob)
    for fn in fns[1:]:
        result = result | fn(f, p, ob)
    return result


def groups(s: SignalSet, f: Features, ob: Any) -> tuple[Any, Any]:
    """(primary passed, confirming passed) for a candle or a history; untradeable → False."""
    tradeable = f.tradeable > 0.5
    return (
        tradeable & any_of(s.primary, f, s.params, ob),
        tradeable & any_of(s.confirming, f, s.params, ob),
    )


def passes_1plus1(s: SignalSet, f: Features, ob: Any = float("nan")) -> Any:
    """The 1+1 rule itself."""
    primary, confirming = groups(s, f, ob)
    return primary & confirming


_NAMED: dict[tuple[int, tuple[SignalFn, ...]], dict[SignalFn, str]] = {}


def _names(fns: tuple[SignalFn, ...], catalogue: dict[str, SignalFn]) -> dict[SignalFn, str]:
    """The catalogue name of each of ``fns`` (kept per catalogue and tuple: both are fixed)."""
    key = (id(catalogue), fns)
    named = _NAMED.get(key)
    if named is None:
        by_fn = {fn: name for name, fn in catalogue.items()}
        named = {fn: by_fn.get(fn, getattr(fn, "__name__", "?")) for fn in fns}
        if len(_NAMED) < 256:  # a process builds a handful of signal sets
            _NAMED[key] = named
    return named


def fired(s: SignalSet, f: Features, ob: Any) -> str:
    """The signals firing on one candle as a combination ``"p1,p2+c1"`` (primary+confirming).

    Names keep the config's order; this is the key ``/signalstats`` groups trades by.
    """
    pn, cn = _names(s.primary, PRIMARY), _names(s.confirming, CONFIRMING)
    prim = [pn[fn] for fn in s.primary if bool(fn(f, s.params, ob))]
    conf = [cn[fn] for fn in s.confirming if bool(fn(f, s.params, ob))]
    return ",".join(prim) + "+" + ",".join(conf)


def fired_names(s: SignalSet, f: Features, ob: Any) -> tuple[list[str], list[str]]:
    """One candle's firing signals as (primary names, confirming names), config order.

    Each signal is evaluated once: the 1+1 rule on one candle is ``tradeable`` and both
    lists non-empty (``groups``), and ``combo`` of the two lists is what ``fired`` gives.
    """
    pn, cn, p = _names(s.primary, PRIMARY), _names(s.confirming, CONFIRMING), s.params
    return (
        [pn[fn] for fn in s.primary if fn(f, p, ob)],
        [cn[fn] for fn in s.confirming if fn(f, p, ob)],
    )


def combo(prim: list[str], conf: list[str]) -> str:
    """The combination string of ``fired`` from the two name lists of ``fired_names``."""
    return ",".join(prim) + "+" + ",".join(conf)


def split_combo(combo: str) -> tuple[list[str], list[str]]:
    """Inverse of ``fired``: (primary names, confirming names); ([], []) for ``""``."""
    prim, _, conf = combo.partition("+")
    return [p for p in prim.split(",") if p], [c for c in conf.split(",") if c]
