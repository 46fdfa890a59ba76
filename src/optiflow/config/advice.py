"""Warnings a valid config deserves at start of every mode: levels that cannot pay or fire."""

from __future__ import annotations

from decimal import Decimal

from optiflow.config.fees import config_stake, fee_table
from optiflow.config.models import BotConfig

_CANDLE_MODES = ("backtest", "replay")


def config_warnings(cfg: BotConfig, mode: str) -> list[str]:
    """Every warning about ``cfg`` for a run in ``mode`` (backtest, replay, paper, live)."""
    out: list[str] = []
    cap = cfg.capital
    if cap.stake_usdt is not None and cap.stake_usdt > cap.starting_balance_usdt:
        out.append(
            f"capital.stake_usdt {cap.stake_usdt} is above capital.starting_balance_usdt "
            f"{cap.starting_balance_usdt}: every entry is capped at the free balance, so the "
            f"first one stakes at most {cap.starting_balance_usdt} (the fee figures use that)"
        )
    table = fee_table(cfg)
    if table.warning:
        out.append(table.warning)
    out.extend(_dead_steps(cfg))
    entries = _entries_possible(cfg)
    if entries < 2:
        out.append(
            f"capital: stake {config_stake(cfg)} USDT on a balance of "
            f"{cfg.capital.starting_balance_usdt} USDT with a notional floor of "
            f"{_floor(cfg)} USDT leaves room for {entries} entr{'y' if entries == 1 else 'ies'} "
            "at a time, fewer than two"
        )
    if mode in _CANDLE_MODES:
        table_note = shipped_table_note(cfg)
        if table_note:
            out.append(table_note)
    return out


def shipped_table_note(cfg: BotConfig) -> str | None:
    """Say so when a non-Binance bot is simulated with the shipped Binance tick/lot table."""
    if cfg.exchange.id == "binance":
        return None
    uncovered = [p for p in cfg.pairs if p not in cfg.markets]
    if not uncovered:
        return None
    return (
        f"exchange.id {cfg.exchange.id!r}: {', '.join(uncovered)} use the shipped Binance "
        f"spot price tick and lot table, not {cfg.exchange.id}'s; give them under `markets` "
        "for exact rounding"
    )


def book_only_confirming(cfg: BotConfig) -> str | None:
    """A problem text when every confirming signal needs an order book (never fires on candles)."""
    if set(cfg.signals.confirming) != {"ob_imbalance"}:
        return None
    return (
        "signals.confirming = ['ob_imbalance']: order-book imbalance needs a live order book, "
        "which candle data has not, so this bot could never enter; add a candle signal "
        "(rsi_band, macd_rising, volume_spike), give --ticks, or use paper/live mode"
    )


def _floor(cfg: BotConfig) -> Decimal:
    """The configured minimum order notional (0 when the notional filter is off)."""
    return cfg.filters.notional.min_usdt if cfg.filters.notional.enabled else Decimal(0)


def _entries_possible(cfg: BotConfig) -> int:
    """How many entries (up to 2) the starting balance funds, after fees, at the floor."""
    cash = cfg.capital.starting_balance_usdt
    fee = Decimal(str(cfg.costs.taker_fee_pct)) / 100
    stake = config_stake(cfg)
    floor = max(_floor(cfg), Decimal("0.00000001"))
    count = 0
    while count < 2:
        size = min(stake, cash / (1 + fee))
        if size < floor:
            break
        cash -= size * (1 + fee)
        count += 1
    return count


def _dead_steps(cfg: BotConfig) -> list[str]:
    """Stepwise levels the position is always fully closed before (by TP1, earlier steps, TP2)."""
    ex = cfg.exits
    if not ex.stepwise.enabled:
        return []
    table = fee_table(cfg)
    gross = {lvl.code: lvl.gross_pct for lvl in table.levels}
    # order of prices on the way up; at one price TP2 and TP1 act before the steps (SPEC §6)
    events: list[tuple[Decimal, int, str]] = [(gross["tp2"], 0, "tp2")]
    if ex.tp1_pct is not None:
        events.append((gross["tp1"], 1, "tp1"))
    n = len(ex.stepwise.levels_usdt)
    events += [(gross[f"step_{i}"], 2, f"step_{i}") for i in range(1, n + 1)]
    rest = Decimal(1)
    dead: list[str] = []
    for _, _, code in sorted(events):
        if code == "tp2":
            rest = Decimal(0)
        elif code == "tp1":
            rest -= min(rest, Decimal(str(ex.tp1_share)))
        elif rest <= 0:
            dead.append(code)
        else:
            i = int(code.split("_")[1])
            rest = Decimal(0) if i == n else rest - min(rest, ex.stepwise.shares[i - 1])
    if not dead:
        return []
    closers = f"TP1 (share {ex.tp1_share}), " if ex.tp1_pct is not None else ""
    return [
        f"exits.stepwise: {', '.join(dead)} can never fire: {closers}TP2 and the earlier "
        f"steps close the whole position before its price (shares "
        f"{', '.join(str(s) for s in ex.stepwise.shares)})"
    ]
