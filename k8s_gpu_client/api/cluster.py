"""``client.cluster``: the GPU cluster as a whole (/gpu/overview, /gpu/health, /gpu/forecast)
and the service's actuator health."""

from __future__ import annotations

from typing import Any

from k8s_gpu_client.api._base import Namespace
from k8s_gpu_client.models.forecast import GpuForecast
from k8s_gpu_client.models.metrics import GpuClusterHealth, GpuOverview


class Cluster(Namespace):
    def overview(self) -> GpuOverview:
        """Counts, utilisation now, rental-equivalent cost (USD), alerts."""
        return GpuOverview.from_api(self._http.request("GET", "/gpu/overview"))

    def health(self) -> GpuClusterHealth:
        return GpuClusterHealth.from_api(self._http.request("GET", "/gpu/health"))

    def forecast(self, *, hours: int = 24) -> GpuForecast:
        """GPU utilisation, allocated GPUs and memory over the next ``hours``, with 80% and
        95% intervals and capacity warnings."""
        data = self._http.request("GET", "/gpu/forecast", params={"hours": hours})
        return GpuForecast.from_api(data)

    def service_health(self) -> dict[str, Any]:
        """The actuator health (``{"status": "UP", "components": ...}``, no envelope)."""
        data: dict[str, Any] = self._http.request("GET", "/../actuator/health", envelope=False)
        return data
