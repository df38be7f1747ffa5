"""Allocation endpoints: allocate, release, list, get, cost statistics, expiring."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from analytics.api.context import actor, services
from analytics.api.envelope import ApiBlueprint
from analytics.paging import PageRequest, paged
from analytics.resources.allocations.schemas import (
    AllocationListQuerySchema,
    AllocationRequestSchema,
    AllocationSchema,
    CostStatisticsQuerySchema,
    CostStatisticsSchema,
    ExpiringQuerySchema,
    ReconciliationQuerySchema,
    ReconciliationSchema,
)
from analytics.services.ledger.allocations import AllocationRequest

blp = ApiBlueprint(
    "allocations",
    __name__,
    url_prefix="/k8s-monitor/api/v1/gpu/allocations",
    description="The GPU allocation ledger.",
)


@blp.route("")
class Allocations(MethodView):
    @blp.doc(operationId="listAllocations")
    @blp.arguments(AllocationListQuerySchema, location="query")
    @blp.paged_response(200, AllocationSchema, many=True)
    def get(self, query: dict[str, Any], page: PageRequest | None) -> Any:
        """Live allocations, filtered by namespace, user or team

        Sorted by allocation time, then allocation id; page and size give one page of it.
        """
        return services().allocations.list_allocations(**query, page=page)

    @blp.doc(operationId="createAllocation")
    @blp.arguments(AllocationRequestSchema)
    @blp.envelope_response(201, AllocationSchema)
    def post(self, body: dict[str, Any]) -> Any:
        """Allocate a whole GPU or a MIG instance

        Best fit: the preferred model first, then the smallest resource with enough memory,
        then the cheapest. 409 INSUFFICIENT_RESOURCES when nothing free fits (details list the
        closest candidates); 422 COST_LIMIT_EXCEEDED when everything that fits costs more than
        maxCostPerHour, 409 GPU_NOT_AVAILABLE when only taken resources meet it (it can succeed
        once one is released). The response says how to request the resource in Kubernetes.
        """
        return services().allocations.allocate(AllocationRequest(**body), actor())


@blp.route("/cost-statistics")
class CostStatistics(MethodView):
    @blp.doc(operationId="getAllocationCostStatistics")
    @blp.arguments(CostStatisticsQuerySchema, location="query")
    @blp.envelope_response(200, CostStatisticsSchema)
    def get(self, query: dict[str, Any]) -> Any:
        """Allocation cost by team, namespace, user and model"""
        return services().allocations.cost_statistics(query["days"])


@blp.route("/expiring")
class Expiring(MethodView):
    @blp.doc(operationId="listExpiringAllocations")
    @blp.arguments(ExpiringQuerySchema, location="query")
    @blp.paged_response(200, AllocationSchema, many=True)
    def get(self, query: dict[str, Any], page: PageRequest | None) -> Any:
        """Live allocations whose planned release falls within the next `hours`

        Sorted by planned release time, then allocation id; page and size give one page of it.
        """
        return paged(services().allocations.expiring(query["hours"]), page)


@blp.route("/reconciliation")
class Reconciliation(MethodView):
    @blp.doc(operationId="getAllocationReconciliation")
    @blp.arguments(ReconciliationQuerySchema, location="query")
    @blp.envelope_response(200, ReconciliationSchema)
    def get(self, query: dict[str, Any]) -> Any:
        """Allocations against the kubelet's assignments

        Lists allocations whose pod does not hold the reserved GPU or MIG instance (from the
        exporter's gpu_pod_allocation_info), and pods holding GPUs with no allocation. When
        Prometheus cannot answer, the comparison is null and metricsAvailable is false with
        the reason (still 200).
        """
        return services().reconciliation.reconcile(query.get("namespace"))


@blp.route("/<string:allocationId>")
class Allocation(MethodView):
    @blp.doc(operationId="getAllocation")
    @blp.envelope_response(200, AllocationSchema)
    def get(self, allocationId: str) -> Any:
        """One allocation with its status history"""
        return services().allocations.get(allocationId)

    @blp.doc(operationId="releaseAllocation")
    @blp.envelope_response(200, AllocationSchema)
    def delete(self, allocationId: str) -> Any:
        """Release an allocation (idempotent: an ended one is returned unchanged)"""
        return services().allocations.release(allocationId, actor())
