"""Command lines the supervisor starts: one ``optiflow run`` per bot, or one host per group."""

from __future__ import annotations

import signal
import sys

from optiflow.supervisor.spec import BotEntry, Fleet


def _replay_args(fleet: Fleet) -> list[str]:
    """``--data --speed --from --to`` of a replay fleet (as given)."""
    r, out = fleet.replay, []
    if r.data is not None:
        out += ["--data", str(r.data.resolve())]
    if r.speed is not None:
        out += ["--speed", str(r.speed)]
    if r.when_from:
        out += ["--from", r.when_from]
    if r.when_to:
        out += ["--to", r.when_to]
    return out


def bot_command(fleet: Fleet, entry: BotEntry) -> list[str]:
    """The ``optiflow run`` command line of one bot of the fleet."""
    mode = fleet.settings.mode
    cmd = [sys.executable, "-m", "optiflow.interfaces.cli.main", "run"]
    cmd += [str(entry.config_path.resolve()), "--mode", mode]
    cmd += ["--state-dir", str(entry.state_dir.resolve())]
    if mode == "replay":
        cmd += _replay_args(fleet)
    if mode == "live":
        cmd.append("--live")
    return cmd


def host_command(fleet: Fleet, entries: list[BotEntry]) -> list[str]:
    """The command line of a host running `entries` in one process (``fleet_host run``)."""
    s = fleet.settings
    cmd = [sys.executable, "-m", "optiflow.interfaces.cli.fleet_host", "run", "--mode", s.mode]
    if s.mode == "replay":
        cmd += _replay_args(fleet)
    if s.mode == "live":
        cmd.append("--live")
    cmd += ["--stagger", str(s.stagger_s), "--backoff", str(s.backoff_s)]
    cmd += ["--max-restarts", str(s.max_restarts_per_hour)]
    cmd += ["--state-root", str(fleet.state_root.resolve())]
    for e in entries:
        cmd += ["--config", str(e.config_path.resolve()), "--state-dir", str(e.state_dir.resolve())]
    return cmd


def launch_command(fleet: Fleet, entries: list[BotEntry]) -> list[str]:
    """One bot alone: ``optiflow run`` (full isolation); several: a host."""
    return bot_command(fleet, entries[0]) if len(entries) == 1 else host_command(fleet, entries)


def describe_exit(rc: int | None) -> str:
    """A short human text for how a bot process ended."""
    if rc is None:
        return "is no longer running"
    if rc < 0:
        try:
            return f"was killed by {signal.Signals(-rc).name}"
        except ValueError:
            return f"was killed by signal {-rc}"
    return f"exited with code {rc}"
