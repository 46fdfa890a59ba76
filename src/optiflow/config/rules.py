"""Named cross-field config rules: each checks plain values and explains a failure in words."""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal
from urllib.parse import urlsplit

from pydantic_core import PydanticCustomError

RULE_ERROR_TYPE = "config_rule"

_NAME_RE = re.compile(r"[A-Za-z0-9_.\-]{1,40}")
_PAIR_RE = re.compile(r"[A-Z0-9]+/[A-Z0-9]+")


def violation(field: str, value: object, allowed: str) -> PydanticCustomError:
    """Build the error a rule raises: ``field`` is relative to the model that checks it."""
    return PydanticCustomError(
        RULE_ERROR_TYPE, "{allowed}", {"field": field, "value": value, "allowed": allowed}
    )


def check_name(value: str) -> str:
    """Accept a bot name of 1 to 40 characters from A-Z, a-z, 0-9, '_', '.', '-'."""
    if not _NAME_RE.fullmatch(value):
        raise violation("", value, "1 to 40 characters from A-Z a-z 0-9 _ . - (no spaces)")
    return value


def check_pair(value: str) -> str:
    """Accept a pair written BASE/QUOTE in uppercase letters and digits, e.g. BTC/USDT."""
    if not _PAIR_RE.fullmatch(value):
        raise violation("", value, "a pair written BASE/QUOTE in uppercase, e.g. BTC/USDT")
    return value


def rule_unique_items(field: str, items: Sequence[object]) -> None:
    """A list must not name the same item twice."""
    seen: set[object] = set()
    for i, item in enumerate(items):
        if item in seen:
            raise violation(f"{field}[{i}]", item, f"each item at most once; {item} is repeated")
        seen.add(item)


def rule_exactly_one_stake(stake_usdt: Decimal | None, stake_fraction: float | None) -> None:
    """Exactly one of capital.stake_usdt and capital.stake_fraction is set."""
    if stake_usdt is not None and stake_fraction is not None:
        raise violation(
            "stake_fraction",
            stake_fraction,
            f"null when stake_usdt is set ({stake_usdt}); set exactly one of the two",
        )
    if stake_usdt is None and stake_fraction is None:
        raise violation(
            "stake_usdt", None, "a number > 0, or set stake_fraction instead (exactly one)"
        )


def rule_ema_fast_below_slow(ema_fast: int, ema_slow: int) -> None:
    """The fast EMA period is shorter than the slow one."""
    if ema_fast >= ema_slow:
        raise violation("ema_fast", ema_fast, f"a period below ema_slow ({ema_slow})")


def rule_macd_fast_below_slow(macd_fast: int, macd_slow: int) -> None:
    """The MACD fast period is shorter than the slow one."""
    if macd_fast >= macd_slow:
        raise violation("macd_fast", macd_fast, f"a period below macd_slow ({macd_slow})")


def rule_rsi_band_ordered(rsi_low: float, rsi_high: float) -> None:
    """The RSI band is 0 <= rsi_low < rsi_high <= 100."""
    if rsi_low >= rsi_high:
        raise violation("rsi_low", rsi_low, f"a number below signals.rsi_high ({rsi_high})")


def rule_tp1_below_tp2(tp1_pct: float | None, tp2_pct: float) -> None:
    """When TP1 is set it lies below TP2 (null TP1 means TP2-only, swing style)."""
    if tp1_pct is not None and tp1_pct >= tp2_pct:
        raise violation(
            "tp1_pct", tp1_pct, f"a number below exits.tp2_pct ({tp2_pct}), or null for TP2-only"
        )


def rule_stepwise_lengths_match(levels: Sequence[Decimal], shares: Sequence[Decimal]) -> None:
    """Every stepwise level has exactly one share."""
    if len(levels) != len(shares):
        raise violation(
            "shares",
            [str(s) for s in shares],
            f"one share per level: {len(levels)} levels but {len(shares)} shares",
        )


def rule_stepwise_levels_increasing(levels: Sequence[Decimal]) -> None:
    """Stepwise profit levels are > 0 and strictly increasing."""
    previous = Decimal(0)
    for i, level in enumerate(levels):
        if level <= previous:
            allowed = (
                "a profit in USDT > 0"
                if i == 0
                else f"a profit above the previous level ({previous}); levels strictly increase"
            )
            raise violation(f"levels_usdt[{i}]", str(level), allowed)
        previous = level


def rule_stepwise_shares_valid(shares: Sequence[Decimal]) -> None:
    """Each stepwise share is in (0, 1] and the shares add up to exactly 1."""
    for i, share in enumerate(shares):
        if not Decimal(0) < share <= Decimal(1):
            raise violation(f"shares[{i}]", str(share), "a fraction > 0 and <= 1")
    total = sum(shares, Decimal(0))
    if total != Decimal(1):
        raise violation(
            "shares",
            [str(s) for s in shares],
            f"fractions of the original quantity that add up to exactly 1 (they add up to {total})",
        )


def rule_timeout_below_max_hold(timeout_min: float | None, max_hold_min: float | None) -> None:
    """The timeout rule fires before max hold when both are set."""
    if timeout_min is not None and max_hold_min is not None and timeout_min >= max_hold_min:
        raise violation(
            "timeout_min",
            timeout_min,
            f"a number of minutes below exits.max_hold_min ({max_hold_min}), or null",
        )


def rule_min_le_max(field_min: str, low: Decimal, field_max: str, high: Decimal) -> None:
    """A target range's minimum is not above its maximum."""
    if low > high:
        raise violation(field_min, str(low), f"a number <= {field_max} ({high})")


def rule_long_only_engine(direction: str) -> None:
    """The engine trades long positions only, on spot and on futures (short is not built)."""
    if direction != "long":
        raise violation(
            "direction",
            direction,
            '"long": the engine trades long positions only, on spot and on futures; '
            '"short" and "both" are not built yet (and would need exchange.market = "futures")',
        )


def rule_url(field: str, value: str | None, schemes: tuple[str, ...]) -> None:
    """A base URL has one of ``schemes`` and a host, e.g. https://testnet.binance.vision."""
    if not value:  # null or "": not set
        return
    parsed = urlsplit(value)
    if parsed.scheme not in schemes or not parsed.netloc:
        starts = " or ".join(s + "://" for s in schemes)
        raise violation(field, value, f"a URL starting with {starts} and a host")


def rule_market_overrides_in_pairs(overrides: Sequence[str], pairs: Sequence[str]) -> None:
    """Every market override names one of the bot's pairs."""
    for key in overrides:
        if key not in pairs:
            raise violation(
                f"markets.{key}", key, f"a key that is one of pairs: {', '.join(pairs)}"
            )
