"""Cluster-wide GPU endpoints: overview and health."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from analytics.api.context import services
from analytics.api.envelope import ApiBlueprint
from analytics.resources.gpu.schemas import GpuClusterHealthSchema, GpuOverviewSchema

blp = ApiBlueprint(
    "gpu_cluster",
    __name__,
    url_prefix="/k8s-monitor/api/v1/gpu",
    description="The GPU cluster at a glance.",
)


@blp.route("/overview")
class Overview(MethodView):
    @blp.doc(operationId="getGpuOverview")
    @blp.envelope_response(200, GpuOverviewSchema)
    def get(self) -> Any:
        """Cluster GPU overview: counts, utilisation now, rental-equivalent cost, alerts

        Counts and costs come from the database, utilisation and alerts from Prometheus. When
        Prometheus cannot answer, those are null and metricsAvailable is false with the
        reason (still 200).
        """
        return services().gpu_metrics.overview()


@blp.route("/health")
class Health(MethodView):
    @blp.doc(operationId="getGpuHealth")
    @blp.envelope_response(200, GpuClusterHealthSchema)
    def get(self) -> Any:
        """GPU cluster health: devices per verdict, with the reasons

        503 METRICS_UNAVAILABLE when Prometheus cannot answer.
        """
        return services().gpu_metrics.cluster_health()
