"""Frozen, closed bot config models; cross-field checks call the named rules in ``rules``."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, model_validator

from optiflow.config import rules
from optiflow.config.telegram import TelegramConfig

PrimarySignal = Literal["ema_trend", "ema_cross", "breakout", "vwap_reclaim"]
ConfirmingSignal = Literal["rsi_band", "macd_rising", "volume_spike", "ob_imbalance"]
Mode = Literal["backtest", "replay", "paper", "live"]
Timeframe = Literal["1m", "3m", "5m", "15m", "30m", "1h"]
Direction = Literal["long", "short", "both"]

BotName = Annotated[str, AfterValidator(rules.check_name)]
Pair = Annotated[str, AfterValidator(rules.check_pair)]
Period = Annotated[int, Field(ge=1)]
NonNegFloat = Annotated[float, Field(ge=0)]
PosFloat = Annotated[float, Field(gt=0)]
PosDecimal = Annotated[Decimal, Field(gt=0)]
NonNegDecimal = Annotated[Decimal, Field(ge=0)]


class _Frozen(BaseModel):
    """Base of every config model: immutable, unknown keys rejected, no NaN/inf."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class ExchangeConfig(_Frozen):
    """Which exchange and market a bot trades; base URLs are overridable for tests."""

    id: Annotated[str, Field(min_length=1)] = "binance"
    market: Literal["spot", "futures"] = "spot"
    api_base_url: str | None = None
    ws_base_url: str | None = None

    @model_validator(mode="after")
    def _rules(self) -> ExchangeConfig:
        """Base URLs are real URLs."""
        rules.rule_url("api_base_url", self.api_base_url, ("http", "https"))
        rules.rule_url("ws_base_url", self.ws_base_url, ("ws", "wss"))
        return self


class CapitalConfig(_Frozen):
    """Starting balance and the stake per trade: a fixed USDT amount or a fraction of equity."""

    starting_balance_usdt: PosDecimal = Decimal(400)
    stake_usdt: PosDecimal | None = Decimal(150)
    stake_fraction: Annotated[float, Field(gt=0, le=1)] | None = None

    @model_validator(mode="before")
    @classmethod
    def _fraction_replaces_default_stake(cls, data: Any) -> Any:
        """Giving only stake_fraction switches the default fixed stake off."""
        if (
            isinstance(data, dict)
            and data.get("stake_fraction") is not None
            and "stake_usdt" not in data
        ):
            return {**data, "stake_usdt": None}
        return data

    @model_validator(mode="after")
    def _rules(self) -> CapitalConfig:
        """Apply the capital rules."""
        rules.rule_exactly_one_stake(self.stake_usdt, self.stake_fraction)
        return self


class CostsConfig(_Frozen):
    """Fees, slippage and spread assumptions, in percent (0.1 means 0.1 %)."""

    taker_fee_pct: Annotated[float, Field(ge=0, lt=5)] = 0.1
    maker_fee_pct: Annotated[float, Field(ge=0, lt=5)] = 0.1
    slippage_pct: NonNegFloat = 0.02
    assumed_spread_pct: NonNegFloat = 0.02


class IndicatorsConfig(_Frozen):
    """Indicator periods and windows, in candles."""

    ema_fast: Period = 9
    ema_slow: Period = 21
    rsi_period: Period = 14
    macd_fast: Period = 12
    macd_slow: Period = 26
    macd_signal: Period = 9
    atr_period: Period = 14
    median_window: Period = 60
    breakout_lookback: Period = 20
    vwap_window: Period = 60

    @model_validator(mode="after")
    def _rules(self) -> IndicatorsConfig:
        """Apply the indicator rules."""
        rules.rule_ema_fast_below_slow(self.ema_fast, self.ema_slow)
        rules.rule_macd_fast_below_slow(self.macd_fast, self.macd_slow)
        return self


class SignalsConfig(_Frozen):
    """Which primary and confirming signals a bot uses (the 1+1 rule) and their thresholds."""

    primary: Annotated[tuple[PrimarySignal, ...], Field(min_length=1)]
    confirming: Annotated[tuple[ConfirmingSignal, ...], Field(min_length=1)]
    rsi_low: Annotated[float, Field(ge=0, le=100)] = 50
    rsi_high: Annotated[float, Field(ge=0, le=100)] = 70
    volume_spike_mult: PosFloat = 1.5
    ob_imbalance_min: Annotated[float, Field(ge=0, le=1)] = 0.6

    @model_validator(mode="after")
    def _rules(self) -> SignalsConfig:
        """Apply the signal rules."""
        rules.rule_unique_items("primary", self.primary)
        rules.rule_unique_items("confirming", self.confirming)
        rules.rule_rsi_band_ordered(self.rsi_low, self.rsi_high)
        return self


class SpreadFilter(_Frozen):
    """Reject entries when (ask - bid) / mid exceeds max_pct percent."""

    enabled: bool = True
    max_pct: PosFloat = 0.4


class NotionalFilter(_Frozen):
    """Reject orders below min_usdt notional (and below the exchange minimum)."""

    enabled: bool = True
    min_usdt: NonNegDecimal = Decimal(50)


class VolumeFilter(_Frozen):
    """Require last volume >= mult x median volume of the window."""

    enabled: bool = True
    mult: NonNegFloat = 1.2


class AtrFilter(_Frozen):
    """Require ATR >= mult x median ATR of the window."""

    enabled: bool = True
    mult: NonNegFloat = 0.9


class CooldownFilter(_Frozen):
    """Require this many seconds since the last trade on the symbol."""

    enabled: bool = True
    seconds: NonNegFloat = 300


class RateFilter(_Frozen):
    """Allow at most this many entries per rolling hour per bot."""

    enabled: bool = True
    max_entries_per_hour: Period = 6


class BlacklistFilter(_Frozen):
    """Pause a symbol for pause_min after stop_losses stop-losses within window_min."""

    enabled: bool = True
    stop_losses: Period = 3
    window_min: PosFloat = 360
    pause_min: PosFloat = 120


class FiltersConfig(_Frozen):
    """Every entry filter with its threshold and an on/off switch."""

    spread: SpreadFilter = Field(default_factory=SpreadFilter)
    notional: NotionalFilter = Field(default_factory=NotionalFilter)
    volume: VolumeFilter = Field(default_factory=VolumeFilter)
    atr: AtrFilter = Field(default_factory=AtrFilter)
    cooldown: CooldownFilter = Field(default_factory=CooldownFilter)
    rate: RateFilter = Field(default_factory=RateFilter)
    blacklist: BlacklistFilter = Field(default_factory=BlacklistFilter)


def _decimals(*values: str) -> tuple[Decimal, ...]:
    """Exact Decimal defaults from their decimal text."""
    return tuple(Decimal(v) for v in values)


class StepwiseConfig(_Frozen):
    """Stepwise take-profit: at each net profit level (USDT) close a share of the original qty."""

    enabled: bool = True
    levels_usdt: tuple[Decimal, ...] = _decimals("0.10", "0.20", "0.30", "0.40")
    shares: tuple[Decimal, ...] = _decimals("0.2", "0.2", "0.3", "0.3")

    @model_validator(mode="after")
    def _rules(self) -> StepwiseConfig:
        """Apply the stepwise rules."""
        rules.rule_stepwise_lengths_match(self.levels_usdt, self.shares)
        rules.rule_stepwise_levels_increasing(self.levels_usdt)
        rules.rule_stepwise_shares_valid(self.shares)
        return self


class ExitsConfig(_Frozen):
    """The exit ladder; percents are price moves from entry except where noted (net pnl)."""

    tp1_pct: PosFloat | None = 0.30
    tp2_pct: PosFloat = 0.60
    tp1_share: Annotated[float, Field(gt=0, lt=1)] = 0.5
    sl_pct: Annotated[float, Field(gt=0, lt=100)] = 0.60
    breakeven_after_tp1: bool = True
    stepwise: StepwiseConfig = Field(default_factory=StepwiseConfig)
    auto_profit_pct: PosFloat | None = 3.0
    timeout_min: PosFloat | None = 60
    timeout_min_pnl_pct: float = 1.0
    max_hold_min: PosFloat | None = 120

    @model_validator(mode="before")
    @classmethod
    def _tp2_default(cls, data: Any) -> Any:
        """TP2 defaults to 2 x TP1 (SPEC §6); with ``tp1_pct: null`` it stays 0.6."""
        if isinstance(data, dict) and "tp2_pct" not in data:
            tp1 = data.get("tp1_pct", 0.30)
            if isinstance(tp1, int | float) and not isinstance(tp1, bool) and tp1 > 0:
                return {**data, "tp2_pct": 2 * tp1}
        return data

    @model_validator(mode="after")
    def _rules(self) -> ExitsConfig:
        """Apply the exit rules."""
        rules.rule_tp1_below_tp2(self.tp1_pct, self.tp2_pct)
        rules.rule_timeout_below_max_hold(self.timeout_min, self.max_hold_min)
        return self


class TargetsConfig(_Frozen):
    """The user's own targets, shown as target vs measured in reports, never promised."""

    daily_usd_min: NonNegDecimal
    daily_usd_max: NonNegDecimal
    deposit_usd_min: NonNegDecimal
    deposit_usd_max: NonNegDecimal

    @model_validator(mode="after")
    def _rules(self) -> TargetsConfig:
        """Apply the target range rules."""
        rules.rule_min_le_max(
            "daily_usd_min", self.daily_usd_min, "daily_usd_max", self.daily_usd_max
        )
        rules.rule_min_le_max(
            "deposit_usd_min", self.deposit_usd_min, "deposit_usd_max", self.deposit_usd_max
        )
        return self


class MarketLimitsConfig(_Frozen):
    """Per-pair override of the exchange precision and limits table."""

    price_tick: PosDecimal
    amount_step: PosDecimal
    min_amount: NonNegDecimal = Decimal(0)
    min_notional: NonNegDecimal = Decimal(0)


class SafetyConfig(_Frozen):
    """Live-safety pacing: how a bot backs off a refused exit and an exchange that is down."""

    exit_retry_s: PosFloat = 30  # first wait after an exit the exchange refused
    exit_retry_max_s: PosFloat = 900  # the wait doubles per refusal up to this
    exit_escalate_after: Annotated[int, Field(ge=1)] = 3  # refusals before the 🚨 alert
    start_retry_max_s: PosFloat = 60  # longest wait between start attempts in an outage


class ShadowsConfig(_Frozen):
    """Shadow outcomes: every blocked 1+1 signal followed with no money (engine/shadows.py)."""

    enabled: StrictBool = True


class BotConfig(_Frozen):
    """One bot: its pairs, signals, filters, exits, money and exchange settings."""

    name: BotName
    mode: Mode = "paper"
    exchange: ExchangeConfig = Field(default_factory=ExchangeConfig)
    pairs: Annotated[tuple[Pair, ...], Field(min_length=1)]
    timeframe: Timeframe = "1m"
    interval_s: PosFloat = 20
    direction: Direction = "long"
    max_positions: Period = 2
    reactive_entry: bool = True
    capital: CapitalConfig = Field(default_factory=CapitalConfig)
    costs: CostsConfig = Field(default_factory=CostsConfig)
    indicators: IndicatorsConfig = Field(default_factory=IndicatorsConfig)
    signals: SignalsConfig
    filters: FiltersConfig = Field(default_factory=FiltersConfig)
    exits: ExitsConfig = Field(default_factory=ExitsConfig)
    targets: TargetsConfig | None = None
    markets: dict[str, MarketLimitsConfig] = Field(default_factory=dict)
    safety: SafetyConfig = Field(default_factory=SafetyConfig)
    shadows: ShadowsConfig = Field(default_factory=ShadowsConfig)
    telegram: TelegramConfig = Field(default_factory=TelegramConfig)

    @model_validator(mode="after")
    def _rules(self) -> BotConfig:
        """Apply the bot-wide rules."""
        rules.rule_unique_items("pairs", self.pairs)
        rules.rule_long_only_engine(self.direction)
        rules.rule_market_overrides_in_pairs(tuple(self.markets), self.pairs)
        return self
