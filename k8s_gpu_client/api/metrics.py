"""``client.metrics``: GPU metrics from Prometheus and the inventory sync (/gpu/metrics)."""

from __future__ import annotations

from k8s_gpu_client.api._base import Namespace
from k8s_gpu_client.models.metrics import (
    CollectionStatus,
    OverheatingAlerts,
    SyncResult,
    UsageStatistics,
)

PREFIX = "/gpu/metrics"


class Metrics(Namespace):
    def usage_statistics(self, *, hours: int = 24) -> UsageStatistics:
        """Per-device and per-model average utilisation, memory use (percent), temperature."""
        data = self._http.request("GET", PREFIX + "/usage-statistics", params={"hours": hours})
        return UsageStatistics.from_api(data)

    def overheating_alerts(self, *, hours: int = 24) -> OverheatingAlerts:
        """Windows in which a GPU was above its model's temperature threshold."""
        data = self._http.request("GET", PREFIX + "/overheating-alerts", params={"hours": hours})
        return OverheatingAlerts.from_api(data)

    def collect(self) -> SyncResult:
        """Sync the inventory and MIG state with what the exporters report now (operator)."""
        return SyncResult.from_api(self._http.request("POST", PREFIX + "/collect"))

    def collection_status(self) -> CollectionStatus:
        data = self._http.request("GET", PREFIX + "/collection-status")
        return CollectionStatus.from_api(data)
