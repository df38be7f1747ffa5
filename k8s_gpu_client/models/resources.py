"""Results of /resources: pods, nodes, usage, namespaces, statistics, health, alerts, sources."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from k8s_gpu_client.models._base import ApiModel


@dataclass(kw_only=True)
class ResourceClaimRef(ApiModel):
    """A Kubernetes DRA ResourceClaim a pod holds GPUs or MIG devices through."""

    name: str | None = None
    namespace: str | None = None


@dataclass(kw_only=True)
class Pod(ApiModel):
    """A pod with its usage (percent, cores, GB)."""

    name: str | None = None
    namespace: str | None = None
    node_name: str | None = None
    phase: str | None = None
    model_type: str | None = None
    model_name: str | None = None
    cpu_usage_percent: float | None = None
    memory_usage_percent: float | None = None
    gpu_usage_percent: float | None = None
    creation_time: datetime | None = None
    cpu_usage_cores: float | None = None
    memory_usage_gb: float | None = None
    gpu_count: int | None = None
    claims: list[ResourceClaimRef] = field(default_factory=list)


@dataclass(kw_only=True)
class TopPod(Pod):
    """A pod of /resources/pods/top with its rank and usage value."""

    rank: int | None = None
    usage_value: float | None = None
    usage_unit: str | None = None


@dataclass(kw_only=True)
class Container(ApiModel):
    """A container: image, requests and limits (Kubernetes quantities), usage."""

    name: str | None = None
    image: str | None = None
    requests: dict[str, str] = field(default_factory=dict)
    limits: dict[str, str] = field(default_factory=dict)
    cpu_usage_cores: float | None = None
    memory_usage_gb: float | None = None
    restart_count: int | None = None


@dataclass(kw_only=True)
class PodGpu(ApiModel):
    """A GPU or MIG instance a pod's container holds."""

    device_id: str | None = None
    node_name: str | None = None
    gpu_index: int | None = None
    gpu_uuid: str | None = None
    mig_uuid: str | None = None
    mig_profile: str | None = None
    container: str | None = None
    resource: str | None = None
    sharing: str | None = None
    utilization_percent: float | None = None
    memory_used_gb: float | None = None
    claim: ResourceClaimRef | None = None
    """None for a device-plugin GPU."""


@dataclass(kw_only=True)
class PodDetail(Pod):
    """One pod in detail: containers and the GPUs it holds."""

    uid: str | None = None
    pod_ip: str | None = None
    host_ip: str | None = None
    owner_kind: str | None = None
    owner_name: str | None = None
    restart_count: int | None = None
    containers: list[Container] = field(default_factory=list)
    gpus: list[PodGpu] = field(default_factory=list)


@dataclass(kw_only=True)
class Node(ApiModel):
    """A node: role, Ready, capacities, usage (percent) and pod counts."""

    name: str | None = None
    role: str | None = None
    status: str | None = None
    cpu_capacity: str | None = None
    memory_capacity: str | None = None
    gpu_capacity: str | None = None
    cpu_allocatable: str | None = None
    memory_allocatable: str | None = None
    gpu_allocatable: str | None = None
    cpu_usage_percent: float | None = None
    memory_usage_percent: float | None = None
    gpu_usage_percent: float | None = None
    cpu_usage_cores: float | None = None
    memory_usage_gb: float | None = None
    gpu_device_count: int | None = None
    total_pod_count: int | None = None
    running_pod_count: int | None = None
    vllm_pod_count: int | None = None
    sglang_pod_count: int | None = None
    model_serving_pod_counts: dict[str, int] = field(default_factory=dict)
    conditions: dict[str, str] = field(default_factory=dict)


@dataclass(kw_only=True)
class GpuHolder(ApiModel):
    """A pod holding a GPU or MIG instance."""

    namespace: str | None = None
    pod: str | None = None
    container: str | None = None
    resource: str | None = None
    sharing: str | None = None
    mig_uuid: str | None = None
    claim: ResourceClaimRef | None = None
    """None for a device-plugin GPU."""


@dataclass(kw_only=True)
class NodeMigInstance(ApiModel):
    """A MIG instance as the node's exporter reports it."""

    mig_uuid: str | None = None
    profile: str | None = None
    gpu_instance_id: int | None = None
    compute_instance_id: int | None = None
    memory_used_gb: float | None = None
    memory_total_gb: float | None = None
    holders: list[GpuHolder] = field(default_factory=list)


@dataclass(kw_only=True)
class NodeGpu(ApiModel):
    """A GPU of a node with its live values and holders."""

    device_id: str | None = None
    index: int | None = None
    uuid: str | None = None
    model_name: str | None = None
    mig_mode: str | None = None
    up: bool | None = None
    utilization_percent: float | None = None
    memory_used_gb: float | None = None
    memory_total_gb: float | None = None
    temperature_c: float | None = None
    power_w: float | None = None
    mig_instances: list[NodeMigInstance] = field(default_factory=list)
    holders: list[GpuHolder] = field(default_factory=list)


@dataclass(kw_only=True)
class NodeDetail(Node):
    """One node in detail with its GPUs and pods."""

    kubelet_version: str | None = None
    os_image: str | None = None
    kernel_version: str | None = None
    container_runtime_version: str | None = None
    internal_ip: str | None = None
    gpus: list[NodeGpu] = field(default_factory=list)
    pods: list[Pod] = field(default_factory=list)


@dataclass(kw_only=True)
class ClusterSummary(ApiModel):
    """Cluster-wide counts and average usage (percent)."""

    total_nodes: int | None = None
    ready_nodes: int | None = None
    total_pods: int | None = None
    running_pods: int | None = None
    vllm_pods: int | None = None
    sglang_pods: int | None = None
    avg_cpu_usage: float | None = None
    avg_memory_usage: float | None = None
    avg_gpu_usage: float | None = None


@dataclass(kw_only=True)
class ClusterUsage(ApiModel):
    """GET /resources/usage: pods, nodes and the cluster summary."""

    pods: list[Pod] = field(default_factory=list)
    nodes: list[Node] = field(default_factory=list)
    cluster_summary: ClusterSummary | None = None
    timestamp: datetime | None = None


@dataclass(kw_only=True)
class NamespaceUsage(ApiModel):
    """Usage of one namespace: pods, CPU, memory, GPUs held."""

    namespace: str | None = None
    pod_count: int | None = None
    running_pod_count: int | None = None
    serving_pod_count: int | None = None
    cpu_usage_cores: float | None = None
    cpu_usage_percent: float | None = None
    cpu_request_cores: float | None = None
    memory_usage_gb: float | None = None
    memory_usage_percent: float | None = None
    memory_request_gb: float | None = None
    gpu_devices: int | None = None
    whole_gpus: int | None = None
    mig_instances: int | None = None
    shared_gpus: int | None = None
    gpu_usage_percent: float | None = None


@dataclass(kw_only=True)
class UsageSeriesStatistics(ApiModel):
    """Average, peak and current value of a series over the window."""

    average: float | None = None
    peak: float | None = None
    current: float | None = None


@dataclass(kw_only=True)
class ClusterStatistics(ApiModel):
    """GET /resources/statistics over a window of hours."""

    time_range: str | None = None
    hours: int | None = None
    start: datetime | None = None
    end: datetime | None = None
    step_seconds: int | None = None
    cpu_usage: UsageSeriesStatistics | None = None
    memory_usage: UsageSeriesStatistics | None = None
    gpu_usage: UsageSeriesStatistics | None = None
    pod_count: UsageSeriesStatistics | None = None
    running_pod_count: UsageSeriesStatistics | None = None


@dataclass(kw_only=True)
class NodeHealth(ApiModel):
    """Node counts by readiness."""

    total: int | None = None
    ready: int | None = None
    not_ready: int | None = None


@dataclass(kw_only=True)
class PodHealth(ApiModel):
    """Pod counts by trouble."""

    total: int | None = None
    running: int | None = None
    failed: int | None = None
    pending_too_long: int | None = None
    crash_looping: int | None = None


@dataclass(kw_only=True)
class ExporterHealth(ApiModel):
    """Scrape target and exporter counts."""

    targets: int | None = None
    targets_up: int | None = None
    targets_down: int | None = None
    stale_stages: int | None = None
    missing_gpus: int | None = None


@dataclass(kw_only=True)
class ClusterIssue(ApiModel):
    """One cluster health finding."""

    severity: str | None = None
    kind: str | None = None
    subject: str | None = None
    summary: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    value: float | None = None


@dataclass(kw_only=True)
class ClusterHealth(ApiModel):
    """GET /resources/health."""

    status: str | None = None
    nodes: NodeHealth | None = None
    pods: PodHealth | None = None
    exporters: ExporterHealth | None = None
    issues: list[ClusterIssue] = field(default_factory=list)
    timestamp: datetime | None = None


@dataclass(kw_only=True)
class ResourceAlert(ApiModel):
    """A firing Prometheus alert or one of the service's own checks."""

    name: str | None = None
    severity: str | None = None
    source: str | None = None
    state: str | None = None
    summary: str | None = None
    description: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    starts_at: datetime | None = None
    value: float | None = None


@dataclass(kw_only=True)
class PrometheusState(ApiModel):
    """Prometheus reachability and answer time (ms)."""

    url: str | None = None
    reachable: bool | None = None
    response_time_ms: float | None = None


@dataclass(kw_only=True)
class ScrapeJob(ApiModel):
    """A scrape job with its targets up."""

    job: str | None = None
    targets: int | None = None
    up: int | None = None


@dataclass(kw_only=True)
class ScrapeTargetState(ApiModel):
    """One scrape target's health."""

    job: str | None = None
    instance: str | None = None
    health: str | None = None
    last_scrape: datetime | None = None
    last_scrape_duration_ms: float | None = None
    last_error: str | None = None


@dataclass(kw_only=True)
class MetricSource(ApiModel):
    """One metric source (kube-state-metrics, cAdvisor, exporter) and its freshness."""

    name: str | None = None
    metric: str | None = None
    present: bool | None = None
    series_count: int | None = None
    newest_sample_age_seconds: float | None = None
    fresh: bool | None = None


@dataclass(kw_only=True)
class MetricsStatus(ApiModel):
    """GET /resources/metrics/status."""

    status: str | None = None
    prometheus: PrometheusState | None = None
    jobs: list[ScrapeJob] = field(default_factory=list)
    targets: list[ScrapeTargetState] = field(default_factory=list)
    sources: list[MetricSource] = field(default_factory=list)
    timestamp: datetime | None = None
