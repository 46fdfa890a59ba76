"""Which ``optiflow run`` flags go with which --mode: one clear error for a flag that does not."""

from __future__ import annotations

from pathlib import Path

from optiflow.config.models import BotConfig
from optiflow.domain.errors import UserInputError

MODES = ("replay", "rehearsal", "paper", "live")


def check_run_flags(
    cfg: BotConfig,
    config: str,
    mode: str,
    live: bool,
    secrets: Path | None,
    use_telegram: bool,
    accept_config_change: bool,
    faults: str | None,
) -> None:
    """Raise UserInputError for a --mode that does not exist or a flag the mode does not take."""
    if mode not in MODES:
        raise UserInputError(f"--mode {mode}: one of {', '.join(MODES)}")
    if faults is not None and mode != "rehearsal":
        raise UserInputError("--faults only applies to --mode rehearsal")
    if mode == "live" and not (cfg.mode == "live" and live):
        raise UserInputError(
            f"live trading needs both mode: live in {config} (it says {cfg.mode}) and --live "
            "on the command line"
        )
    if mode != "live" and live:
        raise UserInputError("--live only applies to --mode live")
    if mode != "live" and secrets is not None and not use_telegram:
        raise UserInputError(
            f"--secrets {secrets}: only for --mode live (API keys are never used by {mode}) "
            "or for the telegram token"
        )
    if accept_config_change and mode != "replay":
        raise UserInputError("--accept-config-change only applies to --mode replay")
