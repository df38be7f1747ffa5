"""Results of /batch: many allocations at once, metrics collection for a list of nodes."""

from __future__ import annotations

from dataclasses import dataclass, field

from k8s_gpu_client.models._base import ApiModel
from k8s_gpu_client.models.allocations import Allocation
from k8s_gpu_client.models.metrics import DeviceUsage, SyncResult


@dataclass(kw_only=True)
class BatchAllocationResult(ApiModel):
    """POST /batch/allocations: the allocations, in request order."""

    batch_id: str | None = None
    allocations: list[Allocation] = field(default_factory=list)


@dataclass(kw_only=True)
class NodeGpuMetrics(ApiModel):
    """GPU averages of one node over the batch's time range."""

    devices_registered: int | None = None
    devices_reported: int | None = None
    avg_gpu_utilization: float | None = None
    avg_memory_utilization: float | None = None
    avg_temperature: float | None = None
    device_statistics: dict[str, DeviceUsage] = field(default_factory=dict)


@dataclass(kw_only=True)
class NodeResourceMetrics(ApiModel):
    """CPU (cores) and memory (GB) use of one node."""

    cpu_cores_used: float | None = None
    cpu_cores_allocatable: float | None = None
    cpu_usage_percent: float | None = None
    memory_used_gb: float | None = None
    memory_allocatable_gb: float | None = None
    memory_usage_percent: float | None = None


@dataclass(kw_only=True)
class NodeCollectResult(ApiModel):
    """One node of a batch metrics collection."""

    node_name: str | None = None
    status: str | None = None
    gpu_metrics: NodeGpuMetrics | None = None
    node_metrics: NodeResourceMetrics | None = None


@dataclass(kw_only=True)
class BatchMetricsCollectResult(ApiModel):
    """POST /batch/metrics/collect."""

    time_range: str | None = None
    sync: SyncResult | None = None
    nodes: list[NodeCollectResult] = field(default_factory=list)
