"""Partial answers: the database part of an answer always, its metric part when Prometheus answers.

Endpoints that mix the inventory with metrics read the metric part through :func:`read_metrics`:
a Prometheus that is down, hung or failing (MetricsUnavailable) leaves that part out and says
why, so the endpoint still answers 200 from the database with the metric fields null,
``metricsAvailable: false`` and ``metricsUnavailableReason`` (the error's message, which names
no URL or credential). Endpoints that are metrics only let MetricsUnavailable through (503).
docs/analytics.md "When Prometheus is away" lists which endpoint does which.
"""

from __future__ import annotations

import logging
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


def read_metrics(read: Callable[[], T], what: str = "metrics") -> MetricsPart[T]:
    """``read()``, or no value with the reason when Prometheus cannot answer (logged once)."""
    try:
        return MetricsPart(read())
    except MetricsUnavailable as exc:
        log.warning("%s unavailable, answering from the database: %s", what, exc.message)
        return unavailable(exc.message)


def unavailable(reason: str) -> MetricsPart[Any]:
    return MetricsPart(None, reason)
