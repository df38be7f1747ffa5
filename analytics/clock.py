"""Time: the UTC clock the services read, injected so tests can move it."""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


# Kept: a long list formats the same few instants (hour boundaries, the answer's own time)
# thousands of times. Equal instants have equal texts whatever their offset.
@functools.lru_cache(maxsize=4096)
def format_utc(moment: datetime) -> str:
    """ISO-8601 UTC with a ``Z``, to the second: ``2025-08-03T12:00:00Z``."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    # isoformat, not strftime: glibc's %Y writes the year 1 as "1", not "0001".
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def parse_utc(text: str) -> datetime:
    """ISO-8601 with ``Z`` or any offset (naive taken as UTC) -> timezone-aware UTC.

    ValueError when ``text`` is no such date-time, or when it is one that has no UTC value
    between the years 1 and 9999 (``9999-12-31T23:59:59-01:00``, ``0001-01-01T00:00:00+01:00``:
    Python raises OverflowError converting those, which no caller expects).
    """
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{text!r} is outside the years 1-9999 in UTC") from None
