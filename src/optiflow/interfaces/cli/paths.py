"""Output folders checked before any work: a file in the way or no write access is one line."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from optiflow.domain.errors import UserInputError


def writable_folder(flag: str, path: Path) -> Path:
    """Prove ``path`` is, or can become, a writable folder (nothing is created); else
    UserInputError naming the flag, the path and what is in the way."""
    existing = path
    for part in (path, *path.parents):
        if part.exists():
            if not part.is_dir():
                where = "is a file" if part == path else f"is under the file {part}"
                raise UserInputError(
                    f"{flag} {path}: {where}; give a folder (new or existing) to write into"
                )
            existing = part
            break
    try:
        fd, probe = tempfile.mkstemp(prefix=".optiflow-probe-", dir=existing)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise UserInputError(
            f"{flag} {path}: not writable ({exc.strerror}); give a folder you can write to"
        ) from None
    return path
