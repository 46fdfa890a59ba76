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
