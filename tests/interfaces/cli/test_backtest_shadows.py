"""The backtest CLI reports shadow outcomes: summary.json, the console and report.html."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def backtest(cfg: Path, out: Path) -> subprocess.CompletedProcess[str]:
    """Run the backtest CLI on four days of bundled data."""
    return subprocess.run(
        [sys.executable, "-m", "optiflow.interfaces.cli.main", "backtest", str(cfg),
         "--data", str(REPO / "data" / "binance_spot_1m"), "--from", "2023-04-01",
         "--to", "2023-04-05", "--out", str(out)],
        capture_output=True, text=True, timeout=300, cwd=REPO,
        env={"COLUMNS": "200", "PATH": ""},
    )  # fmt: skip


def test_summary_console_and_html_carry_the_shadow_table(tmp_path: Path) -> None:
    """Per filter: blocked (= the filter's rejections), shadow wins/losses, net PnL, the
    top missed winners best first; shadows.enabled false drops them and changes no trade."""
    data = json.loads((REPO / "configs" / "runtime_config_optiscalpA.json").read_text())
    on_cfg, off_cfg = tmp_path / "on.json", tmp_path / "off.json"
    on_cfg.write_text(json.dumps(data))
    off_cfg.write_text(json.dumps(data | {"shadows": {"enabled": False}}))
    run = backtest(on_cfg, tmp_path / "on")
    assert run.returncode == 0, run.stderr
    bot = json.loads((tmp_path / "on" / "summary.json").read_text())["bots"][0]
    shadows = bot["shadow_outcomes"]
    top = bot["shadow_top_missed"]
    assert {r: v["blocked"] for r, v in shadows.items()} == {
        r: n for r, n in bot["rejections"].items() if n
    }
    assert set(next(iter(shadows.values()))) == {
        "blocked", "shadow_wins", "shadow_losses", "shadow_net_pnl"
    }  # fmt: skip
    assert top and all(float(m["shadow_net_pnl"]) > 0 for m in top)
    nets = [float(m["shadow_net_pnl"]) for m in top]
    assert nets == sorted(nets, reverse=True)
    assert "Shadow outcomes per filter" in run.stdout and "earns its keep" in run.stdout
    for reason, v in shadows.items():
        line = next(ln for ln in run.stdout.splitlines() if ln.startswith(f"│ {reason} "))
        assert [c.strip() for c in line.split("│")][2] == str(v["blocked"])
    html = (tmp_path / "on" / "report.html").read_text()
    assert "Shadow outcomes per filter" in html and "Top missed winners" in html
    off = backtest(off_cfg, tmp_path / "off")
    assert off.returncode == 0, off.stderr
    off_bot = json.loads((tmp_path / "off" / "summary.json").read_text())["bots"][0]
    assert off_bot["shadow_outcomes"] is None and off_bot["shadow_top_missed"] == []
    assert off_bot["trades"] == bot["trades"] and off_bot["rejections"] == bot["rejections"]
    assert (tmp_path / "off" / "trades.csv").read_text() == (
        tmp_path / "on" / "trades.csv"
    ).read_text()
