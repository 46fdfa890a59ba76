"""The check-config command prints the fee table, win rates and the TP1 warning."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from optiflow.interfaces.cli.check_config import check_config_command


def _run(name: str) -> str:
    """Run the command on a preset and return what it printed."""
    console = Console(record=True, width=120)
    check_config_command(Path(name), console)
    return console.export_text()


def test_check_config_prints_levels_and_win_rates() -> None:
    """Preset A shows TP1 net +0.0997 %, the round trip and both break-even rates."""
    out = _run("A")
    assert "OptiScalp_A" in out and "+0.0997 %" in out and "+$0.1496" in out
    assert "Round-trip taker fee: 0.2 %" in out
    assert "TP1 vs SL: 88.9 %" in out and "TP2 vs SL: 66.7 %" in out
    assert "does not clear" not in out  # the only warning: step 4 can never fire
    assert "WARNING exits.stepwise: step_4 can never fire" in out


def test_check_config_warns_when_tp1_does_not_clear_fees() -> None:
    """Preset C (TP1 0.20 % at 0.1 % per side) gets the fee warning."""
    out = _run("C")
    assert "WARNING" in out and "does not clear the round-trip fees of 0.2 %" in out
