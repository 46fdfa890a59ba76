"""A non-editable install (a built wheel) finds its presets and asks for --data by name."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def test_wheel_ships_presets_and_names_data_flag(tmp_path: Path) -> None:
    """Built as a wheel and installed elsewhere: presets load; backtest without --data says so."""
    wheels = tmp_path / "wheels"
    pip = [sys.executable, "-m", "pip", "-q", "--disable-pip-version-check"]
    built = subprocess.run(
        [*pip, "wheel", str(REPO), "--no-deps", "-w", str(wheels)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = wheels.glob("optiflow-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "optiflow/presets/runtime_config_optiscalpA.json" in names
    site = tmp_path / "site"
    done = subprocess.run(
        [*pip, "install", "--no-deps", "--target", str(site), str(wheel)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    env = {**os.environ, "PYTHONPATH": str(site)}
    cli = [sys.executable, "-m", "optiflow.interfaces.cli.main"]
    where = subprocess.run(
        [sys.executable, "-c", "import optiflow; print(optiflow.__file__)"],
        capture_output=True, text=True, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert where.stdout.startswith(str(site)), where.stdout
    ok = subprocess.run(
        [*cli, "check-config", "A"], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert ok.returncode == 0 and "OptiScalp_A" in ok.stdout, ok.stderr
    no_data = subprocess.run(
        [*cli, "backtest", "A"], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert no_data.returncode == 2 and "Traceback" not in no_data.stderr
    assert "give --data DIR" in no_data.stderr
