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
        (*POD, "resource", "sharing"),
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
        "sampling stage (nvml, processes, pod_resources, kubernetes), seconds.",
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
