"""Results of /gpu/mig: layouts (desired and observed), free instances, statistics."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from k8s_gpu_client.models._base import ApiModel


@dataclass(kw_only=True)
class MigInstance(ApiModel):
    """A MIG instance: profile, memory (GB), placement, state and allocation."""

    instance_id: str | None = None
    device_id: str | None = None
    node_name: str | None = None
    model_id: str | None = None
    profile: str | None = None
    memory_gb: float | None = None
    compute_slices: int | None = None
    memory_slices: int | None = None
    start_slice: int | None = None
    state: str | None = None
    desired: bool | None = None
    observed: bool | None = None
    mig_uuid: str | None = None
    allocated: bool | None = None
    allocation_id: str | None = None
    resource_name: str | None = None
    cost_per_hour: float | None = None
    created_at: datetime | None = None


@dataclass(kw_only=True)
class MigDrift(ApiModel):
    """Instance ids where the desired and observed layouts differ."""

    pending: list[str] = field(default_factory=list)
    unmanaged: list[str] = field(default_factory=list)
    retiring: list[str] = field(default_factory=list)


@dataclass(kw_only=True)
class MigConfig(ApiModel):
    """How to apply a layout: the nvidia.com/mig.config label and a mig-parted config."""

    label_key: str | None = None
    label_value: str | None = None
    mig_parted_config: str | None = None


@dataclass(kw_only=True)
class MigLayout(ApiModel):
    """A GPU's MIG layout, desired and observed side by side."""

    device_id: str | None = None
    node_name: str | None = None
    device_index: int | None = None
    model_id: str | None = None
    device_status: str | None = None
    instances: list[MigInstance] = field(default_factory=list)
    pending_instances: int | None = None
    free_memory_slices: list[int] = field(default_factory=list)
    stranded_memory_slices: list[int] = field(default_factory=list)
    stranded_compute_slices: int | None = None
    desired_layout: list[str] = field(default_factory=list)
    observed_layout: list[str] = field(default_factory=list)
    in_sync: bool | None = None
    drift: MigDrift | None = None
    mig_config: MigConfig | None = None


@dataclass(kw_only=True)
class MigStatistics(ApiModel):
    """MIG usage statistics: instances by profile and state, allocation rates."""

    total_instances: int | None = None
    allocated_instances: int | None = None
    free_instances: int | None = None
    pending_instances: int | None = None
    mig_enabled_devices: int | None = None
    instances_by_profile: dict[str, dict[str, int]] = field(default_factory=dict)
    instances_by_state: dict[str, int] = field(default_factory=dict)
    devices_with_drift: list[str] = field(default_factory=list)
    allocation_rate: float | None = None
    memory_allocation_rate: float | None = None
    instances_reporting: int | None = None
    utilization: float | None = None
    """Mean SM activity of the reported MIG instances that measure it, percent."""
    utilization_source: str | None = None
    """SM_ACTIVE, or None without utilization."""
    memory_used_gb: float | None = None
    memory_total_gb: float | None = None
    memory_utilization: float | None = None
    metrics_available: bool | None = None
    """False when Prometheus could not answer: the metric fields are then None."""
    metrics_unavailable_reason: str | None = None
    """Why the metric fields are None (e.g. Prometheus did not answer within 10 s)."""
