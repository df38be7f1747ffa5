"""Live device metrics (temperature, power, utilisation): the seam Prometheus plugs into."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from analytics.services.kernel.partial import MetricsGate, MetricsPart, unavailable

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
    Prometheus is down, so they read through the app's :class:`MetricsGate` (a failure leaves
    the fields null with its reason, and Prometheus is left alone for a short while after)."""

    def __init__(
        self,
        read: Callable[[Sequence[Placed]], Mapping[str, LiveDeviceMetrics]],
        gate: MetricsGate | None = None,
    ) -> None:
        self._read = read
        self._gate = gate or MetricsGate()

    def device_metrics(self, devices: Sequence[Placed]) -> LiveReadings:
        if not devices:
            return MetricsPart({})
        found = self._gate.read(lambda: self._read(devices), "live GPU metrics")
        if found.value is None:
            return unavailable(found.reason or "")
        wanted = {d.device_id for d in devices}
        return MetricsPart({k: v for k, v in found.value.items() if k in wanted})
