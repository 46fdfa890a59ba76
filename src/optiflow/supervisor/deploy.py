"""Deployment files that keep ``optiflow fleet run`` alive: systemd, supervisord, pm2, Docker.

Every target runs the fleet supervisor as the one managed process. A stop signal (SIGTERM)
reaches only the supervisor, which stops every bot cleanly and then exits; a crash of the
supervisor leaves the bots trading, and the restarted supervisor adopts them. That is why
systemd uses ``KillMode=process`` and supervisord/pm2 do not kill the process group.
"""

from __future__ import annotations

import getpass
import json
import os
import shlex
import shutil
import sys
from pathlib import Path

from optiflow.domain.errors import UserInputError
from optiflow.interfaces.cli.secrets import ENV_KEY, ENV_SECRET
from optiflow.supervisor.spec import Fleet

TARGETS = ("systemd", "supervisor", "pm2", "docker")
UNIT = "optiflow-fleet.service"
ENV_FILE = "optiflow-fleet.env"


def optiflow_bin() -> str:
    """The absolute path of this install's ``optiflow`` command."""
    local = Path(sys.executable).parent / "optiflow"
    if local.exists():
        return str(local)
    found = shutil.which("optiflow")
    if found is None:
        raise UserInputError("cannot find the optiflow command of this install (pip install .)")
    return str(Path(found).resolve())


def _stop_s(fleet: Fleet) -> int:
    """Seconds a clean stop may take: every bot's own clean stop plus the supervisor's margin."""
    return int(fleet.settings.stop_timeout_s) + 30


def fleet_args(fleet: Fleet) -> list[str]:
    """``fleet run`` arguments with absolute paths (a service has its own working directory)."""
    root = fleet.state_root.resolve()
    return ["fleet", "run", str(fleet.folder.resolve()), "--mode", fleet.settings.mode,
            "--state-root", str(root)]  # fmt: skip


def _env_file(out: Path) -> Path:
    """A secrets file (mode 0600) with the variables the bots read; never overwritten."""
    path = out / ENV_FILE
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(
                "# API keys for live fleets; keep this file mode 0600 (chmod 600).\n"
                f"{ENV_KEY}=\n{ENV_SECRET}=\n"
            )
    os.chmod(path, 0o600)
    return path


def systemd(fleet: Fleet, out: Path) -> list[Path]:
    """A systemd unit running the fleet supervisor, plus its secrets file."""
    env = _env_file(out)
    cmd = " ".join(shlex.quote(a) for a in [optiflow_bin(), *fleet_args(fleet)])
    unit = f"""[Unit]
Description=OptiFlow fleet {fleet.folder.name} ({len(fleet.bots)} bots, {fleet.settings.mode})
After=network-online.target
Wants=network-online.target
StartLimitIntervalSec=600
StartLimitBurst=10

[Service]
Type=simple
User={getpass.getuser()}
WorkingDirectory={Path.cwd()}
# API keys: KEY=value lines; chmod 600 {env}
EnvironmentFile=-{env}
Environment=PYTHONUNBUFFERED=1
ExecStart={cmd}
# SIGTERM goes to the supervisor only: it stops every bot cleanly, then exits. A crashed
# supervisor leaves the bots trading and the restarted one adopts them (KillMode=process).
KillMode=process
KillSignal=SIGTERM
TimeoutStopSec={_stop_s(fleet)}
Restart=always
RestartSec=5
NoNewPrivileges=yes

[Install]
WantedBy=multi-user.target
"""
    path = out / UNIT
    path.write_text(unit, encoding="utf-8")
    return [path, env]


def supervisord(fleet: Fleet, out: Path) -> list[Path]:
    """A supervisord ``[program:optiflow-fleet]`` section (include it from supervisord.conf)."""
    cmd = " ".join(shlex.quote(a) for a in [optiflow_bin(), *fleet_args(fleet)])
    log = fleet.state_root.resolve() / "fleet-supervisord.log"
    log.parent.mkdir(parents=True, exist_ok=True)  # supervisord refuses a missing log folder
    text = f"""; OptiFlow fleet {fleet.folder.name}: include it from supervisord.conf ([include])
; API keys: set {ENV_KEY} and {ENV_SECRET} in supervisord's own environment.
[program:optiflow-fleet]
command={cmd}
directory={Path.cwd()}
autostart=true
autorestart=true
startsecs=3
startretries=10
; SIGTERM to the supervisor only: it stops its bots cleanly; bots survive its crash
stopsignal=TERM
stopwaitsecs={_stop_s(fleet)}
stopasgroup=false
killasgroup=false
redirect_stderr=true
stdout_logfile={log}
stdout_logfile_maxbytes=10MB
stdout_logfile_backups=3
environment=PYTHONUNBUFFERED="1"
"""
    path = out / "optiflow-fleet.conf"
    path.write_text(text, encoding="utf-8")
    return [path]


def pm2(fleet: Fleet, out: Path) -> list[Path]:
    """A pm2 ``ecosystem.config.js`` (``pm2 start ecosystem.config.js``)."""
    app = {
        "name": "optiflow-fleet",
        "script": optiflow_bin(),
        "args": fleet_args(fleet),
        "interpreter": "none",
        "cwd": str(Path.cwd()),
        "autorestart": True,
        "restart_delay": 5000,
        "max_restarts": 10,
        "kill_timeout": _stop_s(fleet) * 1000,
        "treekill": False,
        "env": {"PYTHONUNBUFFERED": "1"},
    }
    text = (
        "// OptiFlow fleet: pm2 start ecosystem.config.js; API keys from the shell environment\n"
        f"// ({ENV_KEY}, {ENV_SECRET}). treekill false: pm2 signals only the supervisor, which\n"
        "// stops its bots cleanly; a crashed supervisor leaves them trading to be adopted.\n"
        f"module.exports = {json.dumps({'apps': [app]}, indent=2)};\n"
    )
    path = out / "ecosystem.config.js"
    path.write_text(text, encoding="utf-8")
    return [path]


def docker(fleet: Fleet, out: Path) -> list[Path]:
    """A Dockerfile (build from the repository root) and a compose.yaml for the fleet."""
    repo = Path(__file__).resolve().parents[3]
    if not (repo / "pyproject.toml").is_file():
        raise UserInputError(
            "deploy docker builds the image from a source checkout of OptiFlow (git clone); "
            "this install has none next to it"
        )
    dockerfile = """# OptiFlow fleet image: docker compose up -d (see compose.yaml)
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY pyproject.toml setup.py README.md ./
COPY src ./src
RUN pip install --no-cache-dir . \\
    && useradd --create-home --uid 10001 optiflow \\
    && mkdir -p /state \\
    && chown 10001 /state
USER 10001
VOLUME ["/state"]
# SIGTERM reaches the supervisor (exec form, tini from compose init: true), which stops
# every bot cleanly before it exits
STOPSIGNAL SIGTERM
ENTRYPOINT ["optiflow", "fleet", "run"]
CMD ["/fleet", "--state-root", "/state"]
"""
    mode = fleet.settings.mode
    env = "".join(f"      {k}: ${{{k}:-}}\n" for k in (ENV_KEY, ENV_SECRET))
    text = f"""services:
  fleet:
    build:
      context: {json.dumps(str(repo))}
      dockerfile: {json.dumps(str(out.resolve() / "Dockerfile"))}
    image: optiflow-fleet:latest
    command: ["/fleet", "--mode", "{mode}", "--state-root", "/state"]
    init: true
    restart: unless-stopped
    stop_signal: SIGTERM
    stop_grace_period: {_stop_s(fleet)}s
    environment:
{env}    volumes:
      - {json.dumps(f"{fleet.folder.resolve()}:/fleet:ro")}
      - optiflow-state:/state
volumes:
  optiflow-state: {{}}
"""
    paths = [out / "Dockerfile", out / "compose.yaml"]
    paths[0].write_text(dockerfile, encoding="utf-8")
    paths[1].write_text(f"# OptiFlow fleet {fleet.folder.name}\n{text}", encoding="utf-8")
    return paths


def write_deploy(target: str, fleet: Fleet, out: Path) -> list[Path]:
    """Write the files of one deployment target into folder `out`; returns them."""
    makers = {"systemd": systemd, "supervisor": supervisord, "pm2": pm2, "docker": docker}
    if target not in makers:
        raise UserInputError(f"deploy {target!r}: unknown target; allowed: {', '.join(TARGETS)}")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserInputError(f"--out {out}: cannot create the folder ({exc.strerror})") from None
    return makers[target](fleet, out)


def install_hint(target: str, paths: list[Path]) -> str:
    """The commands that install what `write_deploy` wrote."""
    first = paths[0]
    if target == "systemd":
        return (
            f"install: chmod 600 {paths[1]} (put the API keys there); sudo cp {first} "
            f"/etc/systemd/system/ && sudo systemctl daemon-reload && sudo systemctl enable "
            f"--now {UNIT}; logs: journalctl -u {UNIT} -f"
        )
    if target == "supervisor":
        return (
            f"install: sudo cp {first} /etc/supervisor/conf.d/ && sudo supervisorctl reread "
            "&& sudo supervisorctl update; status: sudo supervisorctl status optiflow-fleet"
        )
    if target == "pm2":
        return f"install: pm2 start {first} && pm2 save && pm2 startup"
    return (
        f"install: docker compose -f {paths[1]} up -d --build; logs: docker compose -f "
        f"{paths[1]} logs -f; stop: docker compose -f {paths[1]} down"
    )
