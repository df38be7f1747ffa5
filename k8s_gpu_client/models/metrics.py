"""Results of /gpu/metrics, /gpu/overview and /gpu/health: usage, overheating, sync, health."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from k8s_gpu_client.models._base import ApiModel
from k8s_gpu_client.models.devices import DeviceHealth
from k8s_gpu_client.models.paging import PagedModel


@dataclass(kw_only=True)
class ModelUsage(ApiModel):
    """Per-model averages over the window (percent, °C)."""

    device_count: int | None = None
    avg_gpu_utilization: float | None = None
    avg_memory_utilization: float | None = None
    avg_temperature: float | None = None


@dataclass(kw_only=True)
class DeviceUsage(ApiModel):
    """Per-device averages over the window (percent, °C)."""

    model_id: str | None = None
    model_name: str | None = None
    node_name: str | None = None
    avg_gpu_utilization: float | None = None
    utilization_source: str | None = None
    """SM_ACTIVE or GPU_UTILIZATION: what avg_gpu_utilization is."""
    avg_memory_utilization: float | None = None
    avg_temperature: float | None = None


@dataclass(kw_only=True)
class UsageStatistics(PagedModel):
    """GET /gpu/metrics/usage-statistics: per-device and per-model averages (with page and
    size, device_statistics holds one page of GPUs; model_statistics still covers all)."""

    time_range: str | None = None
    window_start: datetime | None = None
    window_end: datetime | None = None
    source: str | None = None
    device_statistics: dict[str, DeviceUsage] = field(default_factory=dict)
    model_statistics: dict[str, ModelUsage] = field(default_factory=dict)


@dataclass(kw_only=True)
class OverheatingAlert(ApiModel):
    """A window in which a GPU was above its model's threshold."""

    device_id: str | None = None
    node_name: str | None = None
    model_id: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    duration_minutes: float | None = None
    peak_temperature: float | None = None
    threshold: float | None = None
    ongoing: bool | None = None
    severity: str | None = None


@dataclass(kw_only=True)
class OverheatingAlerts(PagedModel):
    """GET /gpu/metrics/overheating-alerts (with page and size, alerts holds one page;
    total_alerts and affected_devices still count every window)."""

    time_range: str | None = None
    window_start: datetime | None = None
    window_end: datetime | None = None
    total_alerts: int | None = None
    affected_devices: int | None = None
    alerts: list[OverheatingAlert] = field(default_factory=list)


@dataclass(kw_only=True)
class UpdatedDevice(ApiModel):
    """A device whose identity fields the inventory sync changed."""

    device_id: str | None = None
    fields: list[str] = field(default_factory=list)


@dataclass(kw_only=True)
class UnrecognizedGpu(ApiModel):
    """A GPU the catalogue does not know (not registered)."""

    node_name: str | None = None
    device_index: int | None = None
    gpu_uuid: str | None = None
    product_name: str | None = None


@dataclass(kw_only=True)
class SyncResult(ApiModel):
    """The result of one inventory sync (POST /gpu/metrics/collect)."""

    trigger: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    status: str | None = None
    error: str | None = None
    nodes: list[str] = field(default_factory=list)
    nodes_reported: list[str] = field(default_factory=list)
    devices_reported: int | None = None
    added: list[str] = field(default_factory=list)
    updated: list[UpdatedDevice] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)
    unrecognized: list[UnrecognizedGpu] = field(default_factory=list)
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    mig_applied: list[str] = field(default_factory=list)
    mig_unmanaged: list[str] = field(default_factory=list)
    mig_pending: list[str] = field(default_factory=list)
    mig_removed: list[str] = field(default_factory=list)
    changed: bool | None = None
    coalesced: bool | None = None


@dataclass(kw_only=True)
class GpuMetricSource(ApiModel):
    """Prometheus as the collection status sees it."""

    url: str | None = None
    reachable: bool | None = None
    error: str | None = None


@dataclass(kw_only=True)
class GpuScrapeTarget(ApiModel):
    """One scrape target of the GPU metrics with its freshness (seconds)."""

    job: str | None = None
    instance: str | None = None
    node_name: str | None = None
    scrape_url: str | None = None
    health: str | None = None
    last_scrape: datetime | None = None
    last_scrape_duration_seconds: float | None = None
    freshness_seconds: float | None = None
    last_error: str | None = None


@dataclass(kw_only=True)
class GpuExporterState(ApiModel):
    """One exporter: expected and visible GPUs, newest sample."""

    node_name: str | None = None
    version: str | None = None
    devices_expected: int | None = None
    devices_visible: int | None = None
    missing_devices: int | None = None
    last_sample_at: datetime | None = None
    freshness_seconds: float | None = None


@dataclass(kw_only=True)
class UnrecognizedGpuRecord(ApiModel):
    """A GPU the inventory sync saw but could not register."""

    gpu_uuid: str | None = None
    node_name: str | None = None
    device_index: int | None = None
    product_name: str | None = None
    first_seen_at: datetime | None = None
    last_seen_at: datetime | None = None


@dataclass(kw_only=True)
class CollectionStatus(ApiModel):
    """GET /gpu/metrics/collection-status."""

    last_sync: SyncResult | None = None
    running_since: datetime | None = None
    sync_interval_seconds: int | None = None
    prometheus: GpuMetricSource | None = None
    targets: list[GpuScrapeTarget] = field(default_factory=list)
    exporters: list[GpuExporterState] = field(default_factory=list)
    unrecognized_gpus: list[UnrecognizedGpuRecord] = field(default_factory=list)


@dataclass(kw_only=True)
class GpuOverview(ApiModel):
    """GET /gpu/overview: counts, utilisation now, costs (USD), alerts."""

    total_nodes: int | None = None
    total_gpu_devices: int | None = None
    total_mig_instances: int | None = None
    active_allocations: int | None = None
    devices_by_model: dict[str, int] = field(default_factory=dict)
    devices_reporting: int | None = None
    overall_gpu_utilization: float | None = None
    overall_memory_utilization: float | None = None
    overall_temperature: float | None = None
    total_hourly_cost: float | None = None
    total_monthly_cost: float | None = None
    total_alerts: int | None = None
    critical_alerts: int | None = None
    warning_alerts: int | None = None
    prometheus_alerts: int | None = None
    metrics_available: bool | None = None
    """False when Prometheus could not answer: the metric fields are then None."""
    metrics_unavailable_reason: str | None = None
    """Why the metric fields are None (e.g. Prometheus did not answer within 10 s)."""


@dataclass(kw_only=True)
class GpuClusterHealth(ApiModel):
    """GET /gpu/health: devices per verdict with the reasons."""

    status: str | None = None
    total_devices: int | None = None
    healthy_devices: int | None = None
    warning_devices: int | None = None
    critical_devices: int | None = None
    reasons: dict[str, int] = field(default_factory=dict)
    devices_by_node: dict[str, dict[str, int]] = field(default_factory=dict)
    unhealthy: list[DeviceHealth] = field(default_factory=list)
    checked_at: datetime | None = None
