"""Live device metrics (temperature, power, utilisation): the seam Prometheus plugs into."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol


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
    """No metric source: every live field is null (until the Prometheus provider, issue 4)."""

    def device_metrics(self, device_ids: Sequence[str]) -> Mapping[str, LiveDeviceMetrics]:
        return {}
