"""One process per state folder: an OS file lock, a start-up probe and the folder's wipe.

- ``bot.lock`` holds an exclusive ``flock`` for the life of the process that runs the bot
  (the kernel releases it on any death, kill -9 included) and that process's pid.
- ``probe_writable`` checks, before the database opens, that the folder accepts a new file
  and has room: an unwritable, immutable or full folder is one clear line, not a crash.
- ``wipe_state`` removes what a bot wrote into its folder (database, state files, logs).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
from pathlib import Path
from typing import Self

from optiflow.domain.errors import UserInputError

LOCK_FILE = "bot.lock"
SEQ_FILE = "commit_seq"
MIN_FREE_BYTES = 2 * 1024 * 1024
DB_FILES = ("bot.sqlite", "bot.sqlite-wal", "bot.sqlite-shm", "bot.sqlite-journal")
STATE_FILES = ("active_trades.json", "tp_performance.csv", "debug_monitoring_summary.json")
# a rehearsal's simulated exchange (its own books, kept apart from the bot's database)
SIM_FILES = ("sim_exchange.sqlite", "sim_exchange.sqlite-wal", "sim_exchange.sqlite-shm")


def _reason(exc: OSError) -> str:
    """A short human reason for an OS error (no traceback)."""
    name = errno.errorcode.get(exc.errno or 0, "")
    return f"{exc.strerror or exc}" + (f" [{name}]" if name else "")


def probe_writable(folder: Path, min_free: int = MIN_FREE_BYTES) -> None:
    """Raise UserInputError (one line) unless `folder` can take a new file and has room."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserInputError(
            f"state folder {folder}: cannot create it ({_reason(exc)}); "
            "pick a writable --state-dir"
        ) from None
    probe = folder / f".write-probe-{os.getpid()}"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, b"probe\n")
            os.fsync(fd)
        finally:
            os.close(fd)
        probe.unlink()
    except OSError as exc:
        with contextlib.suppress(OSError):
            probe.unlink()
        raise UserInputError(
            f"state folder {folder}: not writable ({_reason(exc)}); the bot needs to write "
            "its database and state files there: fix the permissions, the mount or the "
            "immutable flag (chattr -i), or pick another --state-dir"
        ) from None
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return
    if free < min_free:
        raise UserInputError(
            f"state folder {folder}: disk nearly full ({free // 1024} KiB free, at least "
            f"{min_free // 1024} KiB needed); free some space or pick another --state-dir"
        )


class PidLock:
    """An exclusive ``flock`` on a file holding the owner's pid, released by the kernel on death."""

    def __init__(self, path: Path) -> None:
        """Prepare the lock of ``path`` (nothing is locked yet)."""
        self.path = path
        self._fd: int | None = None

    def refused(self, pid: int | None) -> str:
        """The one-line message for a lock another process holds."""
        return f"{self.path} is locked by another process (pid {pid if pid else '?'})"

    def acquire(self) -> None:
        """Take the lock or raise UserInputError with ``refused``'s message."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise
            raise UserInputError(self.refused(read_pid(self.path))) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        """Give the lock back (the file stays; its pid is stale once unlocked)."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def __enter__(self) -> Self:
        """Acquire on entering the block."""
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        """Release on leaving the block."""
        self.release()


class StateDirLock(PidLock):
    """The lock of one bot's state folder: ``<folder>/bot.lock``."""

    def __init__(self, folder: Path, bot_name: str) -> None:
        """Prepare the lock of `folder` for bot `bot_name` (nothing is locked yet)."""
        super().__init__(folder / LOCK_FILE)
        self.bot_name = bot_name

    def refused(self, pid: int | None) -> str:
        """"bot X is already running (pid N)"."""
        return f"bot {self.bot_name} is already running (pid {pid if pid else '?'})"


def read_pid(path: Path) -> int | None:
    """The pid written in a lock file, or None."""
    try:
        return int(path.read_text(encoding="ascii").strip() or 0) or None
    except (OSError, ValueError):
        return None


def running_pid(folder: Path) -> int | None:
    """The pid of the process holding `folder`'s lock, or None when no bot runs there."""
    path = folder / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return read_pid(path) or -1
    finally:
        os.close(fd)
    return None


def wipe_state(folder: Path) -> list[str]:
    """Delete the database, the commit sequence, state files, daily CSVs and logs; say what."""
    gone: list[str] = []
    names = [*DB_FILES, SEQ_FILE, *STATE_FILES, *SIM_FILES]
    names += sorted(p.name for p in folder.glob("trades_*.csv"))
    for name in names:
        path = folder / name
        if path.exists():
            path.unlink()
            gone.append(name)
    logs = folder / "logs"
    if logs.is_dir():
        shutil.rmtree(logs)
        gone.append("logs/")
    return gone


__all__ = [
    "LOCK_FILE",
    "MIN_FREE_BYTES",
    "SEQ_FILE",
    "StateDirLock",
    "probe_writable",
    "read_pid",
    "running_pid",
    "wipe_state",
]
