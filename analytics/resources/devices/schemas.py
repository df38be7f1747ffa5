"""Schemas of the GPU device endpoints (field names as in the seed)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from analytics.api.fields import FoldedChoice, Text, UtcDateTime, doc, known_gpu_model
from analytics.resources.gpu.schemas import MetricsAvailabilitySchema
from analytics.services.inventory.devices import DEVICE_STATUSES, STATUS_FILTERS

_NODE_NAME = validate.Regexp(
    r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$",
    error="Must be a Kubernetes node name (lower-case DNS subdomain).",
)


class DeviceSchema(MetricsAvailabilitySchema):
    device_id = fields.String(
        data_key="deviceId", metadata=doc("Device id, `{nodeName}-GPU-{index:02d}`.")
    )
    node_name = fields.String(data_key="nodeName", metadata=doc("Kubernetes node name."))
    model_id = fields.String(data_key="modelId", metadata=doc("GPU model id, e.g. A100_80GB."))
    model_name = fields.String(data_key="modelName", metadata=doc("GPU model display name."))
    device_index = fields.Integer(
        data_key="deviceIndex", metadata=doc("GPU index on the node (NVML index).")
    )
    device_status = fields.String(
        data_key="deviceStatus",
        metadata=doc("Device status.", enum=list(DEVICE_STATUSES)),
    )
    current_temp_c = fields.Float(
        data_key="currentTempC",
        allow_none=True,
        metadata=doc("Current temperature, °C; null without live metrics."),
    )
    current_power_w = fields.Float(
        data_key="currentPowerW",
        allow_none=True,
        metadata=doc("Current power draw, watts; null without live metrics."),
    )
    current_utilization = fields.Float(
        data_key="currentUtilization",
        allow_none=True,
        metadata=doc("Current GPU utilisation, percent 0-100; null without live metrics."),
    )
    memory_gb = fields.Float(data_key="memoryGb", metadata=doc("GPU memory, GB."))
    architecture = fields.String(metadata=doc("GPU architecture, e.g. Ampere."))
    mig_support = fields.Boolean(data_key="migSupport", metadata=doc("Whether the model has MIG."))
    allocated = fields.Boolean(
        metadata=doc("Whether the GPU or any of its MIG instances is allocated now.")
    )
    mig_instance_count = fields.Integer(
        data_key="migInstanceCount", metadata=doc("MIG instances in the device's layout.")
    )
    serial_number = fields.String(
        data_key="serialNumber", allow_none=True, metadata=doc("Board serial number.")
    )
    pci_address = fields.String(
        data_key="pciAddress", allow_none=True, metadata=doc("PCI bus id, e.g. 0000:17:00.0.")
    )
    gpu_uuid = fields.String(
        data_key="gpuUuid", allow_none=True, metadata=doc("NVML UUID, `GPU-...`.")
    )
    driver_version = fields.String(
        data_key="driverVersion", allow_none=True, metadata=doc("NVIDIA driver version.")
    )
    firmware_version = fields.String(
        data_key="firmwareVersion", allow_none=True, metadata=doc("VBIOS/firmware version.")
    )
    purchase_cost = fields.Float(
        data_key="purchaseCost", allow_none=True, metadata=doc("Purchase cost, USD.")
    )
    purchase_date = UtcDateTime(
        data_key="purchaseDate", allow_none=True, metadata=doc("Purchase date, UTC.")
    )
    warranty_expiry_date = UtcDateTime(
        data_key="warrantyExpiryDate", allow_none=True, metadata=doc("Warranty end, UTC.")
    )
    price_per_hour = fields.Float(
        data_key="pricePerHour",
        allow_none=True,
        metadata=doc("Price book rate of the model, USD per GPU-hour; null when unknown."),
    )
    source = fields.String(
        metadata=doc('How the device was registered: "api" or "exporter" (inventory sync).')
    )
    registered_at = UtcDateTime(data_key="registeredAt", metadata=doc("Registration time, UTC."))
    updated_at = UtcDateTime(data_key="updatedAt", metadata=doc("Last change, UTC."))
    presence = fields.String(
        allow_none=True,
        metadata=doc(
            "What the inventory sync last saw: REPORTED, LOST (the exporter cannot read it, "
            "gpu_up 0) or MISSING (no longer reported); null if no exporter ever reported it.",
            enum=["REPORTED", "LOST", "MISSING"],
        ),
    )
    last_seen_at = UtcDateTime(
        data_key="lastSeenAt",
        allow_none=True,
        metadata=doc("When an exporter last reported the GPU, UTC (inventory sync)."),
    )
    product_name = fields.String(
        data_key="productName",
        allow_none=True,
        metadata=doc("NVML product name as the exporter reports it."),
    )


class DeviceRegistrationSchema(Schema):
    node_name = Text(
        data_key="nodeName",
        required=True,
        validate=_NODE_NAME,
        metadata=doc("Kubernetes node name.", example="gpu-worker-1"),
    )
    model_id = Text(
        data_key="modelId",
        required=True,
        validate=[validate.Length(1, 64), known_gpu_model],
        metadata=doc("GPU model id from the catalogue.", example="A100_80GB"),
    )
    device_index = fields.Integer(
        data_key="deviceIndex",
        required=True,
        strict=True,
        validate=validate.Range(0, 63),
        metadata=doc("GPU index on the node, 0-63.", example=0),
    )
    serial_number = Text(
        data_key="serialNumber",
        load_default=None,
        validate=validate.Length(max=64),
        metadata=doc("Board serial number."),
    )
    pci_address = Text(
        data_key="pciAddress",
        load_default=None,
        validate=validate.Length(max=32),
        metadata=doc("PCI bus id."),
    )
    gpu_uuid = Text(
        data_key="gpuUuid",
        load_default=None,
        validate=validate.Length(max=64),
        metadata=doc("NVML UUID, `GPU-...`."),
    )
    driver_version = Text(
        data_key="driverVersion",
        load_default=None,
        validate=validate.Length(max=32),
        metadata=doc("Driver version."),
    )
    firmware_version = Text(
        data_key="firmwareVersion",
        load_default=None,
        validate=validate.Length(max=32),
        metadata=doc("Firmware version."),
    )
    purchase_cost = fields.Float(
        data_key="purchaseCost",
        load_default=None,
        validate=validate.Range(0, 10_000_000),
        metadata=doc("Purchase cost, USD."),
    )
    purchase_date = UtcDateTime(
        data_key="purchaseDate", load_default=None, metadata=doc("Purchase date, UTC.")
    )
    warranty_expiry_date = UtcDateTime(
        data_key="warrantyExpiryDate", load_default=None, metadata=doc("Warranty end, UTC.")
    )
    status = Text(
        load_default="ACTIVE",
        validate=validate.OneOf(DEVICE_STATUSES),
        metadata=doc("Initial status (default ACTIVE).", enum=list(DEVICE_STATUSES)),
    )


class DeviceListQuerySchema(Schema):
    node_name = Text(
        data_key="nodeName", validate=_NODE_NAME, metadata=doc("Only GPUs of this node.")
    )
    model_id = Text(data_key="modelId", metadata=doc("Only GPUs of this model."))
    # The seed's lower-case filters, and the other device statuses in the same case; any case
    # is accepted (ACTIVE is the seed's active).
    status = FoldedChoice(
        STATUS_FILTERS
        + tuple(s.lower() for s in DEVICE_STATUSES if s.lower() not in STATUS_FILTERS),
        metadata=doc(
            "available (ACTIVE and not allocated), active (ACTIVE or MIG_ENABLED), "
            "maintenance, inactive, failed or mig_enabled; any case is accepted.",
        ),
    )


class DeviceStatusQuerySchema(Schema):
    status = Text(
        required=True,
        validate=validate.OneOf(DEVICE_STATUSES),
        metadata=doc("The new status.", enum=list(DEVICE_STATUSES)),
    )


class DeviceStatisticsSchema(Schema):
    total_devices = fields.Integer(data_key="totalDevices", metadata=doc("Registered GPUs."))
    devices_by_model = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        data_key="devicesByModel",
        metadata=doc("GPU count per model id."),
    )
    devices_by_node = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        data_key="devicesByNode",
        metadata=doc("GPU count per node."),
    )
    devices_by_status = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        data_key="devicesByStatus",
        metadata=doc("GPU count per device status."),
    )
    allocated_devices = fields.Integer(
        data_key="allocatedDevices", metadata=doc("GPUs with a live allocation (whole or MIG).")
    )
    available_devices = fields.Integer(
        data_key="availableDevices", metadata=doc("ACTIVE GPUs without an allocation.")
    )
    mig_enabled_devices = fields.Integer(
        data_key="migEnabledDevices", metadata=doc("GPUs with a MIG layout.")
    )
    allocation_rate = fields.Float(
        data_key="allocationRate",
        metadata=doc("Allocated GPUs over ACTIVE and MIG_ENABLED GPUs, percent."),
    )
