"""Which `optiflow run` flags go with which --mode: each wrong pairing is one clear error."""

from __future__ import annotations

from pathlib import Path

import pytest

from optiflow.config.loader import load_config
from optiflow.config.presets import find_config
from optiflow.domain.errors import UserInputError
from optiflow.interfaces.cli.run_flags import check_run_flags

CFG = load_config(find_config("A"))


@pytest.mark.parametrize(
    ("mode", "live", "secrets", "telegram", "accept", "faults", "says"),
    [
        ("backtest", False, None, False, False, None, "--mode backtest: one of replay"),
        ("paper", False, None, False, False, "seed=1", "--faults only applies"),
        ("replay", False, None, False, False, "seed=1", "--faults only applies"),
        ("live", True, None, False, False, None, "it says paper"),
        ("live", False, None, False, False, None, "--live on the command line"),
        ("paper", True, None, False, False, None, "--live only applies"),
        ("paper", False, Path("k.json"), False, False, None, "--secrets k.json: only for"),
        ("rehearsal", False, None, False, True, None, "--accept-config-change only"),
    ],
)
def test_wrong_pairing_is_refused(
    mode: str,
    live: bool,
    secrets: Path | None,
    telegram: bool,
    accept: bool,
    faults: str | None,
    says: str,
) -> None:
    """A flag the mode does not take names the flag and what it needs."""
    with pytest.raises(UserInputError) as err:
        check_run_flags(CFG, "A", mode, live, secrets, telegram, accept, faults)
    assert says in str(err.value)


@pytest.mark.parametrize(
    ("mode", "live", "secrets", "telegram", "accept", "faults"),
    [
        ("rehearsal", False, None, False, False, "seed=1"),
        ("replay", False, None, False, True, None),
        ("paper", False, Path("t.json"), True, False, None),
        ("paper", False, None, False, False, None),
    ],
)
def test_right_pairing_passes(
    mode: str, live: bool, secrets: Path | None, telegram: bool, accept: bool, faults: str | None
) -> None:
    """The flags a mode takes raise nothing."""
    check_run_flags(CFG, "A", mode, live, secrets, telegram, accept, faults)


def test_live_needs_both_switches() -> None:
    """mode: live in the config plus --live passes; either alone is refused."""
    live_cfg = CFG.model_copy(update={"mode": "live"})
    check_run_flags(live_cfg, "A", "live", True, None, False, False, None)
    with pytest.raises(UserInputError, match="it says live"):
        check_run_flags(live_cfg, "A", "live", False, None, False, False, None)
