"""Schemas of the MIG endpoints."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from analytics.api.fields import Text, UtcDateTime, doc
from analytics.prom.utilization import SOURCES
from analytics.resources.gpu.schemas import MetricsAvailabilitySchema

_STATES = ["PENDING", "APPLIED", "UNMANAGED"]


class MigLayoutRequestSchema(Schema):
    profile_ids = fields.List(
        Text(validate=validate.Length(1, 32), metadata=doc("A MIG profile name.")),
        data_key="profileIds",
        required=True,
        validate=validate.Length(1, 16),
        metadata=doc(
            "MIG profiles to add to the GPU's layout, e.g. 1g.10gb; validated against the "
            "model's geometry and the instances already there.",
            example=["1g.10gb", "2g.20gb", "4g.40gb"],
        ),
    )


class MigInstanceSchema(Schema):
    instance_id = fields.String(
        data_key="instanceId", metadata=doc("MIG instance id, `{deviceId}-MIG-{nn}`.")
    )
    device_id = fields.String(data_key="deviceId", metadata=doc("Parent GPU id."))
    node_name = fields.String(data_key="nodeName", metadata=doc("Kubernetes node name."))
    model_id = fields.String(data_key="modelId", metadata=doc("Parent GPU model id."))
    profile = fields.String(metadata=doc("MIG profile, e.g. 1g.10gb."))
    memory_gb = fields.Float(data_key="memoryGb", metadata=doc("Instance memory, GB."))
    compute_slices = fields.Integer(
        data_key="computeSlices", metadata=doc("Compute slices (of 7; A30: 4).")
    )
    memory_slices = fields.Integer(
        data_key="memorySlices", metadata=doc("Memory slices (of 8; A30: 4).")
    )
    start_slice = fields.Integer(
        data_key="startSlice", metadata=doc("First memory slice of the placement.")
    )
    state = fields.String(
        metadata=doc(
            "PENDING: in the desired layout, not (or no longer) reported by the exporter; "
            "APPLIED: desired and reported; UNMANAGED: reported but not created through this "
            "API.",
            enum=_STATES,
        )
    )
    desired = fields.Boolean(metadata=doc("Part of the desired layout."))
    observed = fields.Boolean(metadata=doc("Reported by the exporter (NVML)."))
    mig_uuid = fields.String(
        data_key="migUuid", allow_none=True, metadata=doc("NVML MIG UUID once observed.")
    )
    allocated = fields.Boolean(metadata=doc("Whether an allocation holds the instance now."))
    allocation_id = fields.String(
        data_key="allocationId", allow_none=True, metadata=doc("The holding allocation.")
    )
    resource_name = fields.String(
        data_key="resourceName",
        metadata=doc("Kubernetes extended resource, e.g. nvidia.com/mig-1g.10gb."),
    )
    cost_per_hour = fields.Float(
        data_key="costPerHour", metadata=doc("Price of the instance, USD per hour.")
    )
    created_at = UtcDateTime(data_key="createdAt", metadata=doc("When it was requested, UTC."))


class MigConfigSchema(Schema):
    label_key = fields.String(
        data_key="labelKey", metadata=doc("Node label the GPU operator reads.")
    )
    label_value = fields.String(
        data_key="labelValue", metadata=doc("The mig-parted config name for this layout.")
    )
    mig_parted_config = fields.String(
        data_key="migPartedConfig",
        metadata=doc("mig-parted config (YAML, version v1) applying the layout to this GPU."),
    )


class MigDriftSchema(Schema):
    pending = fields.List(
        fields.String(), metadata=doc("Desired instances the exporter does not report.")
    )
    unmanaged = fields.List(
        fields.String(), metadata=doc("Reported instances that are not in the desired layout.")
    )
    retiring = fields.List(
        fields.String(),
        metadata=doc(
            "Instances of a deleted layout the exporter still reports: the cluster has not "
            "applied the change yet. They are in no layout and cannot be allocated."
        ),
    )


class MigLayoutSchema(Schema):
    device_id = fields.String(data_key="deviceId", metadata=doc("GPU id."))
    node_name = fields.String(data_key="nodeName", metadata=doc("Kubernetes node name."))
    device_index = fields.Integer(data_key="deviceIndex", metadata=doc("GPU index on the node."))
    model_id = fields.String(data_key="modelId", metadata=doc("GPU model id."))
    device_status = fields.String(data_key="deviceStatus", metadata=doc("Device status."))
    instances = fields.List(
        fields.Nested(MigInstanceSchema), metadata=doc("The GPU's MIG instances.")
    )
    pending_instances = fields.Integer(
        data_key="pendingInstances",
        metadata=doc("Instances not yet reported by the exporter (desired only)."),
    )
    free_memory_slices = fields.List(
        fields.Integer(),
        data_key="freeMemorySlices",
        metadata=doc("Memory slices no instance occupies."),
    )
    stranded_memory_slices = fields.List(
        fields.Integer(),
        data_key="strandedMemorySlices",
        metadata=doc("Free memory slices no further instance could use."),
    )
    stranded_compute_slices = fields.Integer(
        data_key="strandedComputeSlices",
        metadata=doc("Free compute slices no further instance could use."),
    )
    desired_layout = fields.List(
        fields.String(),
        data_key="desiredLayout",
        metadata=doc("The desired instances as profile@startSlice, by start slice."),
    )
    observed_layout = fields.List(
        fields.String(),
        data_key="observedLayout",
        metadata=doc(
            "The instances the exporter reports (NVML), as profile@startSlice; the inventory "
            "sync keeps it current."
        ),
    )
    in_sync = fields.Boolean(
        data_key="inSync", metadata=doc("Whether the observed layout is the desired one.")
    )
    drift = fields.Nested(
        MigDriftSchema,
        metadata=doc("Instance ids where desired and observed differ."),
    )
    mig_config = fields.Nested(
        MigConfigSchema,
        data_key="migConfig",
        allow_none=True,
        metadata=doc("How the GPU operator would apply this layout; null without instances."),
    )


class MigStatisticsSchema(MetricsAvailabilitySchema):
    """Counts from the MIG layouts in the database; memory in use from Prometheus (null, with
    metricsAvailable false, when it cannot answer)."""

    total_instances = fields.Integer(data_key="totalInstances", metadata=doc("MIG instances."))
    allocated_instances = fields.Integer(
        data_key="allocatedInstances", metadata=doc("Instances held by an allocation.")
    )
    free_instances = fields.Integer(data_key="freeInstances", metadata=doc("Instances free."))
    pending_instances = fields.Integer(
        data_key="pendingInstances", metadata=doc("Instances not yet reported by the exporter.")
    )
    mig_enabled_devices = fields.Integer(
        data_key="migEnabledDevices", metadata=doc("GPUs with at least one instance.")
    )
    instances_by_profile = fields.Dict(
        keys=fields.String(),
        values=fields.Dict(keys=fields.String(), values=fields.Integer()),
        data_key="instancesByProfile",
        metadata=doc("Per profile: total, allocated and free instance counts."),
    )
    instances_by_state = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        data_key="instancesByState",
        metadata=doc("Instance count per state (PENDING, APPLIED, UNMANAGED)."),
    )
    devices_with_drift = fields.List(
        fields.String(),
        data_key="devicesWithDrift",
        metadata=doc("GPUs whose observed MIG layout differs from the desired one."),
    )
    allocation_rate = fields.Float(
        data_key="allocationRate", metadata=doc("Allocated over all instances, percent.")
    )
    memory_allocation_rate = fields.Float(
        data_key="memoryAllocationRate",
        metadata=doc("Allocated over all instance memory, percent."),
    )
    instances_reporting = fields.Integer(
        data_key="instancesReporting",
        allow_none=True,
        metadata=doc("MIG instances the exporters report now; null without metrics."),
    )
    utilization = fields.Float(
        allow_none=True,
        metadata=doc(
            "Mean SM activity of the reported MIG instances that measure it now (GPM: Hopper "
            "and newer), percent 0-100; null where none does (NVML has no other utilisation "
            "per MIG instance) or without metrics."
        ),
    )
    utilization_source = fields.String(
        data_key="utilizationSource",
        allow_none=True,
        validate=validate.OneOf(SOURCES),
        metadata=doc(
            "What utilization is: SM_ACTIVE (gpu_prof_sm_active_ratio); null with no utilization."
        ),
    )
    memory_used_gb = fields.Float(
        data_key="memoryUsedGb",
        allow_none=True,
        metadata=doc(
            "Memory in use inside the reported MIG instances now, GB (10^9 bytes); null without "
            "metrics."
        ),
    )
    memory_total_gb = fields.Float(
        data_key="memoryTotalGb",
        allow_none=True,
        metadata=doc(
            "Memory of the reported MIG instances, GB (10^9 bytes); null without metrics."
        ),
    )
    memory_utilization = fields.Float(
        data_key="memoryUtilization",
        allow_none=True,
        metadata=doc(
            "Memory in use over the memory of the reported MIG instances now, percent; null "
            "without metrics or without reported instances."
        ),
    )
