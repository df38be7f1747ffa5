"""Live device metrics (temperature, power, utilisation): the seam Prometheus plugs into."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from analytics.errors import MetricsUnavailable

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LiveDeviceMetrics:
    temperature_c: float | None = None
    power_w: float | None = None
    utilization_percent: float | None = None


class LiveMetricsProvider(Protocol):
    def device_metrics(self, device_ids: Sequence[str]) -> Mapping[str, LiveDeviceMetrics]:
        """The latest readings of these devices; devices without readings are left out."""
        ...


class NoLiveMetrics:
    """No metric source: every live field is null."""

    def device_metrics(self, device_ids: Sequence[str]) -> Mapping[str, LiveDeviceMetrics]:
        return {}


class PrometheusLiveMetrics:
    """Live fields from Prometheus, best effort: inventory endpoints must keep answering when
    Prometheus is down, so a failure leaves the fields null (logged), and for a short while
    afterwards Prometheus is not asked at all, so those endpoints stay fast during an outage.
    """

    def __init__(
        self,
        read: Callable[[Sequence[str]], Mapping[str, LiveDeviceMetrics]],
        backoff_seconds: float = 10.0,
    ) -> None:
        self._read = read
        self._backoff_seconds = backoff_seconds
        self._skip_until = 0.0
        self._lock = threading.Lock()

    def device_metrics(self, device_ids: Sequence[str]) -> Mapping[str, LiveDeviceMetrics]:
        if not device_ids or time.monotonic() < self._skip_until:
            return {}
        try:
            values = self._read(device_ids)
        except MetricsUnavailable as exc:
            with self._lock:
                self._skip_until = time.monotonic() + self._backoff_seconds
            log.warning("live GPU metrics unavailable, fields left null: %s", exc.message)
            return {}
        wanted = set(device_ids)
        return {k: v for k, v in values.items() if k in wanted}
