"""Batch endpoints: many allocations in one all-or-nothing transaction; metrics for many nodes."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from analytics.api.context import actor, services
from analytics.api.envelope import ApiBlueprint
from analytics.resources.batch.schemas import (
    BatchAllocationRequestSchema,
    BatchAllocationResultSchema,
)
from analytics.resources.gpu.schemas import (
    BatchMetricsCollectRequestSchema,
    BatchMetricsCollectResultSchema,
)
from analytics.services.ledger.allocations import AllocationRequest

blp = ApiBlueprint(
    "batch", __name__, url_prefix="/k8s-monitor/api/v1/batch", description="Batch operations."
)


@blp.route("/allocations")
class BatchAllocations(MethodView):
    @blp.doc(operationId="createAllocationsBatch")
    @blp.arguments(BatchAllocationRequestSchema)
    @blp.envelope_response(201, BatchAllocationResultSchema)
    def post(self, body: dict[str, Any]) -> Any:
        """Allocate many resources at once, all or nothing

        The whole batch runs in one database transaction: either every request is allocated,
        or none is and the error names the first request that could not be met
        (`details.index`). Rate limit: 100 requests per minute.
        """
        requests = [AllocationRequest(**item) for item in body["allocations"]]
        views = services().allocations.allocate_batch(requests, actor())
        return {"batch_id": views[0].batch_id, "allocations": views}


@blp.route("/metrics/collect")
class BatchMetricsCollect(MethodView):
    @blp.doc(operationId="collectMetricsBatch")
    @blp.arguments(BatchMetricsCollectRequestSchema)
    @blp.envelope_response(200, BatchMetricsCollectResultSchema)
    def post(self, body: dict[str, Any]) -> Any:
        """Collect metrics for a list of nodes

        With collectGpuMetrics, syncs the nodes' GPUs (as POST /gpu/metrics/collect, limited
        to these nodes) and returns their averages over timeRange; with collectNodeMetrics,
        the nodes' CPU and memory use. Nodes Prometheus knows nothing of are answered
        NOT_FOUND. 503 METRICS_UNAVAILABLE when Prometheus cannot answer.
        """
        service = services()
        text = body["time_range"]
        hours = int(text[:-1]) * (24 if text.endswith("d") else 1)
        return service.gpu_metrics.collect_nodes(
            body["nodes"],
            hours,
            body["collect_gpu_metrics"],
            body["collect_node_metrics"],
            lambda nodes: service.inventory_sync.run("batch", nodes),
        )
