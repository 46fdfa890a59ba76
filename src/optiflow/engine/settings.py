"""Plain, fast-to-read engine settings derived once from a validated ``BotConfig``."""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from decimal import Decimal

from optiflow.config.models import BotConfig
from optiflow.decisions.ladder import LadderParams
from optiflow.filters.market import MarketFilterParams
from optiflow.signals.catalogue import SignalParams
from optiflow.signals.oneplusone import SignalSet

TIMEFRAME_MS = {
    "1m": 60_000,
    "3m": 180_000,
    "5m": 300_000,
    "15m": 900_000,
    "30m": 1_800_000,
    "1h": 3_600_000,
}


@dataclass(frozen=True, slots=True)
class EngineSettings:
    """Everything the engine reads on its hot path, as plain values."""

    name: str
    prefix: str
    symbols: tuple[str, ...]
    timeframe_ms: int
    max_positions: int
    reactive_entry: bool
    starting_balance: Decimal
    stake_usdt: Decimal | None
    stake_fraction: float | None
    fee_rate: Decimal
    slippage_rate: Decimal
    signals: SignalSet
    market_filters: MarketFilterParams
    min_order_usdt: Decimal
    notional_enabled: bool
    cooldown_s: float | None
    rate_per_hour: int | None
    blacklist_sl: int | None
    blacklist_window_min: float
    blacklist_pause_min: float
    ladder: LadderParams
    near_miss_keep: int = 50
    exit_retry_ms: int = 30_000  # first back-off after a refused exit
    exit_retry_max_ms: int = 900_000
    exit_escalate_after: int = 3
    shadows: bool = True  # shadow outcomes of blocked signals (engine/shadows.py)


def client_prefix(name: str) -> str:
    """A short, exchange-safe client-id prefix unique to a bot name (readable part + hash).

    Binance allows 36 characters; ``of`` + 10 + 4 hex leaves room for ``-000123-12sl``.
    Two bots on one account never share a prefix, so neither adopts the other's orders.
    """
    safe = "".join(ch for ch in name if ch.isalnum())[:10]
    return f"of{safe}{zlib.crc32(name.encode()) & 0xFFFF:04x}"


def settings_from_config(cfg: BotConfig) -> EngineSettings:
    """Translate a validated config into engine settings."""
    f, x, c = cfg.filters, cfg.exits, cfg.costs
    fee = c.taker_fee_pct / 100.0
    return EngineSettings(
        name=cfg.name,
        prefix=client_prefix(cfg.name),
        symbols=tuple(cfg.pairs),
        timeframe_ms=TIMEFRAME_MS[cfg.timeframe],
        max_positions=cfg.max_positions,
        reactive_entry=cfg.reactive_entry,
        starting_balance=Decimal(cfg.capital.starting_balance_usdt),
        stake_usdt=None if cfg.capital.stake_usdt is None else Decimal(cfg.capital.stake_usdt),
        stake_fraction=cfg.capital.stake_fraction,
        fee_rate=Decimal(str(c.taker_fee_pct)) / 100,
        slippage_rate=Decimal(str(c.slippage_pct)) / 100,
        signals=SignalSet.from_names(
            tuple(cfg.signals.primary),
            tuple(cfg.signals.confirming),
            SignalParams(
                rsi_low=cfg.signals.rsi_low,
                rsi_high=cfg.signals.rsi_high,
                volume_spike_mult=cfg.signals.volume_spike_mult,
                ob_imbalance_min=cfg.signals.ob_imbalance_min,
            ),
        ),
        market_filters=MarketFilterParams(
            spread_max_pct=f.spread.max_pct if f.spread.enabled else None,
            volume_mult=f.volume.mult if f.volume.enabled else None,
            atr_mult=f.atr.mult if f.atr.enabled else None,
        ),
        min_order_usdt=Decimal(f.notional.min_usdt) if f.notional.enabled else Decimal(0),
        notional_enabled=f.notional.enabled,
        cooldown_s=f.cooldown.seconds if f.cooldown.enabled else None,
        rate_per_hour=f.rate.max_entries_per_hour if f.rate.enabled else None,
        blacklist_sl=f.blacklist.stop_losses if f.blacklist.enabled else None,
        blacklist_window_min=f.blacklist.window_min,
        blacklist_pause_min=f.blacklist.pause_min,
        ladder=LadderParams(
            sl_pct=x.sl_pct,
            tp1_pct=x.tp1_pct,
            tp2_pct=x.tp2_pct,
            tp1_share=Decimal(str(x.tp1_share)),
            breakeven_after_tp1=x.breakeven_after_tp1,
            step_levels_usdt=tuple(Decimal(v) for v in x.stepwise.levels_usdt)
            if x.stepwise.enabled
            else (),
            step_shares=tuple(Decimal(v) for v in x.stepwise.shares) if x.stepwise.enabled else (),
            auto_profit_pct=x.auto_profit_pct,
            timeout_min=x.timeout_min,
            timeout_min_pnl_pct=x.timeout_min_pnl_pct,
            max_hold_min=x.max_hold_min,
            fee_in=fee,
            fee_out=fee,
        ),
        exit_retry_ms=int(cfg.safety.exit_retry_s * 1000),
        exit_retry_max_ms=int(cfg.safety.exit_retry_max_s * 1000),
        exit_escalate_after=cfg.safety.exit_escalate_after,
        shadows=cfg.shadows.enabled,
    )
