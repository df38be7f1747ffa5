"""GPU metric endpoints: usage statistics, overheating alerts, sync now, collection status."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from analytics.api.context import services
from analytics.api.envelope import ApiBlueprint
from analytics.api.expensive import expensive
from analytics.paging import PageRequest, paged_within
from analytics.resources.gpu.schemas import (
    CollectionStatusSchema,
    GpuMetricsWindowQuerySchema,
    OverheatingAlertsSchema,
    SyncResultSchema,
    UsageStatisticsSchema,
)

blp = ApiBlueprint(
    "gpu_metrics",
    __name__,
    url_prefix="/k8s-monitor/api/v1/gpu/metrics",
    description="GPU metrics from Prometheus, and the inventory sync.",
)


@blp.route("/usage-statistics")
class UsageStatistics(MethodView):
    @blp.doc(operationId="getGpuUsageStatistics")
    @blp.arguments(GpuMetricsWindowQuerySchema, location="query")
    @blp.paged_response(200, UsageStatisticsSchema)
    @expensive
    def get(self, query: dict[str, Any], page: PageRequest | None) -> Any:
        """Per-device and per-model average utilisation, memory use and temperature

        Windows of 2 hours and more read the hourly recording rules (one sample per GPU and
        hour), shorter ones the raw series; `windowStart`/`windowEnd` say which data the
        averages cover. deviceStatistics is keyed in node name and GPU index order; page and
        size cut it to one page (modelStatistics still covers every GPU). 503
        METRICS_UNAVAILABLE when Prometheus cannot answer.
        """
        statistics = services().gpu_metrics.usage_statistics(query["hours"])
        return paged_within(statistics, "device_statistics", page)


@blp.route("/overheating-alerts")
class OverheatingAlerts(MethodView):
    @blp.doc(operationId="listOverheatingAlerts")
    @blp.arguments(GpuMetricsWindowQuerySchema, location="query")
    @blp.paged_response(200, OverheatingAlertsSchema)
    @expensive
    def get(self, query: dict[str, Any], page: PageRequest | None) -> Any:
        """Windows in which a GPU was above its model's temperature threshold

        Minute resolution; alerts oldest first, then by GPU id. page and size cut alerts to
        one page (totalAlerts and affectedDevices still count every window). 503
        METRICS_UNAVAILABLE when Prometheus cannot answer.
        """
        return paged_within(
            services().gpu_metrics.overheating_alerts(query["hours"]), "alerts", page
        )


@blp.route("/collect")
class Collect(MethodView):
    @blp.doc(operationId="collectMetrics")
    @blp.envelope_response(200, SyncResultSchema)
    def post(self) -> Any:
        """Sync the inventory and MIG state with what the exporters report, now

        Registers new GPUs, updates identity fields, marks lost and missing GPUs, records the
        observed MIG layout; returns what changed. If another worker is syncing, waits for it
        and returns its result (`coalesced`). 503 METRICS_UNAVAILABLE when Prometheus cannot
        answer.
        """
        return services().inventory_sync.run("manual")


@blp.route("/collection-status")
class CollectionStatus(MethodView):
    @blp.doc(operationId="getCollectionStatus")
    @blp.envelope_response(200, CollectionStatusSchema)
    def get(self) -> Any:
        """The last sync, Prometheus's scrape targets and each exporter's freshness

        Answers 200 even when Prometheus is down (`prometheus.reachable` is then false).
        """
        service = services()
        status = service.inventory_sync.status()
        collection = service.gpu_metrics.collection_status()
        return {
            "last_sync": status.last,
            "running_since": status.running_since,
            "sync_interval_seconds": status.interval_seconds,
            "unrecognized_gpus": service.inventory_sync.unrecognized(),
            **collection,
        }
