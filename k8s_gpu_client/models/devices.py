"""Results of /gpu/devices: the inventory, statistics, overheating and health verdicts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from k8s_gpu_client.models._base import ApiModel


@dataclass(kw_only=True)
class Device(ApiModel):
    """A GPU of the inventory (GET /gpu/devices), with live temperature, power and utilisation."""

    device_id: str | None = None
    node_name: str | None = None
    model_id: str | None = None
    model_name: str | None = None
    device_index: int | None = None
    device_status: str | None = None
    current_temp_c: float | None = None
    current_power_w: float | None = None
    current_utilization: float | None = None
    memory_gb: float | None = None
    architecture: str | None = None
    mig_support: bool | None = None
    allocated: bool | None = None
    mig_instance_count: int | None = None
    serial_number: str | None = None
    pci_address: str | None = None
    gpu_uuid: str | None = None
    driver_version: str | None = None
    firmware_version: str | None = None
    purchase_cost: float | None = None
    purchase_date: datetime | None = None
    warranty_expiry_date: datetime | None = None
    price_per_hour: float | None = None
    source: str | None = None
    registered_at: datetime | None = None
    updated_at: datetime | None = None
    presence: str | None = None
    last_seen_at: datetime | None = None
    product_name: str | None = None
    metrics_available: bool | None = None
    """False when Prometheus could not answer: the metric fields are then None."""
    metrics_unavailable_reason: str | None = None
    """Why the metric fields are None (e.g. Prometheus did not answer within 10 s)."""


@dataclass(kw_only=True)
class DeviceStatistics(ApiModel):
    """GPU counts by model, node and status, and the allocation rate (percent)."""

    total_devices: int | None = None
    devices_by_model: dict[str, int] = field(default_factory=dict)
    devices_by_node: dict[str, int] = field(default_factory=dict)
    devices_by_status: dict[str, int] = field(default_factory=dict)
    allocated_devices: int | None = None
    available_devices: int | None = None
    mig_enabled_devices: int | None = None
    allocation_rate: float | None = None


@dataclass(kw_only=True)
class OverheatingDevice(ApiModel):
    """A GPU now above its model's temperature threshold (°C)."""

    device_id: str | None = None
    node_name: str | None = None
    model_id: str | None = None
    model_name: str | None = None
    current_temp_c: float | None = None
    threshold_c: float | None = None
    excess_c: float | None = None
    severity: str | None = None
    measured_at: datetime | None = None


@dataclass(kw_only=True)
class GpuHealthReason(ApiModel):
    """One finding behind a health verdict (code, severity, value, threshold)."""

    code: str | None = None
    severity: str | None = None
    message: str | None = None
    value: float | None = None
    threshold: float | None = None
    xid: int | None = None
    count: int | None = None


@dataclass(kw_only=True)
class DeviceHealth(ApiModel):
    """Health verdict of one GPU: HEALTHY, WARNING or CRITICAL, with its reasons."""

    device_id: str | None = None
    node_name: str | None = None
    model_id: str | None = None
    status: str | None = None
    reasons: list[GpuHealthReason] = field(default_factory=list)
    temperature_c: float | None = None
    threshold_c: float | None = None
    xid_counts: dict[str, int] = field(default_factory=dict)
    xid_window_hours: int | None = None
    checked_at: datetime | None = None
