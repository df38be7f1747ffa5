"""Partial answers: the database part of an answer always, its metric part when Prometheus answers.

Endpoints that mix the inventory with metrics read the metric part through the app's
:class:`MetricsGate`: a Prometheus that is down, hung or failing (MetricsUnavailable) leaves that
part out and says why, so the endpoint still answers 200 from the database with the metric
fields null, ``metricsAvailable: false`` and ``metricsUnavailableReason`` (the error's message,
which names no URL or credential). After a failure the gate does not ask Prometheus again for a
short while, for any of those endpoints, so they stay fast during an outage (a hung Prometheus
would cost each request its timeout). Endpoints that are metrics only let MetricsUnavailable
through (503). docs/analytics.md "When Prometheus is away" lists which endpoint does which.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from analytics.errors import MetricsUnavailable

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class MetricsPart(Generic[T]):
    """The metric part of an answer: its value, or None and the reason it is missing."""

    value: T | None
    reason: str | None = None

    @property
    def available(self) -> bool:
        return self.reason is None

    def flags(self) -> dict[str, Any]:
        """The answer's ``metrics_available`` and ``metrics_unavailable_reason``."""
        return {"metrics_available": self.available, "metrics_unavailable_reason": self.reason}


# How long the metric parts are left out after Prometheus failed, without asking it.
BACKOFF_SECONDS = 10.0


class MetricsGate:
    """The metric parts of one app's partial answers: each read, or no value with the reason
    when Prometheus cannot answer; after a failure, no value (with that failure's reason) for
    ``backoff_seconds`` without asking. Thread-safe (one per gunicorn worker)."""

    def __init__(
        self,
        backoff_seconds: float = BACKOFF_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._backoff_seconds = backoff_seconds
        self._monotonic = monotonic
        self._skip_until = 0.0
        self._reason = ""
        self._lock = threading.Lock()

    def read(self, read: Callable[[], T], what: str = "metrics") -> MetricsPart[T]:
        """``read()``, or no value with the reason (logged at the failure, not while backing
        off)."""
        with self._lock:
            if self._monotonic() < self._skip_until:
                return unavailable(self._reason)
        try:
            return MetricsPart(read())
        except MetricsUnavailable as exc:
            with self._lock:
                self._skip_until = self._monotonic() + self._backoff_seconds
                self._reason = exc.message
            log.warning("%s unavailable, answering from the database: %s", what, exc.message)
            return unavailable(exc.message)


def unavailable(reason: str) -> MetricsPart[Any]:
    return MetricsPart(None, reason)
