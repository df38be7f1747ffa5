"""dcgm-exporter's fields beside our series: what each DCGM field is here, or why it is not.

The rows of the "dcgm-exporter fields" table that ``python -m exporter.metrics`` appends to
docs/metrics.md. ``default`` marks the 26 counters dcgm-exporter collects out of the box
(``etc/default-counters.csv`` in https://github.com/NVIDIA/dcgm-exporter); ``compat`` marks the
fields ``alerts/dcgm-compat.yml`` records under the DCGM name, labels and unit (the PromQL lives
in ``alerts/generate.py``; a test holds the two together).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DcgmField:
    field: str  # the DCGM field, which is also dcgm-exporter's series name
    unit: str  # dcgm-exporter's unit
    series: tuple[str, ...]  # our series it is computed from (empty: not available)
    expression: str  # how, in words or PromQL on our series
    default: bool  # in dcgm-exporter's default-counters.csv
    compat: bool  # recorded under the field's name by alerts/dcgm-compat.yml
    note: str = ""


def _f(
    field: str,
    unit: str,
    series: tuple[str, ...],
    expression: str,
    *,
    default: bool,
    compat: bool = True,
    note: str = "",
) -> DcgmField:
    return DcgmField(field, unit, series, expression, default, compat, note)


_RATIO = "ratio 0-1"
_GPM = "Hopper and newer (GPM); per MIG instance too, with `GPU_I_ID` and `GPU_I_PROFILE`"

FIELDS: tuple[DcgmField, ...] = (
    # -- dcgm-exporter's defaults, in the order of its default-counters.csv
    _f("DCGM_FI_DEV_SM_CLOCK", "MHz", ("gpu_clock_hertz",), '`{clock="sm"}` / 10⁶', default=True),
    _f(
        "DCGM_FI_DEV_MEM_CLOCK",
        "MHz",
        ("gpu_clock_hertz",),
        '`{clock="memory"}` / 10⁶',
        default=True,
    ),
    _f(
        "DCGM_FI_DEV_MEMORY_TEMP",
        "°C",
        ("gpu_memory_temperature_celsius",),
        "as is",
        default=True,
        note="HBM parts; absent where NVML reports no memory sensor",
    ),
    _f("DCGM_FI_DEV_GPU_TEMP", "°C", ("gpu_temperature_celsius",), "as is", default=True),
    _f("DCGM_FI_DEV_POWER_USAGE", "W", ("gpu_power_usage_watts",), "as is", default=True),
    _f(
        "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION",
        "mJ",
        ("gpu_energy_consumed_joules_total",),
        "* 1000",
        default=True,
    ),
    _f(
        "DCGM_FI_DEV_PCIE_TX_THROUGHPUT",
        "KB/s",
        ("gpu_pcie_throughput_bytes_per_second",),
        '`{direction="transmit"}` / 1024',
        default=True,
        note="NVML's 20 ms sample, as dcgm's; for traffic over time use DCGM_FI_PROF_PCIE_TX_BYTES",
    ),
    _f(
        "DCGM_FI_DEV_PCIE_RX_THROUGHPUT",
        "KB/s",
        ("gpu_pcie_throughput_bytes_per_second",),
        '`{direction="receive"}` / 1024',
        default=True,
    ),
    _f(
        "DCGM_FI_DEV_PCIE_REPLAY_COUNTER",
        "count",
        ("gpu_pcie_replay_errors_total",),
        "as is",
        default=True,
    ),
    _f(
        "DCGM_FI_DEV_GPU_UTIL",
        "%",
        ("gpu_utilization_ratio",),
        "* 100",
        default=True,
        note="aliases with the scrape interval; `rate(gpu_busy_seconds_total[5m])` does not",
    ),
    _f("DCGM_FI_DEV_MEM_COPY_UTIL", "%", ("gpu_memory_utilization_ratio",), "* 100", default=True),
    _f("DCGM_FI_DEV_ENC_UTIL", "%", ("gpu_encoder_utilization_ratio",), "* 100", default=True),
    _f("DCGM_FI_DEV_DEC_UTIL", "%", ("gpu_decoder_utilization_ratio",), "* 100", default=True),
    _f(
        "DCGM_FI_DEV_XID_ERRORS",
        "XID code",
        ("gpu_xid_last_seen_timestamp_seconds",),
        "the code in the `xid` label of the latest; 0 when none",
        default=True,
        note="never resets, like dcgm's: alert on `increase(gpu_xid_errors_total[...])`",
    ),
    _f(
        "DCGM_FI_DEV_FB_FREE",
        "MiB",
        ("gpu_memory_total_bytes", "gpu_memory_used_bytes"),
        "(total - used) / 2²⁰",
        default=True,
    ),
    _f("DCGM_FI_DEV_FB_USED", "MiB", ("gpu_memory_used_bytes",), "/ 2²⁰", default=True),
    _f(
        "DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL",
        "KiB",
        ("gpu_nvlink_data_bytes_total",),
        "both directions, all links, / 1024",
        default=True,
        note="NVLink GPUs only",
    ),
    _f(
        "DCGM_FI_DEV_VGPU_LICENSE_STATUS",
        "state",
        (),
        "not available without DCGM",
        default=True,
        compat=False,
        note="only GPUs running NVIDIA vGPU software have a licence; this exporter reads "
        "bare-metal and passthrough GPUs, where the field is meaningless",
    ),
    _f(
        "DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS",
        "count",
        ("gpu_remapped_rows",),
        '`{type="uncorrectable"}`',
        default=True,
    ),
    _f(
        "DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS",
        "count",
        ("gpu_remapped_rows",),
        '`{type="correctable"}`',
        default=True,
    ),
    _f("DCGM_FI_DEV_ROW_REMAP_FAILURE", "0/1", ("gpu_row_remap_failure",), "as is", default=True),
    _f(
        "DCGM_FI_PROF_GR_ENGINE_ACTIVE",
        _RATIO,
        ("gpu_busy_seconds_total",),
        "`rate(gpu_busy_seconds_total[2m])`",
        default=True,
        note="GPM has no graphics-engine metric: the fraction of time a kernel ran, every GPU",
    ),
    _f(
        "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE",
        _RATIO,
        ("gpu_prof_tensor_active_ratio",),
        "as is",
        default=True,
        note=_GPM,
    ),
    _f(
        "DCGM_FI_PROF_DRAM_ACTIVE",
        _RATIO,
        ("gpu_prof_dram_bandwidth_utilization_ratio",),
        "as is",
        default=True,
        note=_GPM,
    ),
    _f(
        "DCGM_FI_PROF_PCIE_TX_BYTES",
        "bytes/s",
        ("gpu_prof_pcie_transmit_bytes_per_second",),
        "as is",
        default=True,
        note=_GPM,
    ),
    _f(
        "DCGM_FI_PROF_PCIE_RX_BYTES",
        "bytes/s",
        ("gpu_prof_pcie_receive_bytes_per_second",),
        "as is",
        default=True,
        note=_GPM,
    ),
    # -- further fields dcgm-exporter can collect (commented out in its defaults)
    _f("DCGM_FI_DEV_FB_TOTAL", "MiB", ("gpu_memory_total_bytes",), "/ 2²⁰", default=False),
    _f("DCGM_FI_DEV_FB_RESERVED", "MiB", ("gpu_memory_reserved_bytes",), "/ 2²⁰", default=False),
    _f("DCGM_FI_DEV_POWER_MGMT_LIMIT", "W", ("gpu_power_limit_watts",), "as is", default=False),
    _f(
        "DCGM_FI_DEV_CLOCKS_EVENT_REASONS",
        "bit mask",
        ("gpu_clock_event_reason_active",),
        "sum of NVML's bits of the active reasons",
        default=False,
    ),
    _f(
        "DCGM_FI_DEV_CLOCK_THROTTLE_REASONS",
        "bit mask",
        ("gpu_clock_event_reason_active",),
        "the older name of DCGM_FI_DEV_CLOCKS_EVENT_REASONS",
        default=False,
    ),
    *(
        _f(
            f"DCGM_FI_DEV_{reason.upper()}_VIOLATION",
            "µs",
            ("gpu_violation_seconds_total",),
            f'`{{reason="{label}"}}` * 10⁶',
            default=False,
        )
        for reason, label in (
            ("power", "power"),
            ("thermal", "thermal"),
            ("sync_boost", "sync_boost"),
            ("board_limit", "board_limit"),
            ("low_util", "low_utilization"),
            ("reliability", "reliability"),
        )
    ),
    *(
        _f(
            f"DCGM_FI_DEV_ECC_{bits}_{scope}_TOTAL",
            "count",
            (series,),
            f'`{{type="{kind}"}}`',
            default=False,
        )
        for bits, kind in (("SBE", "corrected"), ("DBE", "uncorrected"))
        for scope, series in (("VOL", "gpu_ecc_errors_total"), ("AGG", "gpu_ecc_errors_lifetime"))
    ),
    _f("DCGM_FI_DEV_ROW_REMAP_PENDING", "0/1", ("gpu_row_remap_pending",), "as is", default=False),
    *(
        _f(field, _RATIO, (series,), "as is", default=False, note=_GPM)
        for field, series in (
            ("DCGM_FI_PROF_SM_ACTIVE", "gpu_prof_sm_active_ratio"),
            ("DCGM_FI_PROF_SM_OCCUPANCY", "gpu_prof_sm_occupancy_ratio"),
            ("DCGM_FI_PROF_PIPE_TENSOR_HMMA_ACTIVE", "gpu_prof_tensor_hmma_active_ratio"),
            ("DCGM_FI_PROF_PIPE_TENSOR_IMMA_ACTIVE", "gpu_prof_tensor_imma_active_ratio"),
            ("DCGM_FI_PROF_PIPE_TENSOR_DFMA_ACTIVE", "gpu_prof_tensor_dfma_active_ratio"),
            ("DCGM_FI_PROF_PIPE_FP64_ACTIVE", "gpu_prof_fp64_active_ratio"),
            ("DCGM_FI_PROF_PIPE_FP32_ACTIVE", "gpu_prof_fp32_active_ratio"),
            ("DCGM_FI_PROF_PIPE_FP16_ACTIVE", "gpu_prof_fp16_active_ratio"),
        )
    ),
    *(
        _f(field, "bytes/s", (series,), "as is", default=False, note=_GPM)
        for field, series in (
            ("DCGM_FI_PROF_NVLINK_TX_BYTES", "gpu_prof_nvlink_transmit_bytes_per_second"),
            ("DCGM_FI_PROF_NVLINK_RX_BYTES", "gpu_prof_nvlink_receive_bytes_per_second"),
        )
    ),
)


def markdown_table() -> str:
    """The docs/metrics.md section: every field above, our series beside it."""
    lines = [
        "",
        "## dcgm-exporter fields",
        "",
        "Generated from `exporter/dcgm_fields.py`. Each DCGM field dcgm-exporter collects by",
        "default (★), and the further ones we can give, with the series we compute it from.",
        "The compat series (`alerts/dcgm-compat.yml`, opt-in; docs/alerts.md) carries the field's",
        "name, unit and dcgm-exporter's labels.",
        "",
        "| dcgm field | unit | our series | how | compat series | note |",
        "|---|---|---|---|---|---|",
    ]
    for f in FIELDS:
        star = " ★" if f.default else ""
        series = ", ".join(f"`{name}`" for name in f.series) or "—"
        compat = f"`{f.field}`" if f.compat else "—"
        lines.append(
            f"| `{f.field}`{star} | {f.unit} | {series} | {f.expression} | {compat} | {f.note} |"
        )
    return "\n".join(lines) + "\n"
