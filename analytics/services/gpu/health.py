"""GPU health verdicts from the exporter's signals: pure rules, no I/O.

A device is CRITICAL when any finding is critical, WARNING when any is a warning, else
HEALTHY. Findings (XIDs: NVIDIA's Xid catalogue,
https://docs.nvidia.com/deploy/xid-errors/analyzing-xid-catalog.html):

| code | severity | when |
|---|---|---|
| GPU_LOST | CRITICAL | ``gpu_up`` is 0: NVML cannot read the GPU |
| NOT_REPORTED | CRITICAL | the exporter reported the GPU before and no longer does |
| NO_METRICS | WARNING | no exporter has ever reported the GPU (registered by hand) |
| OVERHEATING | CRITICAL | temperature above the model's threshold |
| TEMPERATURE_HIGH | WARNING | within 5 °C of the threshold |
| XID_CRITICAL | CRITICAL | XID 48, 62, 64, 74, 79, 95, 119 or 120 in the window |
| XID_WARNING | WARNING | XID 94 (contained ECC error) in the window |
| XID_OTHER | INFO | any other XID (13, 31, 43 are usually application faults) |
| ECC_UNCORRECTABLE | CRITICAL | uncorrectable ECC errors since the driver loaded |
| ECC_UNCORRECTABLE_LIFETIME | WARNING | uncorrectable ECC errors earlier in the GPU's life |
| ROW_REMAP_FAILURE | CRITICAL | a row remap failed: the GPU needs service |
| ROW_REMAP_PENDING | WARNING | a row remap waits for a GPU reset |
| THERMAL_THROTTLING | WARNING | the driver holds clocks down for heat |
| POWER_BRAKE | WARNING | the board's power brake is engaged |
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from analytics.prom import Sample
from analytics.prom import queries as q

HEALTHY, WARNING, CRITICAL, INFO = "HEALTHY", "WARNING", "CRITICAL", "INFO"
TEMPERATURE_MARGIN_C = 5.0
_RANK = {INFO: 0, HEALTHY: 0, WARNING: 1, CRITICAL: 2}
# Labels that do not tell one XID series from another (added by the query, or the join key).
_NOT_SERIES_LABELS = frozenset({"check", "__name__", "uuid"})


@dataclass
class DeviceSignals:
    """What Prometheus says about one GPU now (None: no such series)."""

    up: bool | None = None
    temperature_c: float | None = None
    xid_counts: dict[int, int] = field(default_factory=dict)
    xid_raw: dict[int, dict[tuple[tuple[str, str], ...], float]] = field(
        default_factory=dict, repr=False
    )
    ecc_uncorrected_volatile: float = 0.0
    ecc_uncorrected_lifetime: float = 0.0
    remap_pending: bool = False
    remap_failure: bool = False
    throttle_reasons: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Finding:
    code: str
    severity: str
    message: str
    value: float | None = None
    threshold: float | None = None
    xid: int | None = None
    count: int | None = None


@dataclass(frozen=True)
class Verdict:
    status: str
    findings: list[Finding]


def collect_signals(samples: Sequence[Sample]) -> dict[str, DeviceSignals]:
    """The tagged answer of :func:`analytics.prom.queries.device_health`, by GPU uuid."""
    signals: dict[str, DeviceSignals] = {}
    for sample in samples:
        uuid = sample.labels.get("uuid")
        if not uuid:
            continue
        entry = signals.setdefault(uuid, DeviceSignals())
        check = sample.labels.get(q.CHECK_LABEL)
        if check == "up":
            entry.up = sample.value >= 1
        elif check == "temperature":
            entry.temperature_c = sample.value
        elif check in ("xid", "xid_born"):
            try:
                xid = int(sample.labels.get("xid", ""))
            except ValueError:
                continue
            # Per series (label set): its increase plus its first sample if born in the window.
            series = tuple(
                sorted((k, v) for k, v in sample.labels.items() if k not in _NOT_SERIES_LABELS)
            )
            per_series = entry.xid_raw.setdefault(xid, {})
            per_series[series] = per_series.get(series, 0.0) + sample.value
        elif check == "ecc_volatile":
            entry.ecc_uncorrected_volatile = sample.value
        elif check == "ecc_lifetime":
            entry.ecc_uncorrected_lifetime = sample.value
        elif check == "remap_pending":
            entry.remap_pending = True
        elif check == "remap_failure":
            entry.remap_failure = True
        elif check == "throttle":
            entry.throttle_reasons.add(sample.labels.get("reason", ""))
    for entry in signals.values():
        # The same count under two label sets (a lost GPU's series lose their gpu label):
        # the largest, not the sum. increase() extrapolates a little; events are whole.
        counts = {x: round(max(series.values())) for x, series in entry.xid_raw.items()}
        entry.xid_counts = {x: n for x, n in sorted(counts.items()) if n > 0}
    return signals


def assess(
    signals: DeviceSignals | None,
    threshold_c: float,
    ever_reported: bool,
    xid_window_hours: float = 24,
) -> Verdict:
    findings: list[Finding] = []
    if signals is None or signals.up is None:
        if ever_reported:
            findings.append(
                Finding("NOT_REPORTED", CRITICAL, "The exporter no longer reports this GPU.")
            )
        else:
            findings.append(
                Finding("NO_METRICS", WARNING, "No exporter has reported this GPU yet.")
            )
        signals = signals or DeviceSignals()
    elif not signals.up:
        findings.append(
            Finding("GPU_LOST", CRITICAL, "NVML cannot read the GPU (gpu_up is 0): lost or hung.")
        )
    temperature = signals.temperature_c
    if temperature is not None:
        if temperature > threshold_c:
            findings.append(
                Finding(
                    "OVERHEATING",
                    CRITICAL,
                    f"Temperature {temperature:g} °C is above the model's threshold "
                    f"{threshold_c:g} °C.",
                    value=temperature,
                    threshold=threshold_c,
                )
            )
        elif temperature > threshold_c - TEMPERATURE_MARGIN_C:
            findings.append(
                Finding(
                    "TEMPERATURE_HIGH",
                    WARNING,
                    f"Temperature {temperature:g} °C is within {TEMPERATURE_MARGIN_C:g} °C of "
                    f"the threshold {threshold_c:g} °C.",
                    value=temperature,
                    threshold=threshold_c,
                )
            )
    for xid, count in sorted(signals.xid_counts.items()):
        if xid in q.CRITICAL_XIDS:
            code, severity = "XID_CRITICAL", CRITICAL
        elif xid in q.WARNING_XIDS:
            code, severity = "XID_WARNING", WARNING
        else:
            code, severity = "XID_OTHER", INFO
        findings.append(
            Finding(
                code,
                severity,
                f"XID {xid} reported {count} time(s) in the last {xid_window_hours:g} h.",
                xid=xid,
                count=count,
            )
        )
    if signals.ecc_uncorrected_volatile > 0:
        findings.append(
            Finding(
                "ECC_UNCORRECTABLE",
                CRITICAL,
                f"{signals.ecc_uncorrected_volatile:g} uncorrectable ECC error(s) since the "
                "driver loaded.",
                value=signals.ecc_uncorrected_volatile,
            )
        )
    elif signals.ecc_uncorrected_lifetime > 0:
        findings.append(
            Finding(
                "ECC_UNCORRECTABLE_LIFETIME",
                WARNING,
                f"{signals.ecc_uncorrected_lifetime:g} uncorrectable ECC error(s) over the GPU's "
                "life.",
                value=signals.ecc_uncorrected_lifetime,
            )
        )
    if signals.remap_failure:
        findings.append(
            Finding("ROW_REMAP_FAILURE", CRITICAL, "A memory row remap failed; service the GPU.")
        )
    if signals.remap_pending:
        findings.append(
            Finding("ROW_REMAP_PENDING", WARNING, "A memory row remap waits for a GPU reset.")
        )
    thermal = sorted(signals.throttle_reasons & set(q.THERMAL_REASONS))
    if thermal:
        findings.append(
            Finding(
                "THERMAL_THROTTLING",
                WARNING,
                "The driver holds clocks down for heat (" + ", ".join(thermal) + ").",
            )
        )
    if signals.throttle_reasons & set(q.POWER_BRAKE_REASONS):
        findings.append(Finding("POWER_BRAKE", WARNING, "The board's power brake is engaged."))
    worst = max((f.severity for f in findings), key=lambda s: _RANK[s], default=HEALTHY)
    status = worst if worst in (WARNING, CRITICAL) else HEALTHY
    return Verdict(status, findings)
