"""Parse the CLI's WHEN arguments: ISO 8601 dates or date-times, UTC."""

from __future__ import annotations

from datetime import UTC, datetime

from optiflow.domain.errors import UserInputError


def parse_when(option: str, text: str | None) -> int | None:
    """``2025-05-09`` or ``2025-05-09T18:18`` (UTC) → ms since the epoch."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UserInputError(
            f"{option} = {text!r}: expected an ISO 8601 date or date-time in UTC, "
            "e.g. 2025-05-09 or 2025-05-09T18:18"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)
