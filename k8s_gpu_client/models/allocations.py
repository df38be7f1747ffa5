"""Results of /gpu/allocations: the ledger, its cost statistics and reconciliation."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from k8s_gpu_client.models._base import ApiModel


@dataclass(kw_only=True)
class KubernetesRequest(ApiModel):
    """How to request an allocated resource in the pod spec."""

    node_selector: dict[str, str] = field(default_factory=dict)
    resource_name: str | None = None
    resource_count: int | None = None
    ready: bool | None = None
    note: str | None = None


@dataclass(kw_only=True)
class HistoryEntry(ApiModel):
    """One status change of an allocation."""

    status: str | None = None
    at: datetime | None = None
    actor: str | None = None


@dataclass(kw_only=True)
class Allocation(ApiModel):
    """An allocation of the ledger: the seed's fields plus device, price and Kubernetes hints."""

    allocation_id: str | None = None
    namespace: str | None = None
    pod_name: str | None = None
    container_name: str | None = None
    workload_type: str | None = None
    resource_type: str | None = None
    allocated_resource: str | None = None
    device_id: str | None = None
    node_name: str | None = None
    model_id: str | None = None
    mig_profile: str | None = None
    required_memory_gb: float | None = None
    allocated_memory_gb: float | None = None
    allocation_time: datetime | None = None
    planned_release_time: datetime | None = None
    release_time: datetime | None = None
    status: str | None = None
    cost_per_hour: float | None = None
    cost_accrued: float | None = None
    max_cost_per_hour: float | None = None
    user_id: str | None = None
    team_id: str | None = None
    project_id: str | None = None
    batch_id: str | None = None
    resource_state: str | None = None
    kubernetes: KubernetesRequest | None = None
    history: list[HistoryEntry] = field(default_factory=list)


@dataclass(kw_only=True)
class CostStatistics(ApiModel):
    """Allocation cost (USD) by team, namespace, user and model."""

    window_days: int | None = None
    since: datetime | None = None
    until: datetime | None = None
    total_cost: float | None = None
    total_allocations: int | None = None
    active_allocations: int | None = None
    current_hourly_cost: float | None = None
    allocated_hours: float | None = None
    average_cost_per_allocation: float | None = None
    cost_by_team: dict[str, float] = field(default_factory=dict)
    cost_by_namespace: dict[str, float] = field(default_factory=dict)
    cost_by_user: dict[str, float] = field(default_factory=dict)
    cost_by_model: dict[str, float] = field(default_factory=dict)


@dataclass(kw_only=True)
class PodHolding(ApiModel):
    """A GPU or MIG device a pod holds according to the kubelet."""

    container: str | None = None
    node_name: str | None = None
    device_id: str | None = None
    mig_instance_id: str | None = None
    gpu_uuid: str | None = None
    mig_uuid: str | None = None
    resource: str | None = None
    sharing: str | None = None


@dataclass(kw_only=True)
class MismatchedAllocation(ApiModel):
    """A live allocation whose pod does not hold what it reserved."""

    allocation_id: str | None = None
    namespace: str | None = None
    pod_name: str | None = None
    resource_type: str | None = None
    allocated_resource: str | None = None
    device_id: str | None = None
    expected_uuid: str | None = None
    state: str | None = None
    pod_holds: list[PodHolding] = field(default_factory=list)
    reserved_resource_held_by: list[str] = field(default_factory=list)


@dataclass(kw_only=True)
class UnallocatedPod(ApiModel):
    """A pod holding GPUs without a live allocation."""

    namespace: str | None = None
    pod_name: str | None = None
    node_name: str | None = None
    holdings: list[PodHolding] = field(default_factory=list)


@dataclass(kw_only=True)
class Reconciliation(ApiModel):
    """The ledger compared with the kubelet's assignments."""

    checked_at: datetime | None = None
    namespace: str | None = None
    active_allocations: int | None = None
    matched_allocations: int | None = None
    mismatched_allocations: int | None = None
    pods_holding_gpus: int | None = None
    unallocated_pod_count: int | None = None
    matched: list[str] = field(default_factory=list)
    mismatched: list[MismatchedAllocation] = field(default_factory=list)
    unallocated_pods: list[UnallocatedPod] = field(default_factory=list)
    metrics_available: bool | None = None
    """False when Prometheus could not answer: the comparison counts are then None and its
    lists empty."""
    metrics_unavailable_reason: str | None = None
    """Why the metric fields are None (e.g. Prometheus did not answer within 10 s)."""


@dataclass(kw_only=True)
class AllocationRequest(ApiModel):
    """A request of POST /gpu/allocations (seed 2.3), for :meth:`Batch.allocations`.

    Memory in GB, cost in USD per hour; None fields are left out of the request.
    """

    namespace: str | None = None
    pod_name: str | None = None
    container_name: str | None = None
    workload_type: str | None = None
    use_mig: bool | None = None
    required_memory_gb: float | None = None
    preferred_model_id: str | None = None
    planned_release_time: datetime | None = None
    user_id: str | None = None
    team_id: str | None = None
    project_id: str | None = None
    max_cost_per_hour: float | None = None
