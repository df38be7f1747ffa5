"""PromQL builders for the GPU endpoints: pure functions from parameters to query strings.

Every label value that comes from outside (node names, uuids, namespaces) goes through
analytics.prom.promql's :func:`quote` (a PromQL string literal) or :func:`regex_alternatives` (an
escaped RE2 alternation), never through string formatting.

Aggregation happens in Prometheus: long windows read the hourly recording rules of the
``gpu-hourly`` group (one sample per device and hour), short ones the raw series, and several
results come back in one answer, each tagged with a ``stat`` label (:func:`tagged`).
"""

from __future__ import annotations

from collections.abc import Sequence

from analytics.prom import utilization as util
from analytics.prom.promql import quote, regex_alternatives, seconds, tagged

# Recording rules (alerts/recording-rules.yml, group gpu-hourly, evaluated every hour): each
# sample at time s summarises the raw series over (s - 1h, s], keeping node, gpu and uuid.
RULE_UTILIZATION_AVG = "uuid:gpu_utilization_ratio:avg1h"
RULE_MEMORY_USED_AVG = "uuid:gpu_memory_used_bytes:avg1h"
RULE_TEMPERATURE_AVG = "uuid:gpu_temperature_celsius:avg1h"
RULE_TEMPERATURE_MAX = "uuid:gpu_temperature_celsius:max1h"
RULE_POWER_AVG = "uuid:gpu_power_usage_watts:avg1h"
RULE_INTERVAL_SECONDS = 3600

# Windows shorter than this read the raw series (a partial hour is not in any rule sample).
RAW_WINDOW_LIMIT_HOURS = 2

# XIDs worth paging on, and the one worth a warning (NVIDIA's Xid catalogue,
# https://docs.nvidia.com/deploy/xid-errors/analyzing-xid-catalog.html; docs/alerts.md).
CRITICAL_XIDS = (48, 62, 64, 74, 79, 95, 119, 120)
WARNING_XIDS = (94,)
# Clock-event reasons that mean the GPU protects itself (not sw_power_cap: that is normal).
THERMAL_REASONS = ("hw_thermal_slowdown", "sw_thermal_slowdown", "hw_slowdown")
POWER_BRAKE_REASONS = ("hw_power_brake",)

STAT_LABEL = "stat"
CHECK_LABEL = "check"


# -- escaping and selectors ------------------------------------------------------------------


class DeviceScope:
    """Which devices a query covers: all, one node, some nodes, or some uuids."""

    def __init__(
        self,
        nodes: Sequence[str] | None = None,
        uuids: Sequence[str] | None = None,
    ) -> None:
        self.nodes = list(nodes) if nodes is not None else None
        self.uuids = list(uuids) if uuids is not None else None

    def select(self, metric: str, extra: str = "") -> str:
        """``metric{node=~"...",uuid=~"...",<extra>}``."""
        parts = []
        for name, values in (("node", self.nodes), ("uuid", self.uuids)):
            if values is None:
                continue
            if len(set(values)) == 1:
                parts.append(f"{name}={quote(values[0])}")
            else:
                # An empty list matches nothing: "a^" can never match.
                alternatives = regex_alternatives(values) if values else '"a^"'
                parts.append(f"{name}=~{alternatives}")
        if extra:
            parts.append(extra)
        return metric + ("{" + ",".join(parts) + "}" if parts else "")


ALL_DEVICES = DeviceScope()


# The labels that identify a device's series (analytics.services.gpu.metrics.Fleet.resolve).
DEVICE_LABELS = "uuid, node, gpu"


def device_rows(expr: str) -> str:
    """``expr`` with one row per device and only its identifying labels: at thousands of GPUs
    the exporter's other labels are most of an answer's bytes and of its decoding."""
    return f"max by ({DEVICE_LABELS}) ({expr})"


def at(expr: str, timestamp: float) -> str:
    """``expr @ timestamp``: evaluate a selector or range at a fixed time."""
    return f"{expr} @ {timestamp:.3f}"


# -- live values -----------------------------------------------------------------------------

LIVE_METRICS = ("gpu_temperature_celsius", "gpu_power_usage_watts", "gpu_utilization_ratio")


def live_device_parts(scope: DeviceScope = ALL_DEVICES) -> dict[str, str]:
    """Temperature, power and utilisation of every device, a query per metric (keyed by its
    name): one sample per device, with the device's labels only."""
    return {metric: device_rows(scope.select(metric)) for metric in LIVE_METRICS}


def hot_devices(floor_celsius: float, scope: DeviceScope = ALL_DEVICES) -> str:
    """Devices whose temperature is now above ``floor_celsius`` (the lowest model threshold;
    the per-model threshold is applied by the caller)."""
    return f"{scope.select('gpu_temperature_celsius')} > {floor_celsius:g}"


# The fleet aggregates of the gpu-devices group (alerts/gpu-recording.yml), re-evaluated with
# the other rules (every 15 s in the chart). Reading them costs a few series instead of one per
# GPU and metric (at 512 GPUs ~0.3 ms instead of ~9 ms of Prometheus' time).
FLEET_NOW_RULES = {
    "utilization": "cluster:gpu_utilization_ratio:avg",
    "memory_used": "cluster:gpu_memory_used_bytes:sum",
    "memory_total": "cluster:gpu_memory_total_bytes:sum",
    "temperature": "cluster:gpu_temperature_celsius:avg",
    "devices_up": "cluster:gpu_up:sum",
}
RECORDED_AT = "recorded_at"
FIRING_ALERT = "firing_alert"


def fleet_now(scope: DeviceScope = ALL_DEVICES) -> str:
    """Fleet-wide utilisation, memory and temperature now from the raw series, aggregated in
    Prometheus as the FLEET_NOW_RULES are (one value per device first: ``max by (node,
    uuid)``), for a Prometheus without the project's recording rules."""

    def per_device(metric: str) -> str:
        return f"max by (node, uuid) ({scope.select(metric)})"

    return tagged(
        {
            "utilization": f"avg({per_device('gpu_utilization_ratio')})",
            "memory_used": f"sum({per_device('gpu_memory_used_bytes')})",
            "memory_total": f"sum({per_device('gpu_memory_total_bytes')})",
            "temperature": f"avg({per_device('gpu_temperature_celsius')})",
            "devices_up": f"sum({per_device('gpu_up')})",
        },
        STAT_LABEL,
    )


def fleet_now_recorded() -> str:
    """The fleet aggregates as the rules last recorded them, the time of that evaluation
    (``stat="recorded_at"``: absent when the rules are not loaded) and the firing alerts
    (``stat="firing_alert"``, with their labels), in one query of a few series."""
    return tagged(
        {
            **FLEET_NOW_RULES,
            RECORDED_AT: f"timestamp({FLEET_NOW_RULES['devices_up']})",
            FIRING_ALERT: firing_alerts(),
        },
        STAT_LABEL,
    )


# -- health ----------------------------------------------------------------------------------


def xid_window_parts(window_seconds: float, scope: DeviceScope = ALL_DEVICES) -> dict[str, str]:
    """XIDs per device, code and series over the window, in two parts to add up.

    ``xid``: the counter's increase over the window (counter resets, e.g. an exporter
    restart, handled). ``xid_born``: a series born inside the window also counts its first
    sample, which already holds its first error and which ``increase`` takes as the baseline.
    When a GPU is lost the exporter renders its XID series without the ``gpu`` label, so one
    count can continue under a second label set: the caller takes, per device and code, the
    largest of its series' counts (analytics.services.gpu.health.collect_signals). Only XID
    series are read (one per device and code seen), so the cost does not grow with the fleet.
    """
    counter = scope.select("gpu_xid_errors_total")
    window = seconds(window_seconds)
    return {
        "xid": f"increase({counter}[{window}]) > 0",
        "xid_born": f"(min_over_time({counter}[{window}]) unless {counter} offset {window}) > 0",
    }


def device_health(scope: DeviceScope = ALL_DEVICES, xid_window_seconds: float = 86400) -> str:
    """Every health signal of the scope's devices in one query, tagged with ``check``.

    ``up`` and ``temperature`` come for every device (absent devices are found by their
    missing ``up``); the other checks return only devices with a finding. The two XID parts
    (:func:`xid_window_parts`) are added up by the caller.
    """
    reasons = f"reason=~{regex_alternatives(THERMAL_REASONS + POWER_BRAKE_REASONS)}"
    uncorrected = 'type="uncorrected"'
    ecc_volatile = scope.select("gpu_ecc_errors_total", uncorrected)
    ecc_lifetime = scope.select("gpu_ecc_errors_lifetime", uncorrected)
    return tagged(
        {
            "up": scope.select("gpu_up"),
            "temperature": scope.select("gpu_temperature_celsius"),
            **xid_window_parts(xid_window_seconds, scope),
            "ecc_volatile": f"{ecc_volatile} > 0",
            "ecc_lifetime": f"{ecc_lifetime} > 0",
            "remap_pending": f"{scope.select('gpu_row_remap_pending')} == 1",
            "remap_failure": f"{scope.select('gpu_row_remap_failure')} == 1",
            "throttle": f"{scope.select('gpu_clock_event_reason_active', reasons)} == 1",
        },
        label=CHECK_LABEL,
    )


def fleet_health(
    temperature_floor_c: float, scope: DeviceScope = ALL_DEVICES, xid_window_seconds: float = 86400
) -> tuple[str, str, str]:
    """The health signals of a whole fleet as findings only, in three queries to run side by
    side: (1) lost GPUs (``gpu_up == 0``), temperatures above the floor, ECC and row remapping,
    all from the last samples; (2) XIDs over the window; (3) throttling (many series to scan).
    Healthy GPUs answer nothing, so a large fleet costs a few samples, not one per GPU; absent
    GPUs are known from the inventory sync.

    The XID window is a query of its own: Prometheus opens the storage for the earliest time
    any selector of a query needs, so instant selectors sharing a query with a 24-hour range
    would each scan the older blocks too (at 512 GPUs: 20 ms as one query, 8 ms and 4 ms as
    two).
    """
    uncorrected = 'type="uncorrected"'
    findings = tagged(
        {
            "up": f"{scope.select('gpu_up')} == 0",
            "temperature": f"{scope.select('gpu_temperature_celsius')} > {temperature_floor_c:g}",
            "ecc_volatile": f"{scope.select('gpu_ecc_errors_total', uncorrected)} > 0",
            "ecc_lifetime": f"{scope.select('gpu_ecc_errors_lifetime', uncorrected)} > 0",
            "remap_pending": f"{scope.select('gpu_row_remap_pending')} == 1",
            "remap_failure": f"{scope.select('gpu_row_remap_failure')} == 1",
        },
        label=CHECK_LABEL,
    )
    xids = tagged(xid_window_parts(xid_window_seconds, scope), label=CHECK_LABEL)
    reasons = f"reason=~{regex_alternatives(THERMAL_REASONS + POWER_BRAKE_REASONS)}"
    throttle = tagged(
        {"throttle": f"{scope.select('gpu_clock_event_reason_active', reasons)} == 1"},
        label=CHECK_LABEL,
    )
    return findings, xids, throttle


def firing_alerts() -> str:
    """The firing alerts of the server's alerting rules, one series each with the alert's
    labels (``ALERTS``, written at each rule evaluation). Smaller than ``/api/v1/alerts``,
    which also returns every pending alert with its annotations (at 512 GPUs ~150 KB)."""
    return 'ALERTS{alertstate="firing"}'


# -- windows ---------------------------------------------------------------------------------


def latest_rule_evaluation(
    rule: str = RULE_UTILIZATION_AVG, lookback_seconds: int = 7800, fallback_seconds: int = 93600
) -> str:
    """The time of the newest hourly rule sample (unix seconds).

    A subquery every 5 minutes over the last ``lookback`` whose 5-minute lookback sees each
    rule sample once; cheap (a handful of steps over one series per device). When there is
    none that recent (Prometheus back from a long outage, or restarted on older data), the
    rule samples written on hour boundaries over the last ``fallback`` (26 h), seen by a
    subquery at whole hours: long windows then still read the rules, ending where they end,
    instead of a month of raw series.
    """
    recent = f"max(max_over_time(timestamp({rule})[{seconds(lookback_seconds)}:5m]))"
    older = f"max(max_over_time(timestamp({rule})[{seconds(fallback_seconds)}:1h]))"
    return f"{recent} or {older}"


def usage_statistics(
    window_hours: int,
    end: float,
    now: float,
    rules_end: float | None,
    scope: DeviceScope = ALL_DEVICES,
) -> str:
    """:func:`usage_statistics_parts` in one query tagged by ``stat``."""
    return tagged(usage_statistics_parts(window_hours, end, now, rules_end, scope), STAT_LABEL)


def usage_statistics_parts(
    window_hours: int,
    end: float,
    now: float,
    rules_end: float | None,
    scope: DeviceScope = ALL_DEVICES,
) -> dict[str, str]:
    """Per-device averages over the window, a query per statistic.

    ``rules_end`` (the newest hourly rule sample) selects the rule path: the averages of
    ``window_hours`` rule samples ending there, i.e. the raw data over
    (rules_end - window, rules_end]. Without it (short windows, or no rule samples yet) the
    raw series over (end - window, end], read at each whole minute. Memory total is the
    reading at ``now`` (it is fixed). ``sm_active``: whole GPUs' SM activity, where they report
    it (the caller prefers it to ``utilization``, device by device).
    """
    window = seconds(window_hours * 3600)
    if rules_end is not None:
        # Rule samples sit on hour boundaries and Prometheus 2.x ranges include both ends: one
        # second less keeps exactly ``window_hours`` samples (a 25th would weigh 4% of a day).
        window = seconds(window_hours * 3600 - 1)
        sources = {
            "utilization": scope.select(RULE_UTILIZATION_AVG),
            "sm_active": scope.select(util.RULE_SM_ACTIVE_AVG),
            "memory_used": scope.select(RULE_MEMORY_USED_AVG),
            "temperature": scope.select(RULE_TEMPERATURE_AVG),
        }
        evaluated_at = rules_end
    else:
        sources = {
            "utilization": scope.select("gpu_utilization_ratio"),
            "sm_active": scope.select(util.SM_ACTIVE_RATIO, util.WHOLE_GPU),
            "memory_used": scope.select("gpu_memory_used_bytes"),
            "temperature": scope.select("gpu_temperature_celsius"),
        }
        evaluated_at = end
    # Raw series go through a one-minute subquery: a time-weighted mean, whatever the scrape
    # interval (and however it changed inside the window).
    resolution = "" if rules_end is not None else ":1m"
    parts = {
        stat: device_rows(f"avg_over_time({at(f'{selector}[{window}{resolution}]', evaluated_at)})")
        for stat, selector in sources.items()
    }
    parts["memory_total"] = device_rows(at(scope.select("gpu_memory_total_bytes"), now))
    return parts


def hourly_temperature_above(floor_celsius: float, scope: DeviceScope = ALL_DEVICES) -> str:
    """For a range query at a 1 h step: the hourly maximum temperature where it exceeded the
    floor. A point at t stands for the one rule sample in (t - 1h, t], i.e. raw data in
    (t - 2h, t]: the window is a second short of an hour, since Prometheus 2.x ranges include
    both ends and would see a sample on the hour at t - 1h too (each hot hour twice)."""
    return f"max_over_time({scope.select(RULE_TEMPERATURE_MAX)}[3599s]) > {floor_celsius:g}"


def temperature_above(floor_celsius: float, scope: DeviceScope = ALL_DEVICES) -> str:
    """For a range query at the sample step: raw temperature readings above the floor."""
    return f"{scope.select('gpu_temperature_celsius')} > {floor_celsius:g}"


# -- inventory -------------------------------------------------------------------------------


def inventory(scope: DeviceScope = ALL_DEVICES) -> str:
    """Identity, liveness and MIG layout of every device the exporters report, in one query."""
    return tagged(
        {
            "info": scope.select("gpu_info"),
            "up": scope.select("gpu_up"),
            "mig": scope.select("gpu_mig_info"),
        },
        STAT_LABEL,
    )


def pod_allocations(namespace: str | None = None, scope: DeviceScope = ALL_DEVICES) -> str:
    """Which container holds which GPU or MIG instance, as the kubelet assigned it."""
    extra = f"namespace={quote(namespace)}" if namespace is not None else ""
    return scope.select("gpu_pod_allocation_info", extra)


def exporter_status(scope: DeviceScope = ALL_DEVICES) -> str:
    """Per exporter (node): build info with its target labels, expected and visible devices,
    and when its newest sample was taken."""
    return tagged(
        {
            "build": scope.select("gpu_exporter_build_info"),
            "expected": scope.select("gpu_exporter_devices_expected"),
            "visible": scope.select("gpu_exporter_devices_visible"),
            "sample_time": f"timestamp({scope.select('gpu_exporter_devices_visible')})",
        },
        STAT_LABEL,
    )


def node_usage(nodes: Sequence[str]) -> str:
    """CPU and memory in use and allocatable per node (cAdvisor and kube-state-metrics), and
    whether kube-state-metrics knows the node, in one query tagged by ``stat``."""
    scope = DeviceScope(nodes=nodes)
    containers = 'container!="",container!="POD"'
    cpu = scope.select("container_cpu_usage_seconds_total", containers)
    memory = scope.select("container_memory_working_set_bytes", containers)
    cpu_allocatable = scope.select("kube_node_status_allocatable", 'resource="cpu"')
    memory_allocatable = scope.select("kube_node_status_allocatable", 'resource="memory"')
    return tagged(
        {
            "cpu_cores": f"sum by (node) (rate({cpu}[5m]))",
            "memory_bytes": f"sum by (node) ({memory})",
            "cpu_allocatable": f"max by (node) ({cpu_allocatable})",
            "memory_allocatable": f"max by (node) ({memory_allocatable})",
            "known": f"max by (node) ({scope.select('kube_node_info')})",
        },
        STAT_LABEL,
    )


def mig_memory() -> str:
    """The MIG instances the exporters report (``instances``), their memory in use and in all,
    bytes (``memory_used``, ``memory_total``), and the mean SM activity of the instances that
    report one (``sm_active``, 0-1: absent where none does), fleet-wide, tagged by ``stat``."""
    return tagged(
        {
            "instances": "count(gpu_mig_info)",
            "memory_used": "sum(gpu_mig_memory_used_bytes)",
            "memory_total": "sum(gpu_mig_memory_total_bytes)",
            "sm_active": f"avg(max by (mig_uuid) ({util.mig_sm_active()}))",
        },
        STAT_LABEL,
    )
