"""The store's commit sequence kept outside the WAL (``commit_seq``), to catch a rollback.

After every commit the new sequence number is written in place (one fixed-width ``pwrite``
into an open file: no fsync, no rename, so it costs microseconds on the hot path). It
survives a kill of the process exactly like the committed WAL does. At open, a database
whose sequence is lower than the recorded one lost committed transactions (for example a
truncated or deleted ``bot.sqlite-wal``) and is refused.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from optiflow.domain.errors import UserInputError

WIDTH = 20  # digits; the file is always WIDTH + 1 bytes, so a rewrite never leaves a tail


def read_seq(path: Path) -> int | None:
    """The sequence recorded in `path`, or None when missing or unreadable."""
    try:
        text = path.read_text(encoding="ascii").strip()
        return int(text) if text else None
    except (OSError, ValueError):
        return None


class SeqFile:
    """The recorded commit sequence of one database."""

    def __init__(self, path: Path, db_path: Path) -> None:
        """Remember where the sequence lives (nothing is opened yet)."""
        self.path, self.db_path = path, db_path
        self.seq = 0
        self._fd: int | None = None

    def check(self, db_seq: int) -> None:
        """Refuse a database behind the recorded sequence; else start recording from it."""
        recorded = read_seq(self.path)
        if recorded is not None and db_seq < recorded:
            raise UserInputError(
                f"{self.db_path}: the state database went backwards: seq {db_seq} < recorded "
                f"{recorded} (in {self.path}); it lost committed transactions — restore it "
                "from a backup or run `optiflow state reset` (to accept it as it is, after "
                f"a power loss for example, delete {self.path.name})"
            )
        self.seq = db_seq
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        self._write()

    def committed(self) -> None:
        """Record one more commit (the UPSERT of the snapshot adds exactly one)."""
        self.seq += 1
        self._write()

    def _write(self) -> None:
        if self._fd is None:
            return
        data = f"{self.seq:0{WIDTH}d}\n".encode("ascii")
        with contextlib.suppress(OSError):  # the database stays the truth; see check()
            os.pwrite(self._fd, data, 0)

    def close(self) -> None:
        """Close the file; safe to call twice."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)
