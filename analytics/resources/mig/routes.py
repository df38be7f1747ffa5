"""MIG endpoints: create, delete and read layouts; free instances; statistics."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from analytics.api.context import actor, services
from analytics.api.envelope import ApiBlueprint
from analytics.paging import PageRequest
from analytics.resources.mig.schemas import (
    MigInstanceSchema,
    MigLayoutRequestSchema,
    MigLayoutSchema,
    MigStatisticsSchema,
)
from analytics.services.gpu.metrics import MIG_METRIC_FIELDS

blp = ApiBlueprint(
    "mig", __name__, url_prefix="/k8s-monitor/api/v1/gpu/mig", description="MIG layouts."
)


@blp.route("/devices/<string:deviceId>")
class MigDevice(MethodView):
    @blp.doc(operationId="getMigLayout")
    @blp.envelope_response(200, MigLayoutSchema)
    def get(self, deviceId: str) -> Any:
        """The GPU's MIG instances, desired and observed"""
        return services().mig.layout(deviceId)

    @blp.doc(operationId="createMigInstances")
    @blp.arguments(MigLayoutRequestSchema)
    @blp.envelope_response(201, MigLayoutSchema)
    def post(self, body: dict[str, Any], deviceId: str) -> Any:
        """Add MIG instances to the GPU's layout

        Validated against the model's real geometry with a placement search, also on a partly
        carved GPU. New instances are PENDING until the exporter reports them; they can be
        allocated at once. 422 MIG_NOT_SUPPORTED for a GPU without MIG; 400 INVALID_PARAMETER
        for a layout the model can never hold; 409 INSUFFICIENT_RESOURCES when only the
        instances already there block it; 409 GPU_NOT_AVAILABLE when the GPU is not ACTIVE or
        is allocated whole.
        """
        return services().mig.create(deviceId, body["profile_ids"], actor())

    @blp.doc(operationId="deleteMigInstances")
    @blp.envelope_response(200, MigLayoutSchema)
    def delete(self, deviceId: str) -> Any:
        """Remove all MIG instances of the GPU

        Refused with 409 GPU_NOT_AVAILABLE while any instance is allocated.
        """
        return services().mig.delete(deviceId, actor())


@blp.route("/available")
class MigAvailable(MethodView):
    @blp.doc(operationId="listAvailableMigInstances")
    @blp.paged_response(200, MigInstanceSchema, many=True)
    def get(self, page: PageRequest | None) -> Any:
        """Free MIG instances (PENDING ones included: they can be allocated)

        Sorted by node name, GPU index, then instance id; page and size give one page of it.
        """
        return services().mig.available(page)


@blp.route("/statistics")
class MigStatistics(MethodView):
    @blp.doc(operationId="getMigStatistics")
    @blp.envelope_response(200, MigStatisticsSchema)
    def get(self) -> Any:
        """MIG usage statistics

        Instance counts and allocation rates from the MIG layouts in the database; memory in
        use from Prometheus. When Prometheus cannot answer, the memory fields are null and
        metricsAvailable is false with the reason (still 200).
        """
        service = services()
        memory = service.metrics_gate.read(service.gpu_metrics.mig_memory, "MIG memory use")
        return {
            **service.mig.statistics(),
            **(memory.value or dict.fromkeys(MIG_METRIC_FIELDS)),
            **memory.flags(),
        }
