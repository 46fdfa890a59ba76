"""``optiflow fleet run|start|status|stop|restart``: a folder of bots as one system."""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from optiflow.domain.errors import UserInputError
from optiflow.interfaces.cli.errors import user_errors_exit_2
from optiflow.supervisor import procs
from optiflow.supervisor.fleetstate import read_state, request_restart
from optiflow.supervisor.spec import Fleet, Replay, load_fleet, read_settings
from optiflow.supervisor.status import fleet_status, supervisor_pid

fleet_app = typer.Typer(
    no_args_is_help=True, help="Run, watch, stop and restart a folder of bots as one fleet."
)

DirArg = Annotated[Path, typer.Argument(help="Fleet folder: bot configs + optional fleet.json.")]
ModeOpt = Annotated[str | None, typer.Option(help="replay, paper or live (overrides fleet.json).")]
DataOpt = Annotated[Path | None, typer.Option(help="Replay: candle folder (default bundled).")]
SpeedOpt = Annotated[float | None, typer.Option(help="Replay speed: N x real time; 0 = fastest.")]
FromOpt = Annotated[str | None, typer.Option("--from", help="Replay start, ISO 8601 UTC.")]
ToOpt = Annotated[str | None, typer.Option("--to", help="Replay end, ISO 8601 UTC.")]
RootOpt = Annotated[Path | None, typer.Option(help="Folder of the bots' state folders.")]
StaggerOpt = Annotated[float | None, typer.Option(help="Seconds between two bot starts.")]
CapOpt = Annotated[float | None, typer.Option(help="Fleet-wide cap on open exposure, USDT.")]
TelegramOpt = Annotated[bool | None, typer.Option(help="Also run the Telegram service.")]
PortOpt = Annotated[int | None, typer.Option(help="Serve Prometheus metrics on 127.0.0.1:PORT.")]
PerProcessOpt = Annotated[
    int | None, typer.Option(help="Bots sharing one OS process (1: a process per bot).")
]


def _load(folder: Path, overrides: dict[str, Any], replay: Replay | None = None) -> Fleet:
    """Check the fleet folder with the command-line overrides (every problem before a start)."""
    r = replay or Replay()
    fleet = load_fleet(folder, overrides, r)
    given = r.data or r.speed is not None or r.when_from or r.when_to
    if fleet.settings.mode != "replay" and given:
        raise UserInputError("--data, --speed, --from and --to only apply to --mode replay")
    if r.data is not None and not r.data.is_dir():
        raise UserInputError(f"--data {r.data}: not a folder of candle files")
    return fleet


def _base(mode: str | None, state_root: Path | None) -> dict[str, Any]:
    """The overrides of commands that take only ``--mode`` and ``--state-root``."""
    return {"mode": mode, "state_root": str(state_root) if state_root is not None else None}


def _root_of(folder: Path | None, state_root: Path | None) -> Path:
    """The state root: --state-root, else the fleet folder's fleet.json, else ``state``."""
    if state_root is not None:
        return state_root
    if folder is not None:
        return Path(read_settings(folder).state_root)
    return Path("state")


def _fleet_command(background: bool) -> Callable[..., None]:
    """``fleet run`` (foreground) or ``fleet start`` (background): one signature for both."""

    def command(
        folder: DirArg,
        mode: ModeOpt = None,
        data: DataOpt = None,
        speed: SpeedOpt = None,
        when_from: FromOpt = None,
        when_to: ToOpt = None,
        state_root: RootOpt = None,
        stagger: StaggerOpt = None,
        exposure_cap: CapOpt = None,
        telegram: TelegramOpt = None,
        metrics_port: PortOpt = None,
        bots_per_process: PerProcessOpt = None,
    ) -> None:
        """Check the fleet folder, then run it here or start its supervisor detached."""
        overrides: dict[str, Any] = {
            "mode": mode,
            "state_root": str(state_root) if state_root is not None else None,
            "stagger_s": stagger,
            "exposure_cap_usdt": exposure_cap,
            "telegram": telegram,
            "metrics_port": metrics_port,
            "bots_per_process": bots_per_process,
        }
        fleet = _load(folder, overrides, Replay(data, speed, when_from, when_to))
        if not background:
            _run_here(folder, fleet)
        flags = {
            "--mode": mode,
            "--data": data,
            "--speed": speed,
            "--from": when_from,
            "--to": when_to,
            "--stagger": stagger,
            "--exposure-cap": exposure_cap,
            "--metrics-port": metrics_port,
            "--bots-per-process": bots_per_process,
        }
        args = [a for f, v in flags.items() if v is not None for a in (f, str(v))]
        if telegram is not None:
            args.append("--telegram" if telegram else "--no-telegram")
        _start_detached(folder, fleet, args)

    return command


def _run_here(folder: Path, fleet: Fleet) -> None:
    """Run the supervisor in this process until the fleet stops; exits with its code."""
    from optiflow.supervisor.core import Supervisor

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr
    )
    print(
        f"fleet {folder}: {len(fleet.bots)} bots, mode {fleet.settings.mode}, state root "
        f"{fleet.state_root}, {fleet.settings.bots_per_process} bots per process",
        file=sys.stderr,
    )
    raise typer.Exit(Supervisor(fleet).run())


def _start_detached(folder: Path, fleet: Fleet, args: list[str]) -> None:
    """Start ``fleet run`` with `args` in the background; return once it holds its lock."""
    root = fleet.state_root
    if (pid := supervisor_pid(root)) is not None:
        raise UserInputError(f"the fleet at {root} already has a supervisor (pid {pid})")
    cmd = [sys.executable, "-m", "optiflow.interfaces.cli.main", "fleet", "run", str(folder)]
    cmd += ["--state-root", str(root), *args]
    root.mkdir(parents=True, exist_ok=True)
    proc = procs.spawn(cmd, root / "fleet.log")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if supervisor_pid(root) == proc.pid:
            print(f"fleet {folder} started: supervisor pid {proc.pid}, log {root / 'fleet.log'}")
            print(
                f"watch it: optiflow fleet status {folder}; stop it: optiflow fleet stop {folder}"
            )
            return
        if proc.poll() is not None:
            tail = (root / "fleet.log").read_text(errors="replace").splitlines()[-5:]
            print("\n".join(tail), file=sys.stderr)
            raise typer.Exit(proc.returncode or 1)
        time.sleep(0.1)
    raise UserInputError(f"the supervisor did not start within 60 s; see {root / 'fleet.log'}")


fleet_app.command(
    "run", help="Run the fleet in the foreground (what systemd, supervisord, pm2 and Docker call)."
)(user_errors_exit_2(_fleet_command(background=False)))
fleet_app.command(
    "start",
    help="Start the fleet's supervisor in the background (detached); it outlives this shell.",
)(user_errors_exit_2(_fleet_command(background=True)))


@fleet_app.command("check")
@user_errors_exit_2
def check(folder: DirArg, mode: ModeOpt = None, state_root: RootOpt = None) -> None:
    """Check a fleet folder (every config, names, shared pairs, fleet.json) without starting."""
    fleet = _load(folder, _base(mode, state_root))
    print(
        f"fleet {folder}: OK, {len(fleet.bots)} bots, mode {fleet.settings.mode}, "
        f"state root {fleet.state_root}"
    )
    for b in fleet.bots:
        print(
            f"  {b.name}: {', '.join(b.config.pairs)} ({b.config.timeframe}) "
            f"<- {b.config_path.name}"
        )


def _status_doc(folder: Path | None, state_root: Path | None) -> tuple[Path, dict[str, Any]]:
    """(state root, status per bot) for a fleet folder or a state root."""
    root = _root_of(folder, state_root)
    bots: dict[str, Path] | None = None
    mode = ""
    if folder is not None:
        fleet = load_fleet(folder, {"state_root": str(root)})
        bots = {b.name: b.state_dir for b in fleet.bots}
        mode = str(read_state(root).get("mode") or fleet.settings.mode)
    elif not read_state(root):
        raise UserInputError(
            f"no fleet has run with state root {root}: give the fleet folder or --state-root"
        )
    return root, fleet_status(root, bots, mode)


def _fmt(value: Any, spec: str = "") -> str:
    """A table cell: '-' for None."""
    return "-" if value is None else format(value, spec)


@fleet_app.command("status")
@user_errors_exit_2
def status(
    folder: Annotated[
        Path | None, typer.Argument(help="Fleet folder (default: --state-root).")
    ] = None,
    state_root: RootOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object keyed by bot.")] = False,
) -> None:
    """A table per bot: state, mode, pid, uptime, restarts, positions, PnL, cycle age, RSS."""
    root, doc = _status_doc(folder, state_root)
    if as_json:
        print(json.dumps(doc, indent=1, sort_keys=True))
        return
    sup = supervisor_pid(root)
    t = Table(title=f"fleet at {root}: supervisor " + (f"pid {sup}" if sup else "NOT running"))
    cols = (
        "bot",
        "state",
        "mode",
        "pid",
        "uptime",
        "restarts",
        "open",
        "today net",
        "last cycle",
        "RSS MB",
    )
    for c in cols:
        t.add_column(c)
    for name, s in doc.items():
        up = s["uptime_s"]
        t.add_row(
            name,
            s["state"],
            s["mode"],
            _fmt(s["pid"]),
            "-"
            if up is None
            else f"{int(up // 3600)}h{int(up % 3600 // 60):02d}m{int(up % 60):02d}s",
            str(s["restarts"]),
            str(s["open_positions"]),
            f"{s['today_net_pnl']:+.4f}",
            "-" if s["last_cycle_age_s"] is None else f"{s['last_cycle_age_s']:.0f}s ago",
            _fmt(s["rss_mb"], ".0f"),
        )
    Console(width=None if sys.stdout.isatty() else 140).print(t)


@fleet_app.command("stop")
@user_errors_exit_2
def stop(
    folder: Annotated[
        Path | None, typer.Argument(help="Fleet folder (default: --state-root).")
    ] = None,
    state_root: RootOpt = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for a clean stop.")] = 60.0,
) -> None:
    """SIGTERM the supervisor and every bot, wait for them, leave no process behind."""
    root, doc = _status_doc(folder, state_root)
    sup = supervisor_pid(root)
    if sup is not None:
        procs.stop_pids([sup], timeout + 10)  # it stops its bots first, then itself
    pids = [
        s["pid"]
        for s in fleet_status(root, {n: Path(s["state_dir"]) for n, s in doc.items()}).values()
        if s["pid"]
    ]
    killed = procs.stop_pids(list(dict.fromkeys(pids)), timeout)  # a host runs several bots
    tg = read_state(root).get("telegram_pid")
    if isinstance(tg, int) and procs.alive(tg) and "telegram" in procs.cmdline(tg):
        procs.stop_pids([tg], 10.0)
    note = f" ({len(killed)} had to be killed)" if killed else ""
    print(
        f"fleet at {root} stopped: supervisor {'stopped' if sup else 'was not running'}, "
        f"{len(pids)} bots stopped by this command{note}"
    )


@fleet_app.command("restart")
@user_errors_exit_2
def restart(
    folder: DirArg,
    name: Annotated[str, typer.Argument(help="The bot's name (its config's name).")],
    state_root: RootOpt = None,
) -> None:
    """Restart one bot of a running fleet (the supervisor stops it cleanly and starts it)."""
    root = _root_of(folder, state_root)
    fleet = load_fleet(folder, {"state_root": str(root)})
    names = [b.name for b in fleet.bots]
    if name not in names:
        raise UserInputError(f"bot {name!r} is not in fleet {folder}; bots: {', '.join(names)}")
    if supervisor_pid(root) is None:
        raise UserInputError(
            f"no supervisor runs the fleet at {root}; start it: optiflow fleet start {folder}"
        )
    request_restart(root, name)
    print(f"{name}: restart requested; the supervisor stops it cleanly and starts it again")


def deploy_command(
    target: str, folder: Path, out: Path, mode: str | None, state_root: Path | None
) -> None:
    """``optiflow deploy TARGET DIR --out PATH``: write the files and how to install them."""
    from optiflow.supervisor.deploy import install_hint, write_deploy

    fleet = _load(folder, _base(mode, state_root))
    paths = write_deploy(target, fleet, out)
    for p in paths:
        print(f"wrote {p}")
    print(install_hint(target, paths))
