"""Pure fee arithmetic of a config: what each exit level makes after round-trip taker fees.

A price move ``g`` (fraction, +0.003 for +0.30 %) on a stake ``S`` with entry fee ``fi`` and
exit fee ``fo`` (fractions of notional) nets ``S*g - S*fi - S*(1+g)*fo``. TP1, TP2 and SL are
configured as gross price moves; AutoProfit and the timeout threshold as net pnl percent
(SPEC: pnl is net of fees); a stepwise level as net USDT on the original position.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from optiflow.config.models import BotConfig

_HUNDRED = Decimal(100)


@dataclass(frozen=True, slots=True)
class FeeLevel:
    """One exit level: its gross price move, net pnl percent and net USDT on the stake."""

    code: str
    label: str
    gross_pct: Decimal
    net_pct: Decimal
    net_usdt: Decimal


@dataclass(frozen=True, slots=True)
class FeeTable:
    """Fee arithmetic of one config at one stake; win rates are fractions in [0, 1]."""

    stake_usdt: Decimal
    taker_fee_pct: Decimal
    round_trip_fee_pct: Decimal
    levels: tuple[FeeLevel, ...]
    breakeven_winrate_tp1: Decimal | None
    breakeven_winrate_tp2: Decimal | None
    fees_warning: bool
    warning: str | None

    def level(self, code: str) -> FeeLevel:
        """The level with this code (tp1, tp2, step_1.., sl, auto_profit, timeout)."""
        for lvl in self.levels:
            if lvl.code == code:
                return lvl
        raise KeyError(code)


def _dec(x: float) -> Decimal:
    """A config float as the Decimal it was written as (0.3 -> Decimal('0.3'))."""
    return Decimal(str(x))


def config_stake(cfg: BotConfig) -> Decimal:
    """The stake per trade: capital.stake_usdt (capped at the starting balance, as every run
    caps it at the free balance), or stake_fraction x starting balance."""
    cap = cfg.capital
    if cap.stake_usdt is not None:
        return min(cap.stake_usdt, cap.starting_balance_usdt)
    fraction = _dec(cap.stake_fraction if cap.stake_fraction is not None else 1.0)
    return fraction * cap.starting_balance_usdt


def net_fraction(gross: Decimal, fee_in: Decimal, fee_out: Decimal) -> Decimal:
    """Net pnl as a fraction of the stake for a gross price move (fractions throughout)."""
    return gross - fee_in - (1 + gross) * fee_out


def gross_fraction(net: Decimal, fee_in: Decimal, fee_out: Decimal) -> Decimal:
    """The gross price move whose net pnl fraction is ``net`` (inverse of net_fraction)."""
    return (net + fee_in + fee_out) / (1 - fee_out)


def breakeven_winrate(gain_pct: Decimal, loss_pct: Decimal) -> Decimal | None:
    """Win rate p where p*gain = (1-p)*loss, i.e. loss/(loss+gain); None if gain <= 0."""
    if gain_pct <= 0:
        return None
    return loss_pct / (loss_pct + gain_pct)


def fee_table(cfg: BotConfig, stake: Decimal | None = None) -> FeeTable:
    """Gross %, net % and net $ of every exit level of ``cfg`` at ``stake`` (default: cfg's)."""
    stake = config_stake(cfg) if stake is None else stake
    fee = _dec(cfg.costs.taker_fee_pct) / _HUNDRED
    ex = cfg.exits

    def from_gross(code: str, label: str, gross_pct: Decimal) -> FeeLevel:
        """A level configured as a gross price move in percent."""
        net = net_fraction(gross_pct / _HUNDRED, fee, fee)
        return FeeLevel(code, label, gross_pct, net * _HUNDRED, net * stake)

    def from_net(code: str, label: str, net_pct: Decimal) -> FeeLevel:
        """A level configured as a net pnl in percent of the stake."""
        gross = gross_fraction(net_pct / _HUNDRED, fee, fee)
        return FeeLevel(code, label, gross * _HUNDRED, net_pct, net_pct / _HUNDRED * stake)

    levels: list[FeeLevel] = []
    tp1 = None if ex.tp1_pct is None else from_gross("tp1", "TP1", _dec(ex.tp1_pct))
    tp2 = from_gross("tp2", "TP2" if tp1 else "TP2 (full close)", _dec(ex.tp2_pct))
    if tp1 is not None:
        levels.append(tp1)
    levels.append(tp2)
    if ex.stepwise.enabled:
        for i, usdt in enumerate(ex.stepwise.levels_usdt, start=1):
            levels.append(
                from_net(f"step_{i}", f"Step {i} (+${usdt:.2f})", usdt / stake * _HUNDRED)
            )
    sl = from_gross("sl", "SL", -_dec(ex.sl_pct))
    levels.append(sl)
    if ex.auto_profit_pct is not None:
        levels.append(from_net("auto_profit", "AutoProfit (net)", _dec(ex.auto_profit_pct)))
    if ex.timeout_min is not None:
        label = f"Timeout ({ex.timeout_min:g} min, closes below this net)"
        levels.append(from_net("timeout", label, _dec(ex.timeout_min_pnl_pct)))

    loss = -sl.net_pct
    wr1 = None if tp1 is None else breakeven_winrate(tp1.net_pct, loss)
    wr2 = breakeven_winrate(tp2.net_pct, loss)
    first = tp1 or tp2
    round_trip = 2 * fee * _HUNDRED
    warning = None
    if first.net_pct <= 0:
        warning = (
            f"{first.label} {first.gross_pct.normalize():f} % does not clear the round-trip "
            f"fees of {round_trip.normalize():f} %: a win nets {first.net_pct:.4f} %, so no "
            f"win rate breaks even against SL -{ex.sl_pct} %"
        )
    return FeeTable(
        stake_usdt=stake,
        taker_fee_pct=fee * _HUNDRED,
        round_trip_fee_pct=round_trip,
        levels=tuple(levels),
        breakeven_winrate_tp1=wr1,
        breakeven_winrate_tp2=wr2,
        fees_warning=warning is not None,
        warning=warning,
    )
