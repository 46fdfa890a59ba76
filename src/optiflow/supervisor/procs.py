"""OS probes for the fleet: who holds a lock file, process facts from /proc, signals, spawning."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import signal
import subprocess
import time
from pathlib import Path

from optiflow.adapters.files.statedir import read_pid

_CLK_TCK = os.sysconf("SC_CLK_TCK")
CONSOLE_MAX_BYTES = 5 * 2**20


def lock_holder(path: Path) -> int | None:
    """The pid holding the flock of `path`, or None when nobody does.

    Read from ``/proc/locks`` (matching the file's device and inode), so probing never takes
    the lock itself: a bot starting at that moment is not refused. Without ``/proc/locks`` a
    non-blocking ``flock`` attempt is the fallback.
    """
    try:
        st = path.stat()
    except OSError:
        return None
    key = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    try:
        with open("/proc/locks", encoding="ascii") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 6 and parts[1] == "FLOCK" and parts[5] == key:
                    return int(parts[4])
        return None
    except (OSError, ValueError):
        return _flock_probe(path)


def _flock_probe(path: Path) -> int | None:
    """Try the lock without blocking: held means its owner (pid in the file) is alive."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                return read_pid(path) or -1
            raise
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def alive(pid: int) -> bool:
    """True while `pid` is a live process (a zombie counts as dead)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def rss_bytes(pid: int) -> int | None:
    """Resident memory of `pid` in bytes, from /proc (None when gone)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        return None
    return None


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time used by `pid` so far, in seconds."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _CLK_TCK
    except (OSError, IndexError, ValueError):
        return None


def uptime_s(pid: int) -> float | None:
    """Seconds since `pid` started, from /proc (None when gone)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime", encoding="ascii") as f:
            boot_up = float(f.read().split()[0])
    except (OSError, IndexError, ValueError):
        return None
    return max(0.0, boot_up - start_ticks / _CLK_TCK)


def cmdline(pid: int) -> list[str]:
    """The command line of `pid` ([] when gone)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
    except OSError:
        return []


def runs_for(pid: object, state_dir: Path) -> bool:
    """True when process `pid` is alive and was started for the bot of `state_dir`."""
    if not isinstance(pid, int) or pid <= 0 or not alive(pid):
        return False
    return str(state_dir.resolve()) in cmdline(pid)


def send(pid: int, sig: int) -> bool:
    """Send `sig` to `pid`; False when it is already gone."""
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False
    return True


def wait_gone(pids: list[int], timeout_s: float, reap: bool = False) -> list[int]:
    """Wait until every pid is dead (or the timeout); returns those still alive."""
    deadline = time.monotonic() + timeout_s
    left = list(pids)
    while left and time.monotonic() < deadline:
        if reap:
            for pid in left:
                with contextlib.suppress(ChildProcessError, OSError):
                    os.waitpid(pid, os.WNOHANG)
        left = [p for p in left if alive(p)]
        if left:
            time.sleep(0.1)
    return left


def stop_pids(pids: list[int], timeout_s: float) -> list[int]:
    """SIGTERM each pid, wait, then SIGKILL what is left; returns the pids that had to be killed."""
    for pid in pids:
        send(pid, signal.SIGTERM)
    left = wait_gone(pids, timeout_s, reap=True)
    for pid in left:
        send(pid, signal.SIGKILL)
    wait_gone(left, 5.0, reap=True)
    return left


def spawn(
    cmd: list[str], console: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start `cmd` in its own session (a supervisor's death never signals it), output to `console`.

    The console file is cut when it passed ``CONSOLE_MAX_BYTES`` (the bot's own rotating logs
    are in its state folder; this file only keeps what it prints, such as a crash).
    """
    console.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(OSError):
        if console.stat().st_size > CONSOLE_MAX_BYTES:
            console.unlink()
    with open(console, "ab") as out:
        return subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
            env=env,
        )


def mtime(path: Path) -> float | None:
    """The modification time of `path` (wall clock seconds), or None when absent."""
    try:
        return path.stat().st_mtime
    except OSError:
        return None


def heartbeat(state_dir: Path) -> float | None:
    """When the bot last showed life: the newer mtime of ``commit_seq`` and the summary file."""
    beats = [mtime(state_dir / "commit_seq"), mtime(state_dir / "debug_monitoring_summary.json")]
    return max((b for b in beats if b is not None), default=None)
