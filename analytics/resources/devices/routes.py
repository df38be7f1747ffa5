"""GPU device endpoints: list, register, get, status, statistics."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from analytics.api.context import services
from analytics.api.envelope import ApiBlueprint
from analytics.paging import PageRequest, paged
from analytics.resources.devices.schemas import (
    DeviceListQuerySchema,
    DeviceRegistrationSchema,
    DeviceSchema,
    DeviceStatisticsSchema,
    DeviceStatusQuerySchema,
)
from analytics.resources.gpu.schemas import DeviceHealthSchema, OverheatingDeviceSchema
from analytics.services.inventory.devices import DeviceRegistration

blp = ApiBlueprint(
    "devices", __name__, url_prefix="/k8s-monitor/api/v1/gpu/devices", description="GPU inventory."
)


@blp.route("")
class Devices(MethodView):
    @blp.doc(operationId="listDevices")
    @blp.arguments(DeviceListQuerySchema, location="query")
    @blp.paged_response(200, DeviceSchema, many=True)
    def get(self, query: dict[str, Any], page: PageRequest | None) -> Any:
        """List GPUs, filtered by node, model or status

        The live fields (currentTempC, currentPowerW, currentUtilization) come from
        Prometheus in one query; when it cannot answer they are null, metricsAvailable is
        false with the reason, and the list is still served. Sorted by node name, then GPU index; page and size give one page of it.
        """
        return services().devices.list_devices(**query, page=page)

    @blp.doc(operationId="registerDevice")
    @blp.arguments(DeviceRegistrationSchema)
    @blp.envelope_response(201, DeviceSchema)
    def post(self, body: dict[str, Any]) -> Any:
        """Register a GPU with purchase and warranty data

        409 RESOURCE_ALREADY_EXISTS when the node/index or GPU UUID is already registered;
        400 INVALID_PARAMETER for an unknown modelId.
        """
        return services().devices.register(DeviceRegistration(**body))


@blp.route("/statistics")
class DeviceStatistics(MethodView):
    @blp.doc(operationId="getDeviceStatistics")
    @blp.envelope_response(200, DeviceStatisticsSchema)
    def get(self) -> Any:
        """GPU counts by model, node and status, and the allocation rate"""
        return services().devices.statistics()


@blp.route("/overheating")
class OverheatingDevices(MethodView):
    @blp.doc(operationId="listOverheatingDevices")
    @blp.paged_response(200, OverheatingDeviceSchema, many=True)
    def get(self, page: PageRequest | None) -> Any:
        """GPUs now above their model's temperature threshold

        Hottest above its threshold first, then by GPU id; page and size give one page of it.
        503 METRICS_UNAVAILABLE when Prometheus cannot answer.
        """
        return paged(services().gpu_metrics.overheating_devices(), page)


@blp.route("/<string:deviceId>")
class Device(MethodView):
    @blp.doc(operationId="getDevice")
    @blp.envelope_response(200, DeviceSchema)
    def get(self, deviceId: str) -> Any:
        """One GPU

        Its live fields are null, and metricsAvailable false with the reason, when Prometheus
        cannot answer.
        """
        return services().devices.get(deviceId)


@blp.route("/<string:deviceId>/status")
class DeviceStatus(MethodView):
    @blp.doc(operationId="updateDeviceStatus")
    @blp.arguments(DeviceStatusQuerySchema, location="query")
    @blp.envelope_response(200, DeviceSchema)
    def put(self, query: dict[str, Any], deviceId: str) -> Any:
        """Change a GPU's status (ACTIVE, INACTIVE, MAINTENANCE, FAILED, MIG_ENABLED)"""
        return services().devices.set_status(deviceId, query["status"])


@blp.route("/<string:deviceId>/health")
class DeviceHealth(MethodView):
    @blp.doc(operationId="getDeviceHealth")
    @blp.envelope_response(200, DeviceHealthSchema)
    def get(self, deviceId: str) -> Any:
        """Health verdict of one GPU with its reasons

        Temperature against the model's threshold, XIDs in the last 24 hours, uncorrectable
        ECC errors, row remapping, thermal and power-brake throttling, and whether the exporter
        still reads the GPU. 503 METRICS_UNAVAILABLE when Prometheus cannot answer.
        """
        return services().gpu_metrics.device_health(deviceId)
