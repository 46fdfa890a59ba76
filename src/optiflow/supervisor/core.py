"""The supervision loop: start bots staggered, adopt running ones, restart the dead and the stuck.

Heartbeat: the modification time of ``<state_dir>/commit_seq`` (rewritten on every store
commit: each live/paper cycle, and at least every 200 replayed candles) or of
``debug_monitoring_summary.json``, whichever is newer. A bot whose heartbeat is older than
``Fleet.heartbeat_s`` is stopped (SIGTERM, SIGKILL 10 s later) and restarted; until a
(re)started bot first writes its state files it gets ``START_GRACE_S`` (start-up may wait
out an exchange outage).

Restarts back off exponentially (``backoff_s`` doubling up to ``backoff_max_s``); a bot that
needed ``max_restarts_per_hour`` restarts within an hour is given up. A bot that exits 0
(a finished replay, a deliberate stop) is not restarted. Every restart, give-up, adoption and
stop is a note in ``fleet.sqlite`` (see ``outbox``). The live view is ``fleet_state.json``.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from types import FrameType

from optiflow.adapters.files.exposure import write_limits
from optiflow.supervisor import procs
from optiflow.supervisor.fleetstate import (
    REQUESTS,
    FleetLock,
    read_state,
    replay_done,
    write_state,
)
from optiflow.supervisor.launch import describe_exit, launch_command
from optiflow.supervisor.metrics import MetricsServer
from optiflow.supervisor.outbox import Outbox
from optiflow.supervisor.spec import BotEntry, Fleet

log = logging.getLogger("optiflow.fleet")
TICK_S = 0.5
STUCK_KILL_S = 10.0
START_GRACE_S = 900.0  # waiting for an exchange that is down is not being stuck
ALIVE = ("running", "stopping")
WAITING = ("pending", "backoff")


@dataclass
class Slot:
    """One bot under supervision."""

    entry: BotEntry
    state: str = "pending"
    proc: subprocess.Popen[bytes] | None = None
    pid: int | None = None
    started_at: float = 0.0  # wall clock
    next_start: float = 0.0  # monotonic
    kill_at: float = 0.0  # monotonic
    restarts: list[float] = field(default_factory=list)  # wall clock times, last hour
    total_restarts: int = 0
    restart_requested: bool = False
    request_note: str = "restarted on request"
    stuck: bool = False
    last_exit: str = ""
    group: int = 0  # bots of one group share a host process (``bots_per_process``)


class Supervisor:
    """Keeps every bot of one fleet running; `run` returns the process exit code."""

    def __init__(self, fleet: Fleet) -> None:
        """Prepare (nothing starts until `run`)."""
        self.fleet = fleet
        self.root = fleet.state_root
        per = fleet.settings.bots_per_process
        self.slots = {b.name: Slot(b, group=i // per) for i, b in enumerate(fleet.bots)}
        self.stop_requested = False
        self.outbox: Outbox | None = None
        self.telegram: subprocess.Popen[bytes] | None = None
        self.telegram_next = 0.0
        self.telegram_fails = 0

    # ---- life cycle ----------------------------------------------------------------------
    def run(self) -> int:
        """Take the fleet lock, adopt or start every bot, supervise until SIGTERM/SIGINT."""
        self.root.mkdir(parents=True, exist_ok=True)
        with FleetLock(self.root):
            self.outbox = Outbox(self.root)
            write_limits(self.root, self.fleet.settings.exposure_cap_usdt)  # the bots read it
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, self._on_signal)
            server = self._start_metrics()
            try:
                self._begin()
                while not self.stop_requested:
                    self.tick()
                    if self._all_done():
                        log.info("fleet: every bot finished; the supervisor stops")
                        break
                    time.sleep(TICK_S)
                self._shutdown()
            finally:
                if server is not None:
                    server.shutdown()
                self.outbox.close()
        return 0

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        """SIGTERM/SIGINT: stop every bot cleanly, then exit."""
        self.stop_requested = True

    def _start_metrics(self) -> MetricsServer | None:
        """Serve Prometheus metrics on 127.0.0.1 when a port is set."""
        port = self.fleet.settings.metrics_port
        if port is None:
            return None
        return MetricsServer(self.fleet, port)

    def _begin(self) -> None:
        """Adopt bots already running; schedule the others, staggered."""
        previous = read_state(self.root).get("bots", {})
        now, wall = time.monotonic(), time.time()
        starts: dict[int, float] = {}
        for name, slot in self.slots.items():
            prev = previous.get(name, {})
            slot.restarts = [t for t in prev.get("restart_times", []) if wall - t < 3600]
            slot.total_restarts = int(prev.get("restarts", 0))
            holder = procs.lock_holder(slot.entry.state_dir / "bot.lock")
            if holder is None and procs.runs_for(prev.get("pid"), slot.entry.state_dir):
                holder = prev["pid"]  # started just before: it has not taken its lock yet
            if holder is not None:
                slot.state, slot.pid, slot.started_at = "running", holder, wall
                self._note("adopt", name, f"👀 {name} is already running (pid {holder}): adopted")
                continue
            if prev.get("state") in ALIVE + WAITING and prev.get("state") != "pending":
                slot.restarts.append(wall)
                slot.total_restarts += 1
                self._note(
                    "restart",
                    name,
                    f"🔁 {name} was not running when the supervisor started; starting it "
                    "again (it recovers its positions)",
                )
            if slot.group not in starts:  # one start per process; a host staggers its bots
                starts[slot.group] = now + len(starts) * self.fleet.settings.stagger_s
            slot.next_start = starts[slot.group]
        if self.fleet.settings.telegram:
            self._check_telegram()
        self._save()

    def _all_done(self) -> bool:
        """A replay fleet ends when no bot is running or waiting to start."""
        if self.fleet.settings.mode != "replay":
            return False
        return all(s.state not in ALIVE + WAITING for s in self.slots.values())

    def _shutdown(self) -> None:
        """SIGTERM every bot (and the Telegram service), wait, SIGKILL what hangs."""
        pids = list(dict.fromkeys(p for p in map(self._live_pid, self.slots.values()) if p))
        if pids:
            log.info("fleet: stopping %d bots", len(pids))
        killed = procs.stop_pids(pids, self.fleet.settings.stop_timeout_s)
        for slot in self.slots.values():
            if slot.proc is not None:
                slot.proc.poll()
            if slot.state in ALIVE + WAITING:
                slot.state = "stopped"
                slot.last_exit = "killed (did not stop in time)" if slot.pid in killed else ""
        if self.telegram is not None:
            procs.stop_pids([self.telegram.pid], 10.0)
            self.telegram.poll()
        self._note("stop", "", f"🛑 fleet stopped ({len(pids)} bots)")
        self._save()

    def _live_pid(self, slot: Slot) -> int | None:
        """The pid of a bot that is running now (child or adopted), else None."""
        if slot.proc is not None and slot.proc.poll() is None:
            return slot.proc.pid
        if slot.state in ALIVE:
            holder = procs.lock_holder(slot.entry.state_dir / "bot.lock")
            return holder if holder and holder > 0 else None
        return None

    # ---- one pass ------------------------------------------------------------------------
    def tick(self) -> None:
        """Check every bot once: exits, heartbeats, restart requests, due starts."""
        now = time.monotonic()
        for slot in self.slots.values():
            self._take_request(slot, now)
            if slot.state in ALIVE:
                rc, dead = self._exit_of(slot)
                if not dead:
                    self._watch(slot, now)
                    continue
                self._on_exit(slot, rc, now)
        groups: dict[int, list[Slot]] = defaultdict(list)
        for slot in self.slots.values():
            if slot.state in WAITING:
                groups[slot.group].append(slot)
        for slots in groups.values():  # a group starts together, once each of it is due
            if all(now >= s.next_start for s in slots):
                self._start(slots)
        if self.fleet.settings.telegram:
            self._keep_telegram(now)
        self._save()

    def _exit_of(self, slot: Slot) -> tuple[int | None, bool]:
        """(exit code or None when unknown, whether the bot is gone)."""
        if slot.proc is not None:
            rc = slot.proc.poll()
            return rc, rc is not None
        holder = procs.lock_holder(slot.entry.state_dir / "bot.lock")
        if holder is not None and holder > 0:
            slot.pid = holder
        elif holder is None and slot.pid and procs.runs_for(slot.pid, slot.entry.state_dir):
            return None, False  # its process is alive: starting, or between two lives in a host
        return None, holder is None

    def _watch(self, slot: Slot, now: float) -> None:
        """Heartbeat of a running bot; a stuck bot is stopped (and then restarted)."""
        if slot.state == "stopping":
            if now >= slot.kill_at and slot.pid:
                procs.send(slot.pid, signal.SIGKILL)
                slot.kill_at = now + 3600
            return
        folder = slot.entry.state_dir
        if self._hosted(slot) and procs.lock_holder(folder / "bot.lock") != slot.pid:
            if replay_done(folder):  # ended in its host, which goes on with the others
                slot.state, slot.proc, slot.pid = "finished", None, None
            return  # between two lives in its host (crash back-off); the host restarts it
        last = max(slot.started_at, procs.heartbeat(folder) or 0.0)
        limit = self.fleet.heartbeat_s(slot.entry)
        if (procs.mtime(folder / "debug_monitoring_summary.json") or 0.0) < slot.started_at:
            limit = max(limit, START_GRACE_S)  # starting: data, recovery, an exchange outage
        if time.time() - last > limit and slot.pid:
            self._note(
                "stuck",
                slot.entry.name,
                f"⏳ {slot.entry.name} has not cycled for {limit:.0f} s: restarting it",
            )
            slot.stuck = True
            self._stop_process(slot, now + STUCK_KILL_S, f"restarted with {slot.entry.name}")

    def _on_exit(self, slot: Slot, rc: int | None, now: float) -> None:
        """A bot ended: restart it (with back-off), or leave it finished / given up."""
        name = slot.entry.name
        slot.proc, slot.pid = None, None
        slot.last_exit = describe_exit(rc)
        if slot.restart_requested:
            slot.restart_requested, slot.state, slot.next_start = False, "pending", now
            self._note("restart", name, f"🔁 {name} {slot.request_note}")
            slot.request_note = "restarted on request"
            return
        stuck, slot.stuck = slot.stuck, False
        if not stuck and (rc == 0 or replay_done(slot.entry.state_dir)):
            slot.state = "finished"
            log.info("fleet: %s ended cleanly (%s); not restarted", name, slot.last_exit)
            return
        wall = time.time()
        slot.restarts = [t for t in slot.restarts if wall - t < 3600]
        cap = self.fleet.settings.max_restarts_per_hour
        if len(slot.restarts) >= cap:
            slot.state = "gave_up"
            self._note(
                "giveup",
                name,
                f"🚫 {name} {slot.last_exit}; it needed {cap} restarts within an hour: given up "
                f"(see {slot.entry.state_dir}/console.log; optiflow fleet restart to try again)",
            )
            return
        s = self.fleet.settings
        delay = min(s.backoff_max_s, s.backoff_s * 2 ** len(slot.restarts))
        slot.restarts.append(wall)
        slot.total_restarts += 1
        slot.state, slot.next_start = "backoff", now + delay
        for other in self.slots.values():  # a host's bots wait for each other, start together
            if other.group == slot.group and other.state == "backoff":
                other.next_start = slot.next_start = max(other.next_start, slot.next_start)
        why = "stopped cycling" if stuck else slot.last_exit
        self._note(
            "restart",
            name,
            f"🔁 {name} {why}; restarting in {delay:.0f} s "
            f"(restart {len(slot.restarts)} of at most {cap} an hour)",
        )

    def _start(self, slots: list[Slot]) -> None:
        """Start (or restart) one process for `slots`: a bot alone, or a host of several."""
        todo = []
        for slot in slots:
            holder = procs.lock_holder(slot.entry.state_dir / "bot.lock")
            if holder is not None:  # someone started it meanwhile: adopt, never duplicate
                slot.state, slot.pid, slot.started_at = "running", holder, time.time()
            else:
                slot.entry.state_dir.mkdir(parents=True, exist_ok=True)
                todo.append(slot)
        if not todo:
            return
        cmd = launch_command(self.fleet, [s.entry for s in todo])
        if len(todo) == 1:
            console = todo[0].entry.state_dir / "console.log"
        else:
            console = self.root / "hosts" / f"host_{todo[0].group}.log"
        proc = procs.spawn(cmd, console)
        for slot in todo:
            slot.proc, slot.pid, slot.state = proc, proc.pid, "running"
            slot.started_at = time.time()
        names = ", ".join(s.entry.name for s in todo)
        log.info("fleet: started %s (pid %d)", names, proc.pid)

    def _hosted(self, slot: Slot) -> bool:
        """True when another bot shares the process of `slot`."""
        return slot.pid is not None and any(
            o is not slot and o.pid == slot.pid and o.state in ALIVE for o in self.slots.values()
        )

    def _stop_process(self, slot: Slot, kill_at: float, why: str) -> None:
        """SIGTERM the process of `slot`; the other bots it hosts are restarted with it."""
        pid = slot.pid
        for other in self.slots.values():
            if other is not slot and pid and other.pid == pid and other.state == "running":
                other.restart_requested, other.request_note = True, f"{why} (same process)"
                other.state, other.kill_at = "stopping", kill_at
        slot.state, slot.kill_at = "stopping", kill_at
        if pid:
            procs.send(pid, signal.SIGTERM)

    def _take_request(self, slot: Slot, now: float) -> None:
        """Handle ``fleet restart DIR NAME`` (a request file under the state root)."""
        req = self.root / REQUESTS / f"{slot.entry.name}.restart"
        if not req.exists():
            return
        req.unlink(missing_ok=True)
        if slot.state == "running" and slot.pid:
            slot.restart_requested = True
            kill_at = now + self.fleet.settings.stop_timeout_s
            self._stop_process(slot, kill_at, f"restarted with {slot.entry.name} on request")
        elif slot.state not in ALIVE:
            slot.restarts, slot.state, slot.next_start = [], "pending", now
            self._note("restart", slot.entry.name, f"🔁 {slot.entry.name} started on request")

    # ---- telegram ------------------------------------------------------------------------
    def _telegram_cmd(self) -> list[str]:
        """The Telegram service command for this fleet's state root."""
        base = [sys.executable, "-m", "optiflow.interfaces.cli.main", "telegram"]
        return base + ["--state-root", str(self.root.resolve())]

    def _check_telegram(self) -> None:
        """Keep Telegram off (with a log line) when this install has no telegram command."""
        probe = [sys.executable, "-m", "optiflow.interfaces.cli.main", "telegram", "--help"]
        ok = subprocess.run(probe, capture_output=True, timeout=60, check=False).returncode == 0
        if not ok:
            log.warning("fleet: telegram is enabled but `optiflow telegram` is absent; skipped")
            self.fleet = self.fleet.without_telegram()

    def _keep_telegram(self, now: float) -> None:
        """Start the Telegram service; restart it with back-off when it exits."""
        if self.telegram is not None and self.telegram.poll() is None:
            return
        if self.telegram is not None:
            self.telegram_fails += 1
            self.telegram_next = now + min(300.0, 2.0**self.telegram_fails)
            self.telegram = None
            log.warning("fleet: the telegram service exited; restarting it")
        if now >= self.telegram_next:
            self.telegram = procs.spawn(self._telegram_cmd(), self.root / "telegram.log")

    # ---- records -------------------------------------------------------------------------
    def _note(self, kind: str, bot: str, text: str) -> None:
        """Log and record one supervisor event."""
        log.warning("fleet: %s", text) if kind in ("giveup", "stuck") else log.info(
            "fleet: %s", text
        )
        if self.outbox is not None:
            self.outbox.add(kind, bot, text)

    def _save(self) -> None:
        """Write ``fleet_state.json`` (what ``fleet status`` and the metrics read)."""
        bots = {
            name: {
                "state": s.state,
                "pid": s.pid,
                "started_at": s.started_at or None,
                "restarts": s.total_restarts,
                "restart_times": s.restarts,
                "last_exit": s.last_exit,
                "config": str(s.entry.config_path.resolve()),
                "state_dir": str(s.entry.state_dir.resolve()),
            }
            for name, s in self.slots.items()
        }
        tg = self.telegram.pid if self.telegram is not None else None
        write_state(self.root, self.fleet, bots, tg)
