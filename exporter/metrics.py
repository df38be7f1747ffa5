"""The metric catalogue: every series the exporter publishes, its type, unit, labels and help.

This is the contract between the exporter and everything that reads it (dashboards, alert and
recording rules, the analytics service's PromQL). ``docs/metrics.md`` is generated from it
(``python -m exporter.metrics > docs/metrics.md``) and a test keeps the two in step.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from enum import Enum

from exporter import dcgm_fields


class Kind(Enum):
    GAUGE = "gauge"
    COUNTER = "counter"


@dataclass(frozen=True)
class MetricDef:
    name: str  # full exposed name; counters end in _total
    kind: Kind
    help: str
    labels: tuple[str, ...]

    @property
    def family_name(self) -> str:
        """The family name prometheus_client wants (counters without ``_total``)."""
        return self.name.removesuffix("_total") if self.kind is Kind.COUNTER else self.name


DEVICE = ("node", "gpu", "uuid")
MIG = ("node", "gpu", "uuid", "mig_uuid", "gpu_instance_id", "compute_instance_id", "profile")
POD = ("node", "namespace", "pod", "container", "gpu", "uuid", "mig_uuid")
PROF = (*DEVICE, "mig_uuid", "gpu_instance_id")  # GPM profiling (issue 20)

_G, _C = Kind.GAUGE, Kind.COUNTER

CATALOGUE: tuple[MetricDef, ...] = (
    # identity and liveness
    MetricDef(
        "gpu_info",
        _G,
        "GPU identity; always 1. Join on uuid for model, bus id, serial, "
        "driver, vbios, architecture and MIG mode.",
        (
            *DEVICE,
            "model_name",
            "pci_bus_id",
            "serial",
            "driver_version",
            "cuda_version",
            "vbios_version",
            "architecture",
            "mig_mode",
        ),
    ),
    MetricDef(
        "gpu_up",
        _G,
        "1 when the GPU answered NVML in the last sampling cycle, 0 when it is lost or unreadable.",
        DEVICE,
    ),
    # utilisation
    MetricDef(
        "gpu_utilization_ratio",
        _G,
        "Fraction of the driver's last sample period (1/6 s "
        "to 1 s) in which a kernel ran, 0-1. Aliases with the scrape interval: prefer "
        "rate(gpu_busy_seconds_total).",
        DEVICE,
    ),
    MetricDef(
        "gpu_busy_seconds_total",
        _C,
        "Seconds in which a kernel was running, integrated "
        "from NVML's utilisation samples; rate() gives utilisation without aliasing.",
        DEVICE,
    ),
    MetricDef(
        "gpu_memory_utilization_ratio",
        _G,
        "Fraction of the last sample period in which device memory was read or written, 0-1.",
        DEVICE,
    ),
    # memory
    MetricDef("gpu_memory_used_bytes", _G, "Device memory in use, bytes.", DEVICE),
    MetricDef("gpu_memory_total_bytes", _G, "Device memory in total, bytes.", DEVICE),
    # thermals and power
    MetricDef("gpu_temperature_celsius", _G, "GPU die temperature, degrees Celsius.", DEVICE),
    MetricDef("gpu_power_usage_watts", _G, "Power drawn by the board, watts.", DEVICE),
    MetricDef("gpu_power_limit_watts", _G, "Enforced power limit, watts.", DEVICE),
    MetricDef(
        "gpu_energy_consumed_joules_total",
        _C,
        "Energy consumed since the driver loaded, joules.",
        DEVICE,
    ),
    MetricDef(
        "gpu_clock_hertz",
        _G,
        "Current clock frequency, hertz, by clock domain (sm, memory, graphics).",
        (*DEVICE, "clock"),
    ),
    MetricDef(
        "gpu_performance_state",
        _G,
        "Performance state P0 (max) to P15 (min), as the number.",
        DEVICE,
    ),
    MetricDef(
        "gpu_clock_event_reason_active",
        _G,
        "1 while the driver holds clocks down for "
        "this reason (hw_slowdown, hw_thermal_slowdown, hw_power_brake, "
        "sw_thermal_slowdown, sw_power_cap, gpu_idle, sync_boost, applications_clocks), "
        "else 0.",
        (*DEVICE, "reason"),
    ),
    # reliability
    MetricDef(
        "gpu_ecc_errors_total",
        _C,
        "ECC errors since the driver loaded (volatile counters), by type (corrected, uncorrected).",
        (*DEVICE, "type"),
    ),
    MetricDef(
        "gpu_ecc_errors_lifetime",
        _G,
        "ECC errors over the GPU's life (aggregate counters kept in the inforom), by type.",
        (*DEVICE, "type"),
    ),
    MetricDef(
        "gpu_remapped_rows",
        _G,
        "Memory rows remapped over the GPU's life, by cause (correctable, uncorrectable).",
        (*DEVICE, "type"),
    ),
    MetricDef("gpu_row_remap_pending", _G, "1 when a row remap waits for a GPU reset.", DEVICE),
    MetricDef(
        "gpu_row_remap_failure", _G, "1 when a row remap failed; the GPU needs service.", DEVICE
    ),
    # dcgm-exporter default counters from NVML (issue 20)
    MetricDef(
        "gpu_memory_temperature_celsius",
        _G,
        "Device memory (HBM) temperature, degrees Celsius; absent on boards without a "
        "memory sensor (GDDR).",
        DEVICE,
    ),
    MetricDef(
        "gpu_pcie_replay_errors_total",
        _C,
        "PCIe packets the GPU's link had to replay since the driver loaded; a rising rate "
        "points at a bad riser, slot or cable.",
        DEVICE,
    ),
    MetricDef(
        "gpu_pcie_throughput_bytes_per_second",
        _G,
        "PCIe traffic by direction (transmit: GPU to host, receive: host to GPU), bytes per "
        "second, from the driver's 20 ms sample; refreshed every 10 s (each read costs 20 ms).",
        (*DEVICE, "direction"),
    ),
    MetricDef(
        "gpu_encoder_utilization_ratio",
        _G,
        "Fraction of the last sample period in which the video encoder (NVENC) was busy, 0-1.",
        DEVICE,
    ),
    MetricDef(
        "gpu_decoder_utilization_ratio",
        _G,
        "Fraction of the last sample period in which the video decoder (NVDEC) was busy, 0-1.",
        DEVICE,
    ),
    MetricDef(
        "gpu_memory_reserved_bytes",
        _G,
        "Device memory the driver reserves for itself, bytes (counted in "
        "gpu_memory_used_bytes; NVML's memory info v2).",
        DEVICE,
    ),
    MetricDef(
        "gpu_nvlink_data_bytes_total",
        _C,
        "Payload bytes moved over all of the GPU's NVLinks since the driver loaded, by "
        "direction (transmit, receive); absent on GPUs without NVLink.",
        (*DEVICE, "direction"),
    ),
    MetricDef(
        "gpu_nvlink_link_data_bytes_total",
        _C,
        "Payload bytes moved over one NVLink since the driver loaded, by link and direction; "
        "refreshed every 10 s. Only with --nvlink-per-link (36 series per H100).",
        (*DEVICE, "link", "direction"),
    ),
    MetricDef(
        "gpu_nvlink_errors_total",
        _C,
        "NVLink errors summed over the GPU's links since the driver loaded, by kind (crc_flit, "
        "crc_data, replay, recovery).",
        (*DEVICE, "error"),
    ),
    MetricDef(
        "gpu_violation_seconds_total",
        _C,
        "Seconds the driver held clocks below the requested ones, by limiter (power, thermal, "
        "sync_boost, board_limit, low_utilization, reliability; total_app_clocks and "
        "total_base_clocks: any limiter, below application or base clocks); refreshed every 10 s.",
        (*DEVICE, "reason"),
    ),
    MetricDef(
        "gpu_fabric_state",
        _G,
        "NVSwitch fabric registration of the GPU, always 1, with its current state "
        "(not_started, in_progress, completed, failed: completed with an error status); absent "
        "on GPUs outside an NVSwitch fabric.",
        (*DEVICE, "state"),
    ),
    MetricDef(
        "gpu_xid_errors_total",
        _C,
        "XID errors reported by the driver, by XID code.",
        (*DEVICE, "xid"),
    ),
    MetricDef(
        "gpu_xid_last_seen_timestamp_seconds",
        _G,
        "Unix time the XID code was last reported on this GPU.",
        (*DEVICE, "xid"),
    ),
    # MIG
    MetricDef(
        "gpu_mig_info",
        _G,
        "A MIG device (GPU instance + compute instance) on a parent GPU; always 1.",
        MIG,
    ),
    MetricDef(
        "gpu_mig_memory_used_bytes", _G, "Memory in use inside the MIG instance, bytes.", MIG[:4]
    ),
    MetricDef("gpu_mig_memory_total_bytes", _G, "Memory of the MIG instance, bytes.", MIG[:4]),
    # pods
    MetricDef(
        "gpu_pod_allocation_info",
        _G,
        "A container holding a GPU or MIG instance, as "
        "the kubelet assigned it; always 1. Join on uuid (and mig_uuid) with device "
        "series; device values are never copied to pods.",
        (*POD, "resource", "sharing", "claim_name", "claim_namespace"),
    ),
    MetricDef(
        "gpu_pod_memory_used_bytes",
        _G,
        "GPU memory used by the container's processes, bytes (summed per-process NVML values).",
        POD,
    ),
    MetricDef(
        "gpu_pod_sm_utilization_ratio",
        _G,
        "SM utilisation of the container's processes, "
        "0-1, from NVML's per-process samples (not available inside MIG).",
        POD,
    ),
    MetricDef(
        "gpu_model_serving_info",
        _G,
        "A model-serving pod on this node with its engine "
        "(vllm, sglang, tgi, triton, ...) and model; always 1.",
        ("node", "namespace", "pod", "model_type", "model_name"),
    ),
    # GPM profiling (issue 20)
    MetricDef(
        "gpu_prof_sm_active_ratio",
        _G,
        "Fraction of SMs busy (at least one warp resident), averaged over the last sampling "
        "interval, 0-1; NVML GPM (Hopper and newer), as DCGM_FI_PROF_SM_ACTIVE. mig_uuid and "
        "gpu_instance_id are empty for the whole GPU, set for a MIG GPU instance.",
        PROF,
    ),
    MetricDef(
        "gpu_prof_sm_occupancy_ratio",
        _G,
        "Resident warps as a fraction of the SMs' maximum, over the last sampling interval, "
        "0-1 (DCGM_FI_PROF_SM_OCCUPANCY).",
        PROF,
    ),
    MetricDef(
        "gpu_prof_tensor_active_ratio",
        _G,
        "Fraction of time the SMs ran any tensor-core instruction, 0-1 "
        "(DCGM_FI_PROF_PIPE_TENSOR_ACTIVE).",
        PROF,
    ),
    MetricDef(
        "gpu_prof_tensor_hmma_active_ratio",
        _G,
        "Fraction of time the SMs ran half-precision (HMMA) tensor instructions, 0-1 "
        "(DCGM_FI_PROF_PIPE_TENSOR_HMMA_ACTIVE).",
        PROF,
    ),
    MetricDef(
        "gpu_prof_tensor_imma_active_ratio",
        _G,
        "Fraction of time the SMs ran integer (IMMA) tensor instructions, 0-1 "
        "(DCGM_FI_PROF_PIPE_TENSOR_IMMA_ACTIVE).",
        PROF,
    ),
    MetricDef(
        "gpu_prof_tensor_dfma_active_ratio",
        _G,
        "Fraction of time the SMs ran double-precision (DFMA) tensor instructions, 0-1 "
        "(DCGM_FI_PROF_PIPE_TENSOR_DFMA_ACTIVE).",
        PROF,
    ),
    MetricDef(
        "gpu_prof_fp64_active_ratio",
        _G,
        "Fraction of time the SMs ran non-tensor FP64 math, 0-1 (DCGM_FI_PROF_PIPE_FP64_ACTIVE).",
        PROF,
    ),
    MetricDef(
        "gpu_prof_fp32_active_ratio",
        _G,
        "Fraction of time the SMs ran non-tensor FP32 math, 0-1 (DCGM_FI_PROF_PIPE_FP32_ACTIVE).",
        PROF,
    ),
    MetricDef(
        "gpu_prof_fp16_active_ratio",
        _G,
        "Fraction of time the SMs ran non-tensor FP16 math, 0-1 (DCGM_FI_PROF_PIPE_FP16_ACTIVE).",
        PROF,
    ),
    MetricDef(
        "gpu_prof_dram_bandwidth_utilization_ratio",
        _G,
        "Device memory bandwidth used as a fraction of its theoretical maximum, 0-1 "
        "(DCGM_FI_PROF_DRAM_ACTIVE).",
        PROF,
    ),
    MetricDef(
        "gpu_prof_pcie_transmit_bytes_per_second",
        _G,
        "PCIe traffic sent by the GPU over the last sampling interval, bytes per second "
        "(NVML reports MiB/s; DCGM_FI_PROF_PCIE_TX_BYTES).",
        PROF,
    ),
    MetricDef(
        "gpu_prof_pcie_receive_bytes_per_second",
        _G,
        "PCIe traffic received by the GPU over the last sampling interval, bytes per second "
        "(DCGM_FI_PROF_PCIE_RX_BYTES).",
        PROF,
    ),
    MetricDef(
        "gpu_prof_nvlink_transmit_bytes_per_second",
        _G,
        "NVLink traffic sent by the GPU over all its links, bytes per second "
        "(DCGM_FI_PROF_NVLINK_TX_BYTES).",
        PROF,
    ),
    MetricDef(
        "gpu_prof_nvlink_receive_bytes_per_second",
        _G,
        "NVLink traffic received by the GPU over all its links, bytes per second "
        "(DCGM_FI_PROF_NVLINK_RX_BYTES).",
        PROF,
    ),
    MetricDef(
        "gpu_prof_nvdec_utilization_ratio",
        _G,
        "Video decoder (NVDEC) utilisation, the mean over the GPU's or instance's NVDEC "
        "engines, 0-1.",
        PROF,
    ),
    MetricDef(
        "gpu_prof_nvjpg_utilization_ratio",
        _G,
        "JPEG decoder (NVJPG) utilisation, the mean over its NVJPG engines, 0-1.",
        PROF,
    ),
    MetricDef(
        "gpu_prof_nvofa_utilization_ratio",
        _G,
        "Optical flow accelerator (NVOFA) utilisation, the mean over its NVOFA engines, 0-1.",
        PROF,
    ),
    MetricDef(
        "gpu_prof_support_info",
        _G,
        "Whether gpu_prof_* series are exported for this GPU; always 1. supported is true or "
        "false, reason says why: supported, device_not_supported (no GPM: Ampere and older), "
        "driver_not_supported, function_not_found (driver or nvidia-ml-py without GPM), "
        "no_permission, query_failed (asked again next cycle), disabled (--gpm=false).",
        (*DEVICE, "supported", "reason"),
    ),
    # the exporter itself
    MetricDef("gpu_exporter_build_info", _G, "Exporter version; always 1.", ("node", "version")),
    MetricDef(
        "gpu_exporter_devices_expected",
        _G,
        "GPUs this node should have: the larger of "
        "the configured count and the most NVML has reported since start.",
        ("node",),
    ),
    MetricDef(
        "gpu_exporter_devices_visible", _G, "GPUs read successfully in the last cycle.", ("node",)
    ),
    MetricDef(
        "gpu_exporter_stage_duration_seconds",
        _G,
        "Duration of the last run of each "
        "sampling stage (nvml, gpm, processes, pod_resources, kubernetes), seconds.",
        ("node", "stage"),
    ),
    MetricDef(
        "gpu_exporter_stage_last_success_timestamp_seconds",
        _G,
        "Unix time each stage last completed without error.",
        ("node", "stage"),
    ),
    MetricDef(
        "gpu_exporter_errors_total",
        _C,
        "Failed operations (NVML calls, pod-resources "
        "and Kubernetes API requests, unresolvable device ids) by operation.",
        ("node", "operation"),
    ),
)

BY_NAME: dict[str, MetricDef] = {m.name: m for m in CATALOGUE}

# Clock-event reason label values and their NVML bit (pynvml's nvmlClocksEventReason* values).
CLOCK_EVENT_REASONS: tuple[tuple[str, int], ...] = (
    ("gpu_idle", 0x1),
    ("applications_clocks", 0x2),
    ("sw_power_cap", 0x4),
    ("hw_slowdown", 0x8),
    ("sync_boost", 0x10),
    ("sw_thermal_slowdown", 0x20),
    ("hw_thermal_slowdown", 0x40),
    ("hw_power_brake", 0x80),
)


def markdown_table() -> str:
    lines = [
        "# Exporter metric catalogue",
        "",
        "Generated from `exporter/metrics.py` by `python -m exporter.metrics`; do not edit.",
        "",
        "| metric | type | labels | meaning |",
        "|---|---|---|---|",
    ]
    for m in CATALOGUE:
        labels = ", ".join(f"`{label}`" for label in m.labels)
        lines.append(f"| `{m.name}` | {m.kind.value} | {labels} | {m.help} |")
    return "\n".join(lines) + "\n" + dcgm_fields.markdown_table()


if __name__ == "__main__":
    sys.stdout.write(markdown_table())
