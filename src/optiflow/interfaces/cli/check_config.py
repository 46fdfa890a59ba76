"""The ``check-config`` command: validate a config and show its fee arithmetic as a table."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from rich.console import Console
from rich.table import Table

from optiflow.config.advice import config_warnings
from optiflow.config.fees import FeeTable, fee_table
from optiflow.config.loader import load_config
from optiflow.config.models import BotConfig
from optiflow.config.presets import find_config
from optiflow.interfaces.cli.secrets import load_telegram_token


def _pct(x: Decimal, places: int = 4) -> str:
    """A percent figure with a sign, e.g. +0.0997 %."""
    return f"{x:+.{places}f} %"


def _usd(x: Decimal) -> str:
    """A USDT amount with a sign, e.g. +$0.1496."""
    sign = "-" if x < 0 else "+"
    return f"{sign}${abs(x):.4f}"


def _winrate(x: Decimal | None) -> str:
    """A break-even win rate as percent, or a dash when none exists."""
    return "n/a (no win rate breaks even)" if x is None else f"{x * 100:.1f} %"


def render_fee_table(cfg: BotConfig, table: FeeTable) -> Table:
    """The rich table of every exit level: gross %, net %, net $ on the stake."""
    out = Table(
        title=f"{cfg.name}: exit levels after fees (stake ${table.stake_usdt:.2f}, "
        f"taker {table.taker_fee_pct.normalize():f} % per side)"
    )
    out.add_column("level")
    out.add_column("gross move", justify="right")
    out.add_column("net pnl", justify="right")
    out.add_column("net $ on stake", justify="right")
    for lvl in table.levels:
        style = "red" if lvl.net_usdt < 0 else None
        out.add_row(
            lvl.label, _pct(lvl.gross_pct), _pct(lvl.net_pct), _usd(lvl.net_usdt), style=style
        )
    return out


def check_config_command(path: Path, console: Console, secrets: Path | None = None) -> None:
    """Load a config (path or preset name) and print its fee arithmetic; raises ConfigError."""
    cfg = load_config(find_config(path))
    tg = cfg.telegram
    if tg.enabled:
        load_telegram_token(secrets)  # missing or malformed: one clear line, exit 2
    table = fee_table(cfg)
    console.print(f"[green]OK[/green] {path}: {cfg.name}, {', '.join(cfg.pairs)}, mode {cfg.mode}")
    console.print(render_fee_table(cfg, table))
    console.print(f"Round-trip taker fee: {table.round_trip_fee_pct.normalize():f} % of the stake")
    if cfg.exits.tp1_pct is not None:
        console.print(f"Break-even win rate TP1 vs SL: {_winrate(table.breakeven_winrate_tp1)}")
    console.print(f"Break-even win rate TP2 vs SL: {_winrate(table.breakeven_winrate_tp2)}")
    if tg.enabled:
        off = ", ".join(k for k, on in tg.notify.items() if not on) or "none"
        console.print(
            f"telegram: on, {len(tg.chat_ids)} chat(s), Bot API {tg.base_url}, token set, "
            f"kinds off: {off}, daily summary at {tg.daily_summary_hour_utc} h UTC"
        )
    for text in config_warnings(cfg, cfg.mode):
        console.print(f"[bold yellow]WARNING[/bold yellow] {text}")
