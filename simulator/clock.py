"""Clocks the simulator reads time from: the system's, or a manual one that tests advance."""

from __future__ import annotations

import threading
import time
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    """A source of wall-clock time in unix seconds."""

    def now(self) -> float: ...


class SystemClock:
    """The host's wall clock (``time.time``)."""

    def now(self) -> float:
        return time.time()


class ManualClock:
    """A clock that only moves when told to; safe to read and move from several threads."""

    def __init__(self, start: float) -> None:
        self._lock = threading.Lock()
        self._now = float(start)

    def now(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        """Move forward by ``seconds`` (never backwards); returns the new time."""
        if seconds < 0:
            raise ValueError(f"a ManualClock cannot go backwards (advance by {seconds})")
        with self._lock:
            self._now += seconds
            return self._now

    def set(self, t: float) -> None:
        """Jump to unix time ``t`` (tests may go backwards to replay a moment)."""
        with self._lock:
            self._now = float(t)
