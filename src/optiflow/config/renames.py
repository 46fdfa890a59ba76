"""Coins an exchange renamed: an unlisted pair's likely replacement, for a clear refusal."""

from __future__ import annotations

from collections.abc import Collection

# old base -> (new base, when/why); Binance delisted the old pairs after each swap
RENAMED: dict[str, tuple[str, str]] = {
    "MATIC": ("POL", "Polygon swapped MATIC for POL in September 2024"),
    "FTM": ("S", "Fantom became Sonic (S) in January 2025"),
    "RNDR": ("RENDER", "Render moved RNDR to RENDER in 2024"),
    "AGIX": ("FET", "AGIX merged into FET (ASI alliance) in 2024"),
    "OCEAN": ("FET", "OCEAN merged into FET (ASI alliance) in 2024"),
}


def replacement(pair: str, listed: Collection[str]) -> tuple[str, str] | None:
    """(new pair, why) when `pair`'s coin was renamed and the new pair is listed, else None."""
    base, _, quote = pair.partition("/")
    found = RENAMED.get(base.upper())
    if found is None:
        return None
    new = f"{found[0]}/{quote}"
    return (new, found[1]) if new in listed else None


def unlisted_message(bot: str, exchange: str, missing: list[str], listed: Collection[str]) -> str:
    """One line naming every unlisted pair and, where known, the pair to trade instead."""
    parts = []
    for pair in missing:
        hint = replacement(pair, listed)
        parts.append(f"{pair} (now {hint[0]}: {hint[1]}; put {hint[0]} in pairs)" if hint else pair)
    return f"{bot}: pairs not listed by {exchange}: {', '.join(parts)}"
