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
    def usage_statistics(
        self, *, hours: int = 24, page: int | None = None, size: int | None = None
    ) -> UsageStatistics:
        """Per-device and per-model average utilisation, memory use (percent), temperature.

        With ``page`` (from 1) and ``size``, device_statistics holds one page of GPUs (node and
        index order) and ``pagination`` says how many GPUs there are in all.
        """
        params = {"hours": hours, "page": page, "size": size}
        return self._paged_object(UsageStatistics, PREFIX + "/usage-statistics", params)

    def overheating_alerts(
        self, *, hours: int = 24, page: int | None = None, size: int | None = None
    ) -> OverheatingAlerts:
        """Windows in which a GPU was above its model's temperature threshold, oldest first.

        With ``page`` and ``size``, alerts holds one page and ``pagination`` the total.
        """
        params = {"hours": hours, "page": page, "size": size}
        return self._paged_object(OverheatingAlerts, PREFIX + "/overheating-alerts", params)

    def collect(self) -> SyncResult:
        """Sync the inventory and MIG state with what the exporters report now (operator)."""
        return SyncResult.from_api(self._http.request("POST", PREFIX + "/collect"))

    def collection_status(self) -> CollectionStatus:
        data = self._http.request("GET", PREFIX + "/collection-status")
        return CollectionStatus.from_api(data)
