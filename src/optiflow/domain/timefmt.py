"""UTC millisecond timestamps as ISO 8601 text and calendar days (pure; for reports and files)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def iso_utc(ms: int) -> str:
    """Format a UTC millisecond timestamp as ISO 8601 (millisecond precision, Z suffix)."""
    moment = _EPOCH + timedelta(milliseconds=ms)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def utc_day(ms: int) -> date:
    """Return the UTC calendar day of a millisecond timestamp."""
    return (_EPOCH + timedelta(milliseconds=ms)).date()
