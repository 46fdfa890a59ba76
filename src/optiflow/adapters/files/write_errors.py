"""Failed writes of convenience files: warn once per outage, notify once, log the recovery."""

from __future__ import annotations

import errno
import logging
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger("optiflow.files")

_failing: set[Path] = set()  # folders whose latest write failed
_hook: list[Callable[[str], None]] = []


def set_file_error_hook(hook: Callable[[str], None] | None) -> None:
    """Who hears (once per outage) that the state files cannot be written; None: nobody."""
    _hook.clear()
    if hook is not None:
        _hook.append(hook)


def describe(exc: OSError) -> str:
    """An OS error as a short reason: ``No space left on device [ENOSPC]: path``."""
    name = errno.errorcode.get(exc.errno or 0, "")
    where = f": {exc.filename}" if exc.filename else ""
    return f"{exc.strerror or exc}{f' [{name}]' if name else ''}{where}"


def report_failure(
    folder: Path, exc: OSError, on_error: Callable[[str], None] | None = None
) -> None:
    """The first failure of an outage: one WARNING and one notice; later ones at DEBUG."""
    if folder in _failing:
        log.debug("state files in %s still not written: %s", folder, describe(exc))
        return
    _failing.add(folder)
    text = (
        f"⚠️ state files in {folder} cannot be written ({describe(exc)}); "
        "trading goes on, retrying at every update"
    )
    log.warning("%s", text)
    for hook in [on_error] if on_error is not None else list(_hook):
        try:
            hook(text)
        except Exception:  # noqa: BLE001 - a failing notifier must not stop trading either
            log.debug("file error hook failed", exc_info=True)


def report_success(folder: Path) -> None:
    """A write went through: if it had been failing, say it recovered."""
    if folder in _failing:
        _failing.discard(folder)
        log.warning("state files in %s are written again", folder)


__all__ = ["describe", "report_failure", "report_success", "set_file_error_hook"]
