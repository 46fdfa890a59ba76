"""Bad fleet folders are refused with one clear line (exit 2) before any bot starts."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.supervisor.fleet_support import cli, make_fleet  # noqa: E402

TWO = [("A", "OptiScalp_A", None), ("B", "OptiScalp_B", None)]


def _refused(folder: Path, root: Path, *needles: str) -> str:
    """`fleet run` exits 2 with one line holding every needle; nothing was started."""
    out = cli("fleet", "run", str(folder), "--mode", "replay", "--speed", "0")
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in out.stderr, out.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert not root.exists(), "a state folder was created: something started"
    return lines[0]


def test_two_bots_with_one_name_are_refused(tmp_path: Path) -> None:
    """Two configs naming the same bot: the second file and the name are in the message."""
    root = tmp_path / "state"
    folder = make_fleet(tmp_path / "f", TWO, {"state_root": str(root)})
    cfg = json.loads((folder / "OptiScalp_B.json").read_text())
    cfg["name"] = "OptiScalp_A"
    (folder / "dup.json").write_text(json.dumps(cfg))
    _refused(folder, root, "dup.json", "'OptiScalp_A'", "already used")


def test_a_shared_pair_on_one_account_is_refused_unless_allowed(tmp_path: Path) -> None:
    """Two bots on BTC/USDT of one account need allow_shared_pairs: true in fleet.json."""
    root = tmp_path / "state"
    bots = TWO + [("C", "OptiScalp_C", ["XRP/USDT", "BTC/USDT"])]
    folder = make_fleet(tmp_path / "f", bots, {"state_root": str(root)})
    _refused(folder, root, "BTC/USDT", "OptiScalp_A", "allow_shared_pairs")
    (folder / "fleet.json").write_text(
        json.dumps({"state_root": str(root), "allow_shared_pairs": True})
    )
    out = cli("fleet", "check", str(folder), "--mode", "replay")
    assert out.returncode == 0, out.stderr
    assert "OK, 3 bots" in out.stdout


def test_other_accounts_may_trade_the_same_pair(tmp_path: Path) -> None:
    """The same pair on another exchange market is another account: allowed."""
    root = tmp_path / "state"
    folder = make_fleet(tmp_path / "f", TWO, {"state_root": str(root)})
    cfg = json.loads((folder / "OptiScalp_B.json").read_text())
    cfg["pairs"] = ["BTC/USDT"]
    cfg["exchange"] = {"id": "kraken", "market": "spot"}
    (folder / "OptiScalp_B.json").write_text(json.dumps(cfg))
    out = cli("fleet", "check", str(folder))
    assert out.returncode == 0, out.stderr


def test_one_broken_config_among_good_ones_is_refused(tmp_path: Path) -> None:
    """A config with a bad value: its file, field and value, and nothing starts."""
    root = tmp_path / "state"
    folder = make_fleet(tmp_path / "f", TWO, {"state_root": str(root)})
    cfg = json.loads((folder / "OptiScalp_B.json").read_text())
    cfg["interval_s"] = -5
    (folder / "OptiScalp_B.json").write_text(json.dumps(cfg))
    _refused(folder, root, "OptiScalp_B.json", "interval_s", "-5")


def test_a_config_that_is_not_json_is_refused(tmp_path: Path) -> None:
    """Broken JSON among good configs: the file and the line."""
    root = tmp_path / "state"
    folder = make_fleet(tmp_path / "f", TWO, {"state_root": str(root)})
    (folder / "broken.json").write_text('{"name": "X",\n  "pairs": [}\n')
    _refused(folder, root, "broken.json", "line 2")


@pytest.mark.parametrize(
    ("settings", "needles"),
    [
        ({"stagger": 2}, ("fleet.json", "'stagger'", "stagger_s")),
        ({"mode": "backtest"}, ("fleet.json", "mode", "backtest")),
        ({"stagger_s": -1}, ("fleet.json", "stagger_s", "-1")),
        ({"metrics_port": 70000}, ("fleet.json", "metrics_port", "70000")),
    ],
)
def test_bad_fleet_json_is_refused(
    tmp_path: Path, settings: dict[str, object], needles: tuple[str, ...]
) -> None:
    """An unknown key or a bad value in fleet.json: the key, the value, what is allowed."""
    root = tmp_path / "state"
    folder = make_fleet(tmp_path / "f", TWO, {"state_root": str(root), **settings})
    out = cli("fleet", "run", str(folder))  # no --mode: fleet.json's own value is checked
    assert out.returncode == 2, out.stderr
    line = out.stderr.strip()
    assert "\n" not in line and all(n in line for n in needles), line
    assert not root.exists()


def test_fleet_json_that_is_not_json_is_refused(tmp_path: Path) -> None:
    """A fleet.json with a syntax error names the file."""
    root = tmp_path / "state"
    folder = make_fleet(tmp_path / "f", TWO, {})
    (folder / "fleet.json").write_text("{mode: paper}")
    out = cli("fleet", "run", str(folder), "--state-root", str(root))
    assert out.returncode == 2 and "fleet.json" in out.stderr and "Traceback" not in out.stderr


def test_a_folder_without_configs_and_a_missing_folder_are_refused(tmp_path: Path) -> None:
    """No configs, or no folder at all: one line each."""
    (tmp_path / "empty").mkdir()
    out = cli("fleet", "run", str(tmp_path / "empty"))
    assert out.returncode == 2 and "holds no bot config" in out.stderr
    out = cli("fleet", "run", str(tmp_path / "nowhere"))
    assert out.returncode == 2 and "not a folder" in out.stderr


def test_a_live_fleet_needs_live_configs(tmp_path: Path) -> None:
    """--mode live with a paper config is refused before anything starts."""
    root = tmp_path / "state"
    folder = make_fleet(tmp_path / "f", TWO, {"state_root": str(root)})
    out = cli("fleet", "run", str(folder), "--mode", "live")
    assert out.returncode == 2 and "mode: live" in out.stderr and "OptiScalp_A.json" in out.stderr
    assert not root.exists()


def test_replay_flags_outside_replay_are_refused(tmp_path: Path) -> None:
    """--speed with --mode paper makes no sense: refused."""
    folder = make_fleet(tmp_path / "f", TWO, {"state_root": str(tmp_path / "s")})
    out = cli("fleet", "run", str(folder), "--mode", "paper", "--speed", "10")
    assert out.returncode == 2 and "--speed" in out.stderr
