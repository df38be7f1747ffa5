"""Schemas of the /resources endpoints (field names and shapes as in the seed's examples)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from analytics.api.fields import Text, UtcDateTime, doc
from analytics.services.cluster.health import ALERT_SOURCES, SEVERITIES
from analytics.services.cluster.service import MAX_STATISTICS_HOURS, RESOURCE_TYPES

_NAMESPACE = validate.Regexp(
    r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", error="Must be a Kubernetes namespace name."
)

_CPU_PERCENT = (
    "CPU used (its containers' rate over 5 minutes) over the pod's CPU limit (the sum of its "
    "containers' limits when every container sets one), else its request, else its node's "
    "allocatable CPU; percent, one decimal. Can exceed 100 against a request. Null without "
    "cAdvisor data (e.g. Pending or finished pods)."
)
_MEMORY_PERCENT = (
    "Working-set memory over the pod's memory limit (when every container sets one), else its "
    "request, else its node's allocatable memory; percent, one decimal. Null without cAdvisor "
    "data."
)
_GPU_PERCENT = (
    "Mean utilisation of the devices the pod holds that have a value of their own: a whole GPU "
    "held exclusively counts with the device's utilisation; a time-sliced GPU or MIG instance "
    "with the pod's own SM utilisation from NVML's per-process samples (none exists inside "
    "MIG), never the shared device's value. Percent, one decimal; null when no held device has "
    "a value (no GPU, or only MIG instances)."
)


class _Flattened(Schema):
    """Reads fields missing on the object from its ``inner`` attribute (a wrapped view)."""

    inner = ""

    def get_attribute(self, obj: Any, attr: str, default: Any) -> Any:
        if hasattr(obj, attr):
            return super().get_attribute(obj, attr, default)
        return super().get_attribute(getattr(obj, self.inner), attr, default)


# -- pods --------------------------------------------------------------------------------------


class ResourceClaimRefSchema(Schema):
    name = fields.String(metadata=doc("ResourceClaim name."))
    namespace = fields.String(metadata=doc("Namespace of the ResourceClaim."))


class PodSchema(_Flattened):
    inner = "pod"

    name = fields.String(metadata=doc("Pod name."))
    namespace = fields.String(metadata=doc("Namespace."))
    node_name = fields.String(
        data_key="nodeName", allow_none=True, metadata=doc("Node it is bound to; null if none.")
    )
    phase = fields.String(
        metadata=doc(
            "Pod phase from kube-state-metrics (Pending, Running, Succeeded, Failed, Unknown)."
        )
    )
    model_type = fields.String(
        data_key="modelType",
        allow_none=True,
        metadata=doc(
            "Serving engine (vllm, sglang, tgi, triton, ...) when our exporter recognises a "
            "model-serving pod; null otherwise."
        ),
    )
    model_name = fields.String(
        data_key="modelName",
        allow_none=True,
        metadata=doc("Served model, normalised (e.g. llama-2-7b-chat-hf); null if not serving."),
    )
    cpu_usage_percent = fields.Float(
        data_key="cpuUsagePercent", allow_none=True, metadata=doc(_CPU_PERCENT)
    )
    memory_usage_percent = fields.Float(
        data_key="memoryUsagePercent", allow_none=True, metadata=doc(_MEMORY_PERCENT)
    )
    gpu_usage_percent = fields.Float(
        data_key="gpuUsagePercent", allow_none=True, metadata=doc(_GPU_PERCENT)
    )
    creation_time = UtcDateTime(
        data_key="creationTime", allow_none=True, metadata=doc("When the pod was created, UTC.")
    )
    cpu_usage_cores = fields.Float(
        data_key="cpuUsageCores",
        allow_none=True,
        metadata=doc("CPU used, cores (rate over 5 minutes); null without cAdvisor data."),
    )
    memory_usage_gb = fields.Float(
        data_key="memoryUsageGb",
        allow_none=True,
        metadata=doc("Working-set memory, GiB; null without cAdvisor data."),
    )
    gpu_count = fields.Integer(
        data_key="gpuCount",
        metadata=doc("Devices it holds: whole GPUs, MIG instances and time-sliced replicas."),
    )
    claims = fields.List(
        fields.Nested(ResourceClaimRefSchema),
        metadata=doc(
            "Kubernetes DRA ResourceClaims it holds devices through (the exporter's claim_name "
            "and claim_namespace labels), by namespace and name; empty when it holds none, or "
            "only device-plugin GPUs."
        ),
    )


class ContainerSchema(Schema):
    name = fields.String(metadata=doc("Container name."))
    image = fields.String(allow_none=True, metadata=doc("Image reference."))
    requests = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        metadata=doc(
            "Resource requests by kube-state-metrics resource name (cpu, memory, "
            'nvidia_com_gpu, ...) as Kubernetes quantities ("2", "500m", "8Gi").'
        ),
    )
    limits = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        metadata=doc("Resource limits, same form as requests."),
    )
    cpu_usage_cores = fields.Float(
        data_key="cpuUsageCores", allow_none=True, metadata=doc("CPU used, cores.")
    )
    memory_usage_gb = fields.Float(
        data_key="memoryUsageGb", allow_none=True, metadata=doc("Working-set memory, GiB.")
    )
    restart_count = fields.Integer(data_key="restartCount", metadata=doc("Restarts so far."))


class PodGpuSchema(Schema):
    device_id = fields.String(
        data_key="deviceId",
        allow_none=True,
        metadata=doc("The GPU's device id, `{node}-GPU-{index:02d}` (the parent GPU for MIG)."),
    )
    node_name = fields.String(data_key="nodeName", metadata=doc("Node of the GPU."))
    gpu_index = fields.Integer(
        data_key="gpuIndex", allow_none=True, metadata=doc("NVML index of the GPU on its node.")
    )
    gpu_uuid = fields.String(data_key="gpuUuid", metadata=doc("NVML UUID of the GPU, `GPU-...`."))
    mig_uuid = fields.String(
        data_key="migUuid",
        allow_none=True,
        metadata=doc("UUID of the MIG instance held, `MIG-...`; null for a whole GPU or replica."),
    )
    mig_profile = fields.String(
        data_key="migProfile", allow_none=True, metadata=doc("MIG profile, e.g. 2g.20gb.")
    )
    container = fields.String(metadata=doc("Container the kubelet assigned the device to."))
    resource = fields.String(
        metadata=doc(
            "Extended resource it was allocated under, e.g. nvidia.com/gpu; for a device of a "
            "DRA claim, the DRA driver's name (gpu.nvidia.com)."
        )
    )
    sharing = fields.String(
        metadata=doc('"exclusive", or "shared" for a time-sliced / MPS replica.')
    )
    utilization_percent = fields.Float(
        data_key="utilizationPercent",
        allow_none=True,
        metadata=doc(
            "Exclusive whole GPU: the device's utilisation. Shared GPU or MIG instance: the "
            "container's own SM utilisation where the exporter has it, else null. Percent."
        ),
    )
    memory_used_gb = fields.Float(
        data_key="memoryUsedGb",
        allow_none=True,
        metadata=doc("GPU memory used by the container's processes on this device, GiB."),
    )
    claim = fields.Nested(
        ResourceClaimRefSchema,
        allow_none=True,
        metadata=doc(
            "The Kubernetes DRA ResourceClaim the device is held through; null for a device "
            "from the device plugin (an extended resource such as nvidia.com/gpu)."
        ),
    )


class PodDetailSchema(PodSchema):
    uid = fields.String(allow_none=True, metadata=doc("Pod UID."))
    pod_ip = fields.String(data_key="podIp", allow_none=True, metadata=doc("Pod IP address."))
    host_ip = fields.String(data_key="hostIp", allow_none=True, metadata=doc("Node IP address."))
    owner_kind = fields.String(
        data_key="ownerKind", allow_none=True, metadata=doc("Controller kind, e.g. ReplicaSet.")
    )
    owner_name = fields.String(
        data_key="ownerName", allow_none=True, metadata=doc("Controller name.")
    )
    restart_count = fields.Integer(
        data_key="restartCount", metadata=doc("Container restarts, all containers.")
    )
    containers = fields.Nested(ContainerSchema, many=True, metadata=doc("Its containers."))
    gpus = fields.Nested(
        PodGpuSchema,
        many=True,
        metadata=doc("GPUs and MIG instances it holds, per container (our exporter's view)."),
    )


class TopPodSchema(PodSchema):
    rank = fields.Integer(metadata=doc("Position, 1 = the largest user."))
    usage_value = fields.Float(
        data_key="usageValue",
        metadata=doc(
            "What the ranking is by: CPU cores, memory GiB, or GPUs' worth of utilisation (sum "
            "over the held devices that count in gpuUsagePercent)."
        ),
    )
    usage_unit = fields.String(data_key="usageUnit", metadata=doc("cores, GiB or GPUs."))


class PodListQuerySchema(Schema):
    namespace = Text(validate=_NAMESPACE, metadata=doc("Only pods of this namespace."))


class TopPodsQuerySchema(Schema):
    resource_type = Text(
        data_key="resourceType",
        load_default="cpu",
        validate=validate.OneOf(RESOURCE_TYPES),
        metadata=doc("Rank by cpu, memory or gpu (default cpu).", enum=list(RESOURCE_TYPES)),
    )
    limit = fields.Integer(
        load_default=10,
        validate=validate.Range(1, 100),
        metadata=doc("How many pods, 1-100 (default 10)."),
    )


# -- nodes -------------------------------------------------------------------------------------


class NodeSchema(_Flattened):
    inner = "node"

    name = fields.String(metadata=doc("Node name."))
    role = fields.String(
        metadata=doc(
            "Roles from node-role.kubernetes.io labels, comma-separated; worker when it has none."
        )
    )
    status = fields.String(metadata=doc("Ready, NotReady or Unknown (the Ready condition)."))
    cpu_capacity = fields.String(
        data_key="cpuCapacity", allow_none=True, metadata=doc('CPU capacity, cores ("32").')
    )
    memory_capacity = fields.String(
        data_key="memoryCapacity",
        allow_none=True,
        metadata=doc('Memory capacity as a Kubernetes quantity ("128Gi").'),
    )
    gpu_capacity = fields.String(
        data_key="gpuCapacity",
        metadata=doc(
            'nvidia.com/gpu capacity ("8"); MIG instances under mixed strategy are not in it.'
        ),
    )
    cpu_allocatable = fields.String(
        data_key="cpuAllocatable", allow_none=True, metadata=doc("Allocatable CPU, cores.")
    )
    memory_allocatable = fields.String(
        data_key="memoryAllocatable",
        allow_none=True,
        metadata=doc("Allocatable memory, Kubernetes quantity."),
    )
    gpu_allocatable = fields.String(
        data_key="gpuAllocatable", metadata=doc("Allocatable nvidia.com/gpu.")
    )
    cpu_usage_percent = fields.Float(
        data_key="cpuUsagePercent",
        allow_none=True,
        metadata=doc(
            "CPU used by its pods' containers (rate over 5 minutes) over allocatable CPU; "
            "percent, one decimal."
        ),
    )
    memory_usage_percent = fields.Float(
        data_key="memoryUsagePercent",
        allow_none=True,
        metadata=doc(
            "Working-set memory of its pods' containers over allocatable memory; percent."
        ),
    )
    gpu_usage_percent = fields.Float(
        data_key="gpuUsagePercent",
        allow_none=True,
        metadata=doc(
            "Mean utilisation of its GPUs that report one (NVML reports none for a GPU in MIG "
            "mode); percent; null when none does."
        ),
    )
    cpu_usage_cores = fields.Float(
        data_key="cpuUsageCores", allow_none=True, metadata=doc("CPU used by its pods, cores.")
    )
    memory_usage_gb = fields.Float(
        data_key="memoryUsageGb",
        allow_none=True,
        metadata=doc("Working-set memory of its pods, GiB."),
    )
    gpu_device_count = fields.Integer(
        data_key="gpuDeviceCount", metadata=doc("GPUs our exporter reports on the node.")
    )
    total_pod_count = fields.Integer(
        data_key="totalPodCount", metadata=doc("Pods bound to the node, any phase.")
    )
    running_pod_count = fields.Integer(
        data_key="runningPodCount", metadata=doc("Of them, pods in phase Running.")
    )
    vllm_pod_count = fields.Integer(
        data_key="vllmPodCount", metadata=doc("vLLM pods on the node (Running or Pending).")
    )
    sglang_pod_count = fields.Integer(
        data_key="sglangPodCount", metadata=doc("SGLang pods on the node (Running or Pending).")
    )
    model_serving_pod_counts = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        data_key="modelServingPodCounts",
        metadata=doc("Model-serving pods on the node by engine (vllm, sglang, tgi, ...)."),
    )
    conditions = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        metadata=doc("Node conditions and their status (true, false, unknown)."),
    )


class GpuHolderSchema(Schema):
    namespace = fields.String(metadata=doc("Namespace of the holding pod."))
    pod = fields.String(metadata=doc("Holding pod."))
    container = fields.String(metadata=doc("Holding container."))
    resource = fields.String(metadata=doc("Extended resource, e.g. nvidia.com/gpu.shared."))
    sharing = fields.String(metadata=doc('"exclusive" or "shared".'))
    mig_uuid = fields.String(
        data_key="migUuid", allow_none=True, metadata=doc("MIG instance held, if any.")
    )
    claim = fields.Nested(
        ResourceClaimRefSchema,
        allow_none=True,
        metadata=doc(
            "The Kubernetes DRA ResourceClaim it is held through; null for a device from the "
            "device plugin."
        ),
    )


class NodeMigInstanceSchema(Schema):
    mig_uuid = fields.String(data_key="migUuid", metadata=doc("MIG instance UUID, `MIG-...`."))
    profile = fields.String(allow_none=True, metadata=doc("MIG profile, e.g. 1g.10gb."))
    gpu_instance_id = fields.Integer(
        data_key="gpuInstanceId", allow_none=True, metadata=doc("NVML GPU instance id.")
    )
    compute_instance_id = fields.Integer(
        data_key="computeInstanceId", allow_none=True, metadata=doc("NVML compute instance id.")
    )
    memory_used_gb = fields.Float(
        data_key="memoryUsedGb", allow_none=True, metadata=doc("Memory used, GiB.")
    )
    memory_total_gb = fields.Float(
        data_key="memoryTotalGb", allow_none=True, metadata=doc("Memory of the instance, GiB.")
    )
    holders = fields.Nested(GpuHolderSchema, many=True, metadata=doc("Containers holding it."))


class NodeGpuSchema(Schema):
    device_id = fields.String(
        data_key="deviceId", allow_none=True, metadata=doc("Device id, `{node}-GPU-{index:02d}`.")
    )
    index = fields.Integer(allow_none=True, metadata=doc("NVML index."))
    uuid = fields.String(metadata=doc("NVML UUID, `GPU-...`."))
    model_name = fields.String(
        data_key="modelName", allow_none=True, metadata=doc("NVML product name.")
    )
    mig_mode = fields.String(
        data_key="migMode", allow_none=True, metadata=doc("enabled, disabled or unsupported.")
    )
    up = fields.Boolean(metadata=doc("Whether NVML answered for it in the last cycle."))
    utilization_percent = fields.Float(
        data_key="utilizationPercent",
        allow_none=True,
        metadata=doc(
            "Device utilisation, percent (all its users together); null in MIG mode, where "
            "NVML reports none."
        ),
    )
    memory_used_gb = fields.Float(
        data_key="memoryUsedGb", allow_none=True, metadata=doc("Memory used, GiB.")
    )
    memory_total_gb = fields.Float(
        data_key="memoryTotalGb", allow_none=True, metadata=doc("Memory, GiB.")
    )
    temperature_c = fields.Float(
        data_key="temperatureC", allow_none=True, metadata=doc("Temperature, °C.")
    )
    power_w = fields.Float(data_key="powerW", allow_none=True, metadata=doc("Power draw, W."))
    mig_instances = fields.Nested(
        NodeMigInstanceSchema, many=True, data_key="migInstances", metadata=doc("MIG instances.")
    )
    holders = fields.Nested(
        GpuHolderSchema,
        many=True,
        metadata=doc("Containers holding the whole GPU or a time-sliced replica of it."),
    )


class NodeDetailSchema(NodeSchema):
    kubelet_version = fields.String(
        data_key="kubeletVersion", allow_none=True, metadata=doc("kubelet version.")
    )
    os_image = fields.String(data_key="osImage", allow_none=True, metadata=doc("OS image."))
    kernel_version = fields.String(
        data_key="kernelVersion", allow_none=True, metadata=doc("Kernel version.")
    )
    container_runtime_version = fields.String(
        data_key="containerRuntimeVersion",
        allow_none=True,
        metadata=doc("Container runtime and version."),
    )
    internal_ip = fields.String(
        data_key="internalIp", allow_none=True, metadata=doc("Internal IP address.")
    )
    gpus = fields.Nested(NodeGpuSchema, many=True, metadata=doc("Its GPUs, by index."))
    pods = fields.Nested(PodSchema, many=True, metadata=doc("Pods bound to it."))


# -- usage, namespaces, statistics -------------------------------------------------------------


class ClusterSummarySchema(Schema):
    total_nodes = fields.Integer(data_key="totalNodes", metadata=doc("Nodes."))
    ready_nodes = fields.Integer(data_key="readyNodes", metadata=doc("Nodes that are Ready."))
    total_pods = fields.Integer(
        data_key="totalPods", metadata=doc("Pods (of the namespace, when one is given).")
    )
    running_pods = fields.Integer(data_key="runningPods", metadata=doc("Of them, Running."))
    vllm_pods = fields.Integer(data_key="vllmPods", metadata=doc("Of them, vLLM pods."))
    sglang_pods = fields.Integer(data_key="sglangPods", metadata=doc("Of them, SGLang pods."))
    avg_cpu_usage = fields.Float(
        data_key="avgCpuUsage",
        allow_none=True,
        metadata=doc("Mean of the nodes' cpuUsagePercent (all nodes), percent."),
    )
    avg_memory_usage = fields.Float(
        data_key="avgMemoryUsage",
        allow_none=True,
        metadata=doc("Mean of the nodes' memoryUsagePercent (all nodes), percent."),
    )
    avg_gpu_usage = fields.Float(
        data_key="avgGpuUsage",
        allow_none=True,
        metadata=doc(
            "Mean utilisation over every GPU of the cluster that reports one (not MIG-mode "
            "GPUs), percent."
        ),
    )


class ClusterUsageSchema(Schema):
    pods = fields.Nested(PodSchema, many=True, metadata=doc("Pods (of the namespace, if given)."))
    nodes = fields.Nested(NodeSchema, many=True, metadata=doc("Every node."))
    cluster_summary = fields.Nested(
        ClusterSummarySchema, data_key="clusterSummary", metadata=doc("Counts and averages.")
    )
    timestamp = UtcDateTime(metadata=doc("When the numbers were read, UTC."))


class NamespaceUsageSchema(Schema):
    namespace = fields.String(metadata=doc("Namespace."))
    pod_count = fields.Integer(data_key="podCount", metadata=doc("Pods, any phase."))
    running_pod_count = fields.Integer(data_key="runningPodCount", metadata=doc("Running pods."))
    serving_pod_count = fields.Integer(
        data_key="servingPodCount", metadata=doc("Model-serving pods (Running or Pending).")
    )
    cpu_usage_cores = fields.Float(
        data_key="cpuUsageCores", allow_none=True, metadata=doc("CPU used, cores.")
    )
    cpu_usage_percent = fields.Float(
        data_key="cpuUsagePercent",
        allow_none=True,
        metadata=doc("CPU used over the cluster's allocatable CPU, percent."),
    )
    cpu_request_cores = fields.Float(
        data_key="cpuRequestCores",
        allow_none=True,
        metadata=doc("CPU requested by its Running and Pending pods, cores."),
    )
    memory_usage_gb = fields.Float(
        data_key="memoryUsageGb", allow_none=True, metadata=doc("Working-set memory, GiB.")
    )
    memory_usage_percent = fields.Float(
        data_key="memoryUsagePercent",
        allow_none=True,
        metadata=doc("Working-set memory over the cluster's allocatable memory, percent."),
    )
    memory_request_gb = fields.Float(
        data_key="memoryRequestGb",
        allow_none=True,
        metadata=doc("Memory requested by its Running and Pending pods, GiB."),
    )
    gpu_devices = fields.Integer(
        data_key="gpuDevices",
        metadata=doc(
            "Devices its pods hold (whole GPUs + MIG instances + shared GPUs), each counted once "
            "in the namespace however many of its pods share it."
        ),
    )
    whole_gpus = fields.Integer(data_key="wholeGpus", metadata=doc("Whole GPUs held exclusively."))
    mig_instances = fields.Integer(data_key="migInstances", metadata=doc("MIG instances held."))
    shared_gpus = fields.Integer(
        data_key="sharedGpus",
        metadata=doc("Time-sliced GPUs its pods hold replicas of (each GPU once)."),
    )
    gpu_usage_percent = fields.Float(
        data_key="gpuUsagePercent",
        allow_none=True,
        metadata=doc(
            "Mean utilisation of its held devices that have a value of their own (as a pod's "
            "gpuUsagePercent), percent."
        ),
    )


class UsageSeriesStatisticsSchema(Schema):
    average = fields.Float(allow_none=True, metadata=doc("Mean over the window."))
    peak = fields.Float(allow_none=True, metadata=doc("Largest value in the window."))
    current = fields.Float(allow_none=True, metadata=doc("Value now."))


class ClusterStatisticsSchema(Schema):
    time_range = fields.String(data_key="timeRange", metadata=doc('The window, e.g. "24 hours".'))
    hours = fields.Integer(metadata=doc("The window, hours."))
    start = UtcDateTime(metadata=doc("Window start, UTC."))
    end = UtcDateTime(metadata=doc("Window end (now), UTC."))
    step_seconds = fields.Integer(
        data_key="stepSeconds",
        metadata=doc("Sampling step of the averages and peaks (about 144 points per window), s."),
    )
    cpu_usage = fields.Nested(
        UsageSeriesStatisticsSchema,
        data_key="cpuUsage",
        metadata=doc("Cluster CPU used over allocatable CPU, percent."),
    )
    memory_usage = fields.Nested(
        UsageSeriesStatisticsSchema,
        data_key="memoryUsage",
        metadata=doc("Cluster working-set memory over allocatable memory, percent."),
    )
    gpu_usage = fields.Nested(
        UsageSeriesStatisticsSchema,
        data_key="gpuUsage",
        metadata=doc("Mean utilisation over every GPU that reports one, percent."),
    )
    pod_count = fields.Nested(
        UsageSeriesStatisticsSchema, data_key="podCount", metadata=doc("Pods, any phase.")
    )
    running_pod_count = fields.Nested(
        UsageSeriesStatisticsSchema, data_key="runningPodCount", metadata=doc("Running pods.")
    )


class StatisticsQuerySchema(Schema):
    hours = fields.Integer(
        load_default=24,
        validate=validate.Range(1, MAX_STATISTICS_HOURS),
        metadata=doc(f"Window, hours (1-{MAX_STATISTICS_HOURS}, default 24)."),
    )


# -- health, alerts, metric sources ------------------------------------------------------------


class ClusterIssueSchema(Schema):
    severity = fields.String(metadata=doc("critical, warning or info.", enum=list(SEVERITIES)))
    kind = fields.String(
        metadata=doc(
            "NodeNotReady, NodeMemoryPressure (and other pressures), PodFailed, "
            "PodPendingTooLong, PodCrashLooping, TargetDown, ExporterStageStale, GpuMissing."
        )
    )
    subject = fields.String(metadata=doc("What it is about: node/N, pod/NS/P, target/JOB/I, ..."))
    summary = fields.String(metadata=doc("One sentence for people."))
    labels = fields.Dict(
        keys=fields.String(), values=fields.String(), metadata=doc("Identifying labels.")
    )
    value = fields.Float(
        allow_none=True, metadata=doc("The number behind it (seconds, restarts, GPUs), if any.")
    )


class NodeHealthSchema(Schema):
    total = fields.Integer(metadata=doc("Nodes."))
    ready = fields.Integer(metadata=doc("Ready nodes."))
    not_ready = fields.Integer(data_key="notReady", metadata=doc("Nodes not Ready."))


class PodHealthSchema(Schema):
    total = fields.Integer(metadata=doc("Pods."))
    running = fields.Integer(metadata=doc("Running pods."))
    failed = fields.Integer(metadata=doc("Pods in phase Failed."))
    pending_too_long = fields.Integer(
        data_key="pendingTooLong", metadata=doc("Pods Pending for more than 15 minutes.")
    )
    crash_looping = fields.Integer(
        data_key="crashLooping",
        metadata=doc("Pods restarting 3+ times in 15 minutes or in CrashLoopBackOff."),
    )


class ExporterHealthSchema(Schema):
    targets = fields.Integer(metadata=doc("Prometheus scrape targets."))
    targets_up = fields.Integer(data_key="targetsUp", metadata=doc("Targets whose scrape works."))
    targets_down = fields.Integer(data_key="targetsDown", metadata=doc("Targets down."))
    stale_stages = fields.Integer(
        data_key="staleStages",
        metadata=doc("GPU exporter stages not completed for more than 120 s."),
    )
    missing_gpus = fields.Integer(
        data_key="missingGpus", metadata=doc("GPUs expected by the exporters but not visible.")
    )


class ClusterHealthSchema(Schema):
    status = fields.String(
        metadata=doc(
            "HEALTHY (no issue), WARNING (warnings only) or CRITICAL (a node not Ready, a scrape "
            "target down, a GPU missing).",
            enum=["HEALTHY", "WARNING", "CRITICAL"],
        )
    )
    nodes = fields.Nested(NodeHealthSchema, metadata=doc("Node counts."))
    pods = fields.Nested(PodHealthSchema, metadata=doc("Pod counts."))
    exporters = fields.Nested(ExporterHealthSchema, metadata=doc("Scrape targets and exporters."))
    issues = fields.Nested(ClusterIssueSchema, many=True, metadata=doc("Every problem found."))
    timestamp = UtcDateTime(metadata=doc("When it was checked, UTC."))


class ResourceAlertSchema(Schema):
    name = fields.String(metadata=doc("Alert name (alertname, or our check's kind)."))
    severity = fields.String(metadata=doc("critical, warning or info.", enum=list(SEVERITIES)))
    source = fields.String(
        metadata=doc(
            "prometheus (a firing alerting rule) or analytics (our own check).",
            enum=list(ALERT_SOURCES),
        )
    )
    state = fields.String(metadata=doc("Always firing."))
    summary = fields.String(metadata=doc("Summary annotation, or one sentence of ours."))
    description = fields.String(allow_none=True, metadata=doc("Description annotation."))
    labels = fields.Dict(keys=fields.String(), values=fields.String(), metadata=doc("Labels."))
    starts_at = UtcDateTime(
        data_key="startsAt",
        allow_none=True,
        metadata=doc("When the rule became active, UTC; null for our checks."),
    )
    value = fields.Float(allow_none=True, metadata=doc("The value that triggered it."))


class AlertQuerySchema(Schema):
    severity = Text(
        validate=validate.OneOf(SEVERITIES),
        metadata=doc("Only alerts of this severity.", enum=list(SEVERITIES)),
    )
    source = Text(
        validate=validate.OneOf(ALERT_SOURCES),
        metadata=doc("Only prometheus or only analytics alerts.", enum=list(ALERT_SOURCES)),
    )


class PrometheusStateSchema(Schema):
    url = fields.String(metadata=doc("The Prometheus API the service reads (no credentials)."))
    reachable = fields.Boolean(metadata=doc("Whether /-/ready answered 200."))
    response_time_ms = fields.Float(
        data_key="responseTimeMs", allow_none=True, metadata=doc("Readiness answer time, ms.")
    )


class ScrapeJobSchema(Schema):
    job = fields.String(metadata=doc("Scrape job."))
    targets = fields.Integer(metadata=doc("Its targets."))
    up = fields.Integer(metadata=doc("Of them, up."))


class ScrapeTargetStateSchema(Schema):
    job = fields.String(metadata=doc("Scrape job."))
    instance = fields.String(metadata=doc("Target instance (host:port)."))
    health = fields.String(metadata=doc("up, down or unknown."))
    last_scrape = UtcDateTime(
        data_key="lastScrape", allow_none=True, metadata=doc("Last scrape, UTC.")
    )
    last_scrape_duration_ms = fields.Float(
        data_key="lastScrapeDurationMs", allow_none=True, metadata=doc("Its duration, ms.")
    )
    last_error = fields.String(
        data_key="lastError", allow_none=True, metadata=doc("Its error, if any.")
    )


class MetricSourceSchema(Schema):
    name = fields.String(metadata=doc("kube-state-metrics, cadvisor or gpu-exporter."))
    metric = fields.String(metadata=doc("The series whose presence and age are checked."))
    present = fields.Boolean(metadata=doc("Whether Prometheus has it now."))
    series_count = fields.Integer(data_key="seriesCount", metadata=doc("Its series now."))
    newest_sample_age_seconds = fields.Float(
        data_key="newestSampleAgeSeconds",
        allow_none=True,
        metadata=doc("Seconds since its newest sample."),
    )
    fresh = fields.Boolean(metadata=doc("Present and its newest sample at most 120 s old."))


class MetricsStatusSchema(Schema):
    status = fields.String(
        metadata=doc(
            "UP (reachable, every target up, every source fresh), DEGRADED or DOWN (Prometheus "
            "unreachable; this endpoint still answers 200).",
            enum=["UP", "DEGRADED", "DOWN"],
        )
    )
    prometheus = fields.Nested(PrometheusStateSchema, metadata=doc("The Prometheus server."))
    jobs = fields.Nested(ScrapeJobSchema, many=True, metadata=doc("Scrape jobs and targets up."))
    targets = fields.Nested(
        ScrapeTargetStateSchema, many=True, metadata=doc("Every active scrape target.")
    )
    sources = fields.Nested(
        MetricSourceSchema, many=True, metadata=doc("Metric sources, presence and freshness.")
    )
    timestamp = UtcDateTime(metadata=doc("When it was checked, UTC."))
