"""Immutable records that flow from the sampling stages to the collector.

Every stage (NVML, pod-resources, Kubernetes API, per-process) produces plain frozen
dataclasses; the sampler assembles one :class:`Snapshot` and the collector only renders it.
Units are in the field names; ``None`` means "not reported by this GPU/driver".
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class MigInstanceSample:
    """One MIG device (GPU instance + compute instance) on a parent GPU."""

    mig_uuid: str  # "MIG-..."
    gpu_instance_id: int
    compute_instance_id: int
    profile: str  # "1g.10gb", "3g.40gb", "1g.10gb+me"
    memory_used_bytes: int | None
    memory_total_bytes: int | None


@dataclass(frozen=True)
class DeviceIdentity:
    """What does not change while the driver is loaded."""

    index: int
    uuid: str  # "GPU-..."
    name: str  # NVML product name, e.g. "NVIDIA A100-SXM4-80GB"
    serial: str
    pci_bus_id: str  # "00000000:17:00.0"
    vbios_version: str
    architecture: str  # "ampere", "hopper", ... or "unknown"
    minor_number: int | None = None


# -- dcgm-exporter default counters from NVML (issue 20) ----------------------------------------


@dataclass(frozen=True)
class NvLinkSample:
    """Data moved over one NVLink since the driver loaded (NVML's per-link throughput fields)."""

    link: int
    transmit_bytes_total: int | None
    receive_bytes_total: int | None


@dataclass(frozen=True)
class DeviceCounters:
    """The NVML readings behind dcgm-exporter's default counters; ``None``/empty: not reported.

    Counters are the driver's own (since driver load), so they survive exporter restarts.
    """

    memory_temperature_celsius: float | None = None
    pcie_replay_errors_total: int | None = None
    pcie_transmit_bytes_per_second: float | None = None  # the driver's last 20 ms sample
    pcie_receive_bytes_per_second: float | None = None
    encoder_utilization_ratio: float | None = None  # 0..1
    decoder_utilization_ratio: float | None = None
    memory_reserved_bytes: int | None = None  # device memory the driver keeps for itself
    nvlink_transmit_bytes_total: int | None = None  # summed over the GPU's links
    nvlink_receive_bytes_total: int | None = None
    nvlink_links: tuple[NvLinkSample, ...] = ()
    nvlink_errors_total: tuple[tuple[str, int], ...] = ()  # (error kind, count)
    violation_seconds_total: tuple[tuple[str, float], ...] = ()  # (reason, seconds)
    fabric_state: str | None = None  # "not_started", "in_progress", "completed", "failed"


@dataclass(frozen=True)
class DeviceSample:
    """One GPU at one sampling instant. ``up`` is False when the GPU could not be read."""

    identity: DeviceIdentity
    up: bool
    utilization_ratio: float | None = None  # 0..1, driver's last sample period
    memory_utilization_ratio: float | None = None  # 0..1, memory controller busy
    busy_seconds_total: float | None = None  # integral of utilisation samples, seconds
    memory_used_bytes: int | None = None
    memory_total_bytes: int | None = None
    temperature_celsius: float | None = None
    power_watts: float | None = None
    power_limit_watts: float | None = None
    energy_joules_total: float | None = None
    clock_sm_hertz: float | None = None
    clock_memory_hertz: float | None = None
    clock_graphics_hertz: float | None = None
    performance_state: int | None = None
    ecc_corrected_total: int | None = None  # volatile (since driver load)
    ecc_uncorrected_total: int | None = None
    ecc_corrected_aggregate: int | None = None  # lifetime
    ecc_uncorrected_aggregate: int | None = None
    remapped_rows_correctable: int | None = None
    remapped_rows_uncorrectable: int | None = None
    row_remap_pending: bool | None = None
    row_remap_failure: bool | None = None
    clock_event_reasons: int | None = None  # NVML bit mask
    mig_enabled: bool | None = None
    mig_instances: tuple[MigInstanceSample, ...] = ()
    counters: DeviceCounters | None = None  # dcgm-exporter default counters (issue 20)


@dataclass(frozen=True)
class ProcessSample:
    """A compute process seen by NVML on a GPU or MIG device."""

    pid: int
    gpu_uuid: str
    mig_uuid: str | None
    used_memory_bytes: int | None
    sm_utilization_ratio: float | None = None  # 0..1, from nvmlDeviceGetProcessUtilization


@dataclass(frozen=True)
class XidCount:
    gpu_uuid: str
    xid: int
    count: int
    last_seen_timestamp_seconds: float


@dataclass(frozen=True)
class PodDevice:
    """One device id as the kubelet reported it for a container (not yet resolved)."""

    namespace: str
    pod: str
    container: str
    resource_name: str  # "nvidia.com/gpu", "nvidia.com/mig-1g.10gb", ...
    device_id: str  # raw id, any form exporter.deviceids lists (DRA: see exporter.dra)
    claim_name: str = ""  # the ResourceClaim, for a device allocated through DRA
    claim_namespace: str = ""


@dataclass(frozen=True)
class PodAllocation:
    """A container holding a GPU or MIG instance, resolved against this node's devices."""

    namespace: str
    pod: str
    container: str
    resource_name: str
    gpu_index: int
    gpu_uuid: str
    mig_uuid: str | None  # set when the container holds a MIG instance
    sharing: str  # "exclusive" or "shared" (time-slicing / MPS replica)
    replica: int | None = None
    claim_name: str = ""  # the ResourceClaim, for a device allocated through DRA
    claim_namespace: str = ""


@dataclass(frozen=True)
class PodInfo:
    """The parts of a Kubernetes Pod the exporter needs."""

    namespace: str
    name: str
    uid: str
    phase: str  # Pending, Running, Succeeded, Failed, Unknown
    node_name: str
    labels: dict[str, str] = field(default_factory=dict, hash=False)
    # container name -> container runtime id without the "containerd://" prefix
    container_ids: dict[str, str] = field(default_factory=dict, hash=False)
    model_type: str | None = None  # vllm, sglang, tgi, triton, ... for model-serving pods
    model_name: str | None = None


@dataclass(frozen=True)
class PodUsage:
    """Per-container usage that can truly be split: summed over the container's processes."""

    namespace: str
    pod: str
    container: str
    gpu_uuid: str
    mig_uuid: str | None
    used_memory_bytes: int
    sm_utilization_ratio: float | None


@dataclass(frozen=True)
class StageHealth:
    stage: str  # "nvml", "pod_resources", "kubernetes", "processes", "xid_events"
    duration_seconds: float
    last_success_timestamp_seconds: float | None


# -- GPM profiling (issue 20) -------------------------------------------------------------------


@dataclass(frozen=True)
class ProfilingSample:
    """GPM metrics of a GPU (``mig_uuid`` None) or of one MIG GPU instance over one sampling
    interval. Ratios are 0..1, rates bytes per second; None: NVML did not report that metric."""

    gpu_index: int
    gpu_uuid: str
    mig_uuid: str | None
    gpu_instance_id: int | None
    sm_active_ratio: float | None = None
    sm_occupancy_ratio: float | None = None
    tensor_active_ratio: float | None = None
    tensor_hmma_active_ratio: float | None = None
    tensor_imma_active_ratio: float | None = None
    tensor_dfma_active_ratio: float | None = None
    fp64_active_ratio: float | None = None
    fp32_active_ratio: float | None = None
    fp16_active_ratio: float | None = None
    dram_bandwidth_utilization_ratio: float | None = None
    pcie_transmit_bytes_per_second: float | None = None
    pcie_receive_bytes_per_second: float | None = None
    nvlink_transmit_bytes_per_second: float | None = None
    nvlink_receive_bytes_per_second: float | None = None
    nvdec_utilization_ratio: float | None = None  # mean over the engines NVML reported
    nvjpg_utilization_ratio: float | None = None
    nvofa_utilization_ratio: float | None = None


@dataclass(frozen=True)
class ProfilingSupport:
    """Whether GPM profiling is exported for a GPU, and why (or why not)."""

    gpu_index: int
    gpu_uuid: str
    supported: bool
    reason: str  # one of exporter.gpm.REASONS


@dataclass(frozen=True)
class Snapshot:
    """Everything one scrape renders. Built by the sampler; never mutated."""

    node: str
    timestamp_seconds: float
    driver_version: str | None
    cuda_driver_version: str | None
    devices: tuple[DeviceSample, ...]
    expected_devices: int
    allocations: tuple[PodAllocation, ...] = ()
    serving_pods: tuple[PodInfo, ...] = ()
    pod_usage: tuple[PodUsage, ...] = ()
    xids: tuple[XidCount, ...] = ()
    stages: tuple[StageHealth, ...] = ()
    errors_total: tuple[tuple[str, int], ...] = ()  # (operation, count)
    sequence: int = 0
    # GPM profiling (issue 20)
    profiling: tuple[ProfilingSample, ...] = ()
    profiling_support: tuple[ProfilingSupport, ...] = ()
