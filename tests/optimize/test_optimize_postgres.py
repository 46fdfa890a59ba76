"""Several `optiflow optimize` processes on one study in a real PostgreSQL server."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest

sys.path.insert(0, str(Path(__file__).parent))
import planted  # noqa: E402

CLI = [sys.executable, "-m", "optiflow.interfaces.cli.main", "optimize"]


def _pg_bin() -> Path | None:
    """The folder of PostgreSQL's initdb/pg_ctl, newest version first, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    if found:
        return Path(found[0]).parent
    which = shutil.which("initdb")
    return Path(which).parent if which else None


def _free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL server in a temp folder (run as nobody when we are root)."""
    bindir = _pg_bin()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    as_user: list[str] = []
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            pytest.skip("running as root and runuser is missing: initdb refuses root")
        as_user = ["runuser", "-u", "nobody", "--"]
    root = Path(tempfile.mkdtemp(prefix="optiflow-pg-", dir="/tmp"))
    root.chmod(0o777)
    data, port = root / "data", _free_port()
    env = {**os.environ, "LC_ALL": "C"}
    subprocess.run(
        [*as_user, str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust",
         "--no-sync", "-E", "UTF8"],
        check=True, capture_output=True, env=env, cwd=root,
    )  # fmt: skip
    opts = f"-p {port} -k {root} -h 127.0.0.1 -F"
    subprocess.run(
        [*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-o", opts,
         "-w", "start"],
        check=True, capture_output=True, env=env, cwd=root,
    )  # fmt: skip
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True, env=env, cwd=root,
        )  # fmt: skip
        shutil.rmtree(root, ignore_errors=True)


def test_two_processes_share_one_postgres_study(postgres_url: str, tmp_path: Path) -> None:
    """Two commands (as on two hosts) fill one study; no trial is run twice."""
    cfg, data, space = planted.write_setup(tmp_path, days=4)
    procs = [
        subprocess.Popen(
            [*CLI, str(cfg), "--data", str(data), "--space", str(space), "--trials", "16",
             "--jobs", "1", "--min-trades", "3", "--storage", postgres_url, "--study", "shared",
             "--out", str(tmp_path / f"host{i}")],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        for i in range(2)
    ]
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, out + err
    study = optuna.load_study(study_name="shared", storage=postgres_url)
    trials = study.get_trials(deepcopy=False)
    done = [t for t in trials if t.state.is_finished() and t.state.name != "FAIL"]
    assert 16 <= len(done) <= 17
    numbers = [t.number for t in trials]
    assert len(numbers) == len(set(numbers))
    assert len({t.user_attrs["worker"] for t in trials}) == 2, "both processes ran trials"
    assert len(optuna.get_all_study_names(postgres_url)) == 1
