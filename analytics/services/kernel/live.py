"""Live device metrics (temperature, power, utilisation): the seam Prometheus plugs into."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from analytics.errors import MetricsUnavailable
from analytics.services.kernel.partial import MetricsPart, unavailable

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LiveDeviceMetrics:
    temperature_c: float | None = None
    power_w: float | None = None
    utilization_percent: float | None = None


class Placed(Protocol):
    """A device as the live values join it to its series (an inventory record)."""

    @property
    def device_id(self) -> str: ...
    @property
    def node_name(self) -> str: ...
    @property
    def device_index(self) -> int: ...
    @property
    def gpu_uuid(self) -> str | None: ...


LiveReadings = MetricsPart[Mapping[str, LiveDeviceMetrics]]
NO_METRIC_SOURCE = "No metric source is configured."


class LiveMetricsProvider(Protocol):
    def device_metrics(self, devices: Sequence[Placed]) -> LiveReadings:
        """The latest readings of these devices by device id (those without are left out), or
        none and the reason."""
        ...


class NoLiveMetrics:
    """No metric source: every live field is null."""

    def device_metrics(self, devices: Sequence[Placed]) -> LiveReadings:
        return unavailable(NO_METRIC_SOURCE)


class PrometheusLiveMetrics:
    """Live fields from Prometheus, best effort: inventory endpoints must keep answering when
    Prometheus is down, so a failure leaves the fields null (logged), and for a short while
    afterwards Prometheus is not asked at all, so those endpoints stay fast during an outage.
    Either way the answer carries the failure's message as its reason.
    """

    def __init__(
        self,
        read: Callable[[Sequence[Placed]], Mapping[str, LiveDeviceMetrics]],
        backoff_seconds: float = 10.0,
    ) -> None:
        self._read = read
        self._backoff_seconds = backoff_seconds
        self._skip_until = 0.0
        self._reason = ""
        self._lock = threading.Lock()

    def device_metrics(self, devices: Sequence[Placed]) -> LiveReadings:
        if not devices:
            return MetricsPart({})
        with self._lock:
            if time.monotonic() < self._skip_until:
                return unavailable(self._reason)
        try:
            values = self._read(devices)
        except MetricsUnavailable as exc:
            with self._lock:
                self._skip_until = time.monotonic() + self._backoff_seconds
                self._reason = exc.message
            log.warning("live GPU metrics unavailable, fields left null: %s", exc.message)
            return unavailable(exc.message)
        wanted = {d.device_id for d in devices}
        return MetricsPart({k: v for k, v in values.items() if k in wanted})
