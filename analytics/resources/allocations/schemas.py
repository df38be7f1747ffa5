"""Schemas of the allocation endpoints (request and response fields as in the seed)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from analytics.api.fields import Text, UtcDateTime, doc, known_gpu_model
from analytics.resources.gpu.schemas import MetricsAvailabilitySchema

# Kubernetes names: namespaces are DNS labels, pods DNS subdomains.
_NAMESPACE = validate.Regexp(
    r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", error="Must be a Kubernetes namespace name."
)
_POD = validate.Regexp(
    r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$", error="Must be a Kubernetes object name."
)
_LABEL = validate.Length(1, 128)
# Larger than any GPU (H200: 141 GB); anything beyond is a unit mistake, not a request.
MAX_MEMORY_GB = 1024
STATUSES = ["ALLOCATED", "RELEASED", "EXPIRED"]


class AllocationRequestSchema(Schema):
    namespace = Text(
        required=True,
        validate=_NAMESPACE,
        metadata=doc("Namespace of the pod.", example="model-serving"),
    )
    pod_name = Text(
        data_key="podName",
        required=True,
        validate=_POD,
        metadata=doc("Pod that will use the GPU.", example="vllm-llama2-7b"),
    )
    container_name = Text(
        data_key="containerName",
        load_default=None,
        validate=_LABEL,
        metadata=doc("Container in the pod.", example="vllm-container"),
    )
    workload_type = Text(
        data_key="workloadType",
        load_default=None,
        validate=validate.Length(1, 64),
        metadata=doc("Inference, Training, Development, ...", example="Inference"),
    )
    use_mig = fields.Boolean(
        data_key="useMig",
        load_default=False,
        metadata=doc("true: a MIG instance; false (default): a whole GPU."),
    )
    required_memory_gb = fields.Float(
        data_key="requiredMemoryGb",
        required=True,
        validate=validate.Range(min=0, max=MAX_MEMORY_GB, min_inclusive=False),
        metadata=doc("GPU memory needed, GB (0 < x <= 1024).", example=20),
    )
    preferred_model_id = Text(
        data_key="preferredModelId",
        load_default=None,
        validate=[validate.Length(1, 64), known_gpu_model],
        metadata=doc(
            "GPU model to prefer when one fits; others are used when none of it is free.",
            example="A100_80GB",
        ),
    )
    planned_release_time = UtcDateTime(
        data_key="plannedReleaseTime",
        load_default=None,
        metadata=doc("When the allocation ends by itself (EXPIRED), UTC; must be in the future."),
    )
    user_id = Text(
        data_key="userId", load_default=None, validate=_LABEL, metadata=doc("User charged.")
    )
    team_id = Text(
        data_key="teamId", load_default=None, validate=_LABEL, metadata=doc("Team charged.")
    )
    project_id = Text(
        data_key="projectId", load_default=None, validate=_LABEL, metadata=doc("Project charged.")
    )
    max_cost_per_hour = fields.Float(
        data_key="maxCostPerHour",
        load_default=None,
        validate=validate.Range(min=0, max=100_000),
        metadata=doc("Refuse resources dearer than this, USD per hour.", example=6.0),
    )


class KubernetesSchema(Schema):
    node_selector = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        data_key="nodeSelector",
        metadata=doc("Pod nodeSelector pinning it to the allocated GPU's node."),
    )
    resource_name = fields.String(
        data_key="resourceName",
        metadata=doc("Extended resource to request: nvidia.com/gpu or nvidia.com/mig-<profile>."),
    )
    resource_count = fields.Integer(
        data_key="resourceCount", metadata=doc("How many of the resource to request.")
    )
    ready = fields.Boolean(
        metadata=doc("false while a MIG instance is PENDING (layout not applied yet).")
    )
    note = fields.String(metadata=doc("Why the resource is not ready yet, when it is not."))


class HistoryEntrySchema(Schema):
    status = fields.String(metadata=doc("Status entered.", enum=STATUSES))
    at = UtcDateTime(metadata=doc("When, UTC."))
    actor = fields.String(allow_none=True, metadata=doc("API key id and name, or expiry."))


class AllocationSchema(Schema):
    allocation_id = fields.String(
        data_key="allocationId", metadata=doc("Allocation id, ALLOC- and 8 characters.")
    )
    namespace = fields.String(metadata=doc("Namespace of the pod."))
    pod_name = fields.String(data_key="podName", metadata=doc("Pod name."))
    container_name = fields.String(
        data_key="containerName", allow_none=True, metadata=doc("Container name.")
    )
    workload_type = fields.String(
        data_key="workloadType", allow_none=True, metadata=doc("Workload type.")
    )
    resource_type = fields.String(
        data_key="resourceType",
        metadata=doc("What was allocated.", enum=["GPU", "MIG_INSTANCE"]),
    )
    allocated_resource = fields.String(
        data_key="allocatedResource", metadata=doc("Device id or MIG instance id.")
    )
    device_id = fields.String(data_key="deviceId", metadata=doc("The (parent) GPU id."))
    node_name = fields.String(data_key="nodeName", metadata=doc("Node of the GPU."))
    model_id = fields.String(data_key="modelId", metadata=doc("GPU model id."))
    mig_profile = fields.String(
        data_key="migProfile", allow_none=True, metadata=doc("MIG profile, for MIG instances.")
    )
    required_memory_gb = fields.Float(
        data_key="requiredMemoryGb", metadata=doc("Memory asked for, GB.")
    )
    allocated_memory_gb = fields.Float(
        data_key="allocatedMemoryGb", metadata=doc("Memory of the allocated resource, GB.")
    )
    allocation_time = UtcDateTime(data_key="allocationTime", metadata=doc("Start, UTC."))
    planned_release_time = UtcDateTime(
        data_key="plannedReleaseTime", allow_none=True, metadata=doc("Planned end, UTC.")
    )
    release_time = UtcDateTime(
        data_key="releaseTime", allow_none=True, metadata=doc("Actual end, UTC; null while live.")
    )
    status = fields.String(metadata=doc("Ledger status.", enum=STATUSES))
    cost_per_hour = fields.Float(data_key="costPerHour", metadata=doc("Price, USD per hour."))
    cost_accrued = fields.Float(
        data_key="costAccrued", metadata=doc("Cost so far (settled once ended), USD.")
    )
    max_cost_per_hour = fields.Float(
        data_key="maxCostPerHour", allow_none=True, metadata=doc("Cost limit asked, USD/hour.")
    )
    user_id = fields.String(data_key="userId", allow_none=True, metadata=doc("User charged."))
    team_id = fields.String(data_key="teamId", allow_none=True, metadata=doc("Team charged."))
    project_id = fields.String(
        data_key="projectId", allow_none=True, metadata=doc("Project charged.")
    )
    batch_id = fields.String(
        data_key="batchId", allow_none=True, metadata=doc("Batch that created it, if any.")
    )
    resource_state = fields.String(
        data_key="resourceState",
        metadata=doc(
            "READY, or PENDING while the MIG instance is still being created: in the desired "
            "layout (MIG on demand carves one on an idle MIG-capable GPU when no free instance "
            "fits) but not yet applied by the GPU operator and reported by the exporter.",
            enum=["READY", "PENDING"],
        ),
    )
    kubernetes = fields.Nested(
        KubernetesSchema, metadata=doc("How to request the resource in the pod spec.")
    )
    history = fields.List(
        fields.Nested(HistoryEntrySchema),
        allow_none=True,
        metadata=doc("Status history (single-allocation reads only)."),
    )


class AllocationListQuerySchema(Schema):
    namespace = Text(validate=_NAMESPACE, metadata=doc("Only this namespace."))
    user_id = Text(data_key="userId", validate=_LABEL, metadata=doc("Only this user."))
    team_id = Text(data_key="teamId", validate=_LABEL, metadata=doc("Only this team."))
    status = Text(
        load_default="ALLOCATED",
        validate=validate.OneOf([*STATUSES, "ALL"]),
        metadata=doc(
            "Ledger status to list (default ALLOCATED: the live ones).", enum=[*STATUSES, "ALL"]
        ),
    )


class ExpiringQuerySchema(Schema):
    hours = fields.Integer(
        load_default=24,
        validate=validate.Range(1, 8760),
        metadata=doc("Window ahead, hours (1-8760, default 24).", example=168),
    )


class CostStatisticsQuerySchema(Schema):
    days = fields.Integer(
        load_default=None,
        validate=validate.Range(1, 3650),
        metadata=doc("Only cost inside the last N days (default: the whole ledger)."),
    )


def _money_map(data_key: str, description: str) -> fields.Dict:
    return fields.Dict(
        keys=fields.String(), values=fields.Float(), data_key=data_key, metadata=doc(description)
    )


class CostStatisticsSchema(Schema):
    window_days = fields.Integer(
        data_key="windowDays", allow_none=True, metadata=doc("The days asked for, or null.")
    )
    since = UtcDateTime(allow_none=True, metadata=doc("Window start, UTC; null: all time."))
    until = UtcDateTime(metadata=doc("Window end (now), UTC."))
    total_cost = fields.Float(data_key="totalCost", metadata=doc("Cost in the window, USD."))
    total_allocations = fields.Integer(
        data_key="totalAllocations", metadata=doc("Allocations overlapping the window.")
    )
    active_allocations = fields.Integer(
        data_key="activeAllocations", metadata=doc("Allocations live now.")
    )
    current_hourly_cost = fields.Float(
        data_key="currentHourlyCost", metadata=doc("Sum of live allocations' prices, USD/hour.")
    )
    allocated_hours = fields.Float(
        data_key="allocatedHours", metadata=doc("Resource-hours allocated in the window.")
    )
    average_cost_per_allocation = fields.Float(
        data_key="averageCostPerAllocation", metadata=doc("Mean cost per allocation, USD.")
    )
    cost_by_team = _money_map("costByTeam", "Cost per team, USD (unassigned: no teamId).")
    cost_by_namespace = _money_map("costByNamespace", "Cost per namespace, USD.")
    cost_by_user = _money_map("costByUser", "Cost per user, USD (unassigned: no userId).")
    cost_by_model = _money_map("costByModel", "Cost per GPU model, USD.")


# -- reconciliation with the kubelet's assignments ---------------------------------------------

_RECONCILIATION_STATES = [
    "POD_HOLDS_NO_GPU",
    "HOLDS_OTHER_RESOURCE",
    "RESERVED_NOT_OBSERVED",
]


class ReconciliationQuerySchema(Schema):
    namespace = Text(validate=_NAMESPACE, metadata=doc("Only this namespace."))


class PodHoldingSchema(Schema):
    container = fields.String(metadata=doc("Container holding the device."))
    node_name = fields.String(data_key="nodeName", metadata=doc("Kubernetes node name."))
    device_id = fields.String(
        data_key="deviceId", allow_none=True, metadata=doc("The GPU's id; null if unregistered.")
    )
    mig_instance_id = fields.String(
        data_key="migInstanceId",
        allow_none=True,
        metadata=doc("The MIG instance's id, for a MIG device known to the inventory."),
    )
    gpu_uuid = fields.String(data_key="gpuUuid", metadata=doc("NVML UUID of the GPU."))
    mig_uuid = fields.String(
        data_key="migUuid", allow_none=True, metadata=doc("NVML UUID of the MIG device.")
    )
    resource = fields.String(metadata=doc("Extended resource, e.g. nvidia.com/gpu."))
    sharing = fields.String(metadata=doc("exclusive, or shared (time-slicing, MPS)."))


class MismatchedAllocationSchema(Schema):
    allocation_id = fields.String(data_key="allocationId", metadata=doc("Allocation id."))
    namespace = fields.String(metadata=doc("Namespace of the pod."))
    pod_name = fields.String(data_key="podName", metadata=doc("Pod the allocation is for."))
    resource_type = fields.String(data_key="resourceType", metadata=doc("GPU or MIG_INSTANCE."))
    allocated_resource = fields.String(
        data_key="allocatedResource", metadata=doc("Reserved device or MIG instance id.")
    )
    device_id = fields.String(data_key="deviceId", metadata=doc("The (parent) GPU id."))
    expected_uuid = fields.String(
        data_key="expectedUuid",
        allow_none=True,
        metadata=doc("GPU UUID (or MIG UUID) the pod should hold; null when not yet known."),
    )
    state = fields.String(
        metadata=doc(
            "POD_HOLDS_NO_GPU: the pod holds no GPU (not running, or not scheduled yet); "
            "HOLDS_OTHER_RESOURCE: it holds a different device; RESERVED_NOT_OBSERVED: the "
            "reserved device or MIG instance has no UUID yet (not reported by an exporter).",
            enum=_RECONCILIATION_STATES,
        )
    )
    pod_holds = fields.List(
        fields.Nested(PodHoldingSchema),
        data_key="podHolds",
        metadata=doc("What the pod holds according to the kubelet."),
    )
    reserved_resource_held_by = fields.List(
        fields.String(),
        data_key="reservedResourceHeldBy",
        metadata=doc("Other pods (namespace/name) holding the reserved device."),
    )


class UnallocatedPodSchema(Schema):
    namespace = fields.String(metadata=doc("Namespace."))
    pod_name = fields.String(data_key="podName", metadata=doc("Pod name."))
    node_name = fields.String(data_key="nodeName", metadata=doc("Kubernetes node name."))
    holdings = fields.List(
        fields.Nested(PodHoldingSchema), metadata=doc("GPUs and MIG devices the pod holds.")
    )


class ReconciliationSchema(MetricsAvailabilitySchema):
    """The ledger from the database, the kubelet's assignments from Prometheus: without it, the
    comparison fields are null and metricsAvailable is false with the reason."""

    checked_at = UtcDateTime(data_key="checkedAt", metadata=doc("When the check ran, UTC."))
    namespace = fields.String(allow_none=True, metadata=doc("The namespace filter, if any."))
    active_allocations = fields.Integer(
        data_key="activeAllocations", metadata=doc("Live allocations checked.")
    )
    matched_allocations = fields.Integer(
        data_key="matchedAllocations",
        allow_none=True,
        metadata=doc("Allocations whose pod holds the reserved device; null without metrics."),
    )
    mismatched_allocations = fields.Integer(
        data_key="mismatchedAllocations",
        allow_none=True,
        metadata=doc(
            "Allocations whose pod does not hold the reserved device; null without metrics."
        ),
    )
    pods_holding_gpus = fields.Integer(
        data_key="podsHoldingGpus",
        allow_none=True,
        metadata=doc("Pods holding a GPU or MIG device; null without metrics."),
    )
    unallocated_pod_count = fields.Integer(
        data_key="unallocatedPodCount",
        allow_none=True,
        metadata=doc("Pods holding GPUs with no allocation; null without metrics."),
    )
    matched = fields.List(
        fields.String(),
        allow_none=True,
        metadata=doc("Ids of the matched allocations; null without metrics."),
    )
    mismatched = fields.List(
        fields.Nested(MismatchedAllocationSchema),
        allow_none=True,
        metadata=doc(
            "Allocations whose pod does not hold what they reserved; null without metrics."
        ),
    )
    unallocated_pods = fields.List(
        fields.Nested(UnallocatedPodSchema),
        data_key="unallocatedPods",
        allow_none=True,
        metadata=doc("Pods holding GPUs without a live allocation; null without metrics."),
    )
