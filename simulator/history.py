"""History of a simulated fleet as OpenMetrics, for ``promtool tsdb create-blocks-from openmetrics``.

The history is what Prometheus would have stored had it scraped the fleet's exporters and the
cluster server (:mod:`simulator.cluster`) all along, so that backfilled and live data join up:

* **Dense series**, one sample per step (default one minute): the exporter's ``gpu_up``,
  utilisation, busy seconds, memory used, temperature, power and energy, and cAdvisor's CPU
  and memory series. GPU values are :class:`exporter.snapshot.DeviceSample` records built from
  :mod:`simulator.state` at each step and rendered through the exporter collector's own field
  table; a test holds them equal to what ``exporter.nvml.NvmlReader`` reads from the fake NVML.
* **State series**, constant between hardware events: identity and join series (``gpu_info``,
  ``gpu_mig_info``, ``gpu_pod_allocation_info``, ``gpu_model_serving_info``), totals and limits,
  reserved memory, NVSwitch fabric state, ECC, row-remap and XID series, and every
  kube-state-metrics series. They are rendered by the
  exporter's real pipeline (NvmlReader on the fake NVML, the pod-resources gRPC client against
  the simulated kubelet, attribution, :func:`exporter.collector.render`) once per change of
  state, and written every ``state_interval`` seconds (default 300, Prometheus' lookback, so
  an instant query at any past time finds them) and at every change. The windows of scheduled
  pods (:meth:`simulator.fleet.PodSpec.pod_at`) are changes: a scheduled pod's allocation,
  memory and kube-state-metrics series have samples exactly inside its windows (an instant
  query still finds the last one for Prometheus' 5-minute lookback after a window closes: a
  backfill has no staleness markers, which a live scrape would write).
* **Recording rules** of the ``gpu-hourly`` group (:data:`RECORDING_RULES`, the same as
  ``alerts/recording-rules.yml``): one sample per hour boundary T, computed from the written
  raw samples exactly as Prometheus 2.x evaluates ``avg_over_time(x[1h])`` at T (samples with
  T-1h <= ts <= T).

Every series carries the ``job`` and ``instance`` labels the live scrape adds
(:class:`TargetLabels`; ``devstack.stack`` configures Prometheus with the same), so history and
live are one series each, not two.

Counters the driver keeps (energy, ECC) equal the live values at every t. Counters the exporter
process keeps (``gpu_busy_seconds_total``, ``gpu_xid_errors_total``) count from ``origin``, as
if an exporter had run since then; a live exporter started later counts from its own start,
which Prometheus sees as a counter reset (as after a pod restart) and ``rate()`` handles.

Usage::

    python -m simulator.history --fleet FILE --days 30 --step 60 --end UNIX --out FILE.om
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import shutil
import sys
import tempfile
import time
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Literal

from exporter.collector import _SIMPLE_FIELDS, _device_labels, render
from exporter.metrics import BY_NAME as EXPORTER_METRICS
from exporter.metrics import Kind
from exporter.snapshot import DeviceSample, PodInfo, Snapshot, XidCount
from simulator.clock import ManualClock
from simulator.cluster import (
    BY_NAME as CLUSTER_METRICS,
)
from simulator.cluster import (
    ClusterSeries,
    Labels,
    Sample,
    format_labels,
    format_value,
    pod_samples,
)
from simulator.fleet import FleetSpec, NodeSpec, SimulatorError, load_fleet
from simulator.node import SimulatedFleet, SimulatedNode
from simulator.state import (
    MINUTE_S,
    EnergyMeter,
    GpuContext,
    MinuteLoad,
    NodeState,
    event_xid,
    first_occurrence_at_or_after,
    is_lost,
    memory_used_bytes,
    minute_load,
    occurrence_time,
    occurrences_upto,
    overheat_celsius,
    power_watts,
    temperature_celsius,
)

HOUR_S = 3600
DAY_S = 86400
DEFAULT_STATE_INTERVAL_S = 300  # Prometheus' default lookback: instant queries always find one

# Exporter series written at every step, by catalogue name (besides gpu_up).
DENSE_GPU_METRICS: tuple[str, ...] = (
    "gpu_utilization_ratio",
    "gpu_busy_seconds_total",
    "gpu_temperature_celsius",
    "gpu_power_usage_watts",
    "gpu_energy_consumed_joules_total",
)
# Exporter series written at the state cadence, from snapshots rendered by the exporter itself.
STATE_GPU_METRICS: frozenset[str] = frozenset(
    {
        "gpu_info",
        # Memory in use is constant while a GPU is up (simulator.state): written like the
        # totals, it averages the same and costs a fifth of the samples.
        "gpu_memory_used_bytes",
        "gpu_memory_total_bytes",
        "gpu_power_limit_watts",
        "gpu_ecc_errors_total",
        "gpu_ecc_errors_lifetime",
        "gpu_remapped_rows",
        "gpu_row_remap_pending",
        "gpu_row_remap_failure",
        "gpu_xid_errors_total",
        "gpu_xid_last_seen_timestamp_seconds",
        "gpu_mig_info",
        "gpu_mig_memory_used_bytes",
        "gpu_mig_memory_total_bytes",
        "gpu_pod_allocation_info",
        "gpu_pod_memory_used_bytes",
        "gpu_model_serving_info",
        # dcgm-exporter default counters (issue 20) that are constant while the driver is
        # loaded; the rest (PCIe and NVLink traffic, violation times) are live only.
        "gpu_memory_reserved_bytes",
        "gpu_fabric_state",
    }
)
# Left out of the history (live only): clocks, P-state and clock-event reasons, memory-controller
# utilisation, per-pod SM utilisation, and the exporter's own health series.
_SIMPLE = dict(_SIMPLE_FIELDS)


@dataclass(frozen=True)
class RecordingRule:
    """One rule of the ``gpu-hourly`` group: ``<aggregation>_over_time(<metric>[1h])`` by device."""

    record: str
    metric: str
    aggregation: Literal["avg", "max"]

    @property
    def expr(self) -> str:
        labels = ", ".join(RULE_LABELS)
        return f"{self.aggregation} by ({labels}) ({self.aggregation}_over_time({self.metric}[1h]))"


RULE_GROUP = "gpu-hourly"
RULE_INTERVAL_S = HOUR_S
RULE_LABELS = ("node", "gpu", "uuid")
RECORDING_RULES: tuple[RecordingRule, ...] = (
    RecordingRule("uuid:gpu_utilization_ratio:avg1h", "gpu_utilization_ratio", "avg"),
    RecordingRule("uuid:gpu_memory_used_bytes:avg1h", "gpu_memory_used_bytes", "avg"),
    RecordingRule("uuid:gpu_temperature_celsius:avg1h", "gpu_temperature_celsius", "avg"),
    RecordingRule("uuid:gpu_temperature_celsius:max1h", "gpu_temperature_celsius", "max"),
    RecordingRule("uuid:gpu_power_usage_watts:avg1h", "gpu_power_usage_watts", "avg"),
)
# Prometheus 2.x range selectors include both ends: x[1h] at T holds samples T-1h <= ts <= T
# (3.x excludes T-1h). The Debian package this project runs is 2.42.
RULE_WINDOW_INCLUDES_START = True


@dataclass(frozen=True)
class TargetLabels:
    """The ``job``/``instance`` labels Prometheus adds on scrape; devstack's config sets these."""

    exporter_job: str = "gpu-exporter"
    ksm_job: str = "kube-state-metrics"
    cadvisor_job: str = "cadvisor"
    cluster_instance: str = "simulated-cluster"

    def exporter(self, node: str) -> Labels:
        """An exporter target is named after its node (``instance`` = node name)."""
        return (("job", self.exporter_job), ("instance", node))

    def ksm(self) -> Labels:
        return (("job", self.ksm_job), ("instance", self.cluster_instance))

    def cadvisor(self) -> Labels:
        return (("job", self.cadvisor_job), ("instance", self.cluster_instance))


DEFAULT_TARGETS = TargetLabels()


@dataclass(frozen=True)
class CounterState:
    """Where the exporter-process counters stand at ``time``, to continue a history from there."""

    time: int
    origin: int  # the (simulated) exporter start the counters count from
    busy_seconds: Mapping[str, float] = field(default_factory=dict)  # by GPU uuid


@dataclass(frozen=True)
class HistoryResult:
    start: int  # first sample time
    end: int  # last sample time
    step: int
    samples: int
    series: int
    counters: CounterState  # at ``end``, for a history that continues this one


def step_grid(start: float, end: float, step: int) -> range:
    """Sample times: multiples of ``step`` from ``start`` (rounded up) to ``end`` (down)."""
    first = math.ceil(start / step) * step
    last = math.floor(end / step) * step
    return range(first, last + 1, step)


# -- the OpenMetrics file ----------------------------------------------------------------------


class _FamilyFiles:
    """One temporary file per metric family, joined into one OpenMetrics file at the end.

    OpenMetrics wants a family's samples together; generating GPU by GPU interleaves families,
    so each family is streamed to its own file and the files are concatenated in order.
    """

    def __init__(self, directory: Path, families: frozenset[str] | None = None) -> None:
        self.directory = directory
        self.families = families  # None: every family; else only these are written
        self._files: dict[str, tuple[IO[str], str]] = {}
        self.samples = 0
        self.series = 0

    def write(self, family: str, header: str, text: str, samples: int, series: int = 1) -> None:
        if self.families is not None and family not in self.families:
            return
        entry = self._files.get(family)
        if entry is None:
            handle = (self.directory / f"{len(self._files):03d}.om").open(
                "w", encoding="utf-8", buffering=1 << 20
            )
            entry = (handle, header)
            self._files[family] = entry
        entry[0].write(text)
        self.samples += samples
        self.series += series

    def join(self, out: IO[str]) -> None:
        for handle, header in self._files.values():
            handle.close()
            out.write(header)
            with open(handle.name, encoding="utf-8") as part:
                shutil.copyfileobj(part, out, 1 << 20)
            Path(handle.name).unlink()
        out.write("# EOF\n")
        self._files.clear()

    def close(self) -> None:
        for handle, _header in self._files.values():
            handle.close()


def _header(family: str, kind: str, help_text: str) -> str:
    help_text = help_text.replace("\\", "\\\\").replace("\n", "\\n")
    return f"# TYPE {family} {kind}\n# HELP {family} {help_text}\n"


def _exporter_header(name: str) -> tuple[str, str]:
    metric = EXPORTER_METRICS[name]
    kind = "counter" if metric.kind is Kind.COUNTER else "gauge"
    return metric.family_name, _header(metric.family_name, kind, metric.help)


def _cluster_header(name: str) -> tuple[str, str]:
    metric = CLUSTER_METRICS[name]
    return metric.family_name, _header(metric.family_name, metric.kind, metric.help)


def _series_text(prefix: str, points: Iterable[tuple[int, str]]) -> str:
    return "".join(f"{prefix}{value} {ts}\n" for ts, value in points)


# -- the exporter's view of one node, replayed at chosen times ---------------------------------


class _StaticPods:
    """The exporter's Kubernetes stage input: the simulated API's pods through ``pod_info``,
    as the API lists them at the replay clock's time."""

    def __init__(self, node: SimulatedNode) -> None:
        self._node = node

    def list_pods(self) -> list[PodInfo]:
        from exporter.kube import pod_info

        return [pod_info(p) for p in self._node.pod_list()["items"]]


class _Xids:
    """The XID counts the snapshot should carry (a live exporter's XidWatcher counts them)."""

    def __init__(self) -> None:
        self.current: tuple[XidCount, ...] = ()

    def counts(self) -> tuple[XidCount, ...]:
        return self.current


class ExporterReplay(contextlib.ExitStack):
    """The exporter's own sampling pipeline for one node, on a manual clock.

    Real parts throughout: ``NvmlReader`` on the node's fake NVML, ``PodResourcesClient`` over
    gRPC to the simulated kubelet on a temporary socket, pods through ``exporter.kube.pod_info``,
    the per-process stage reading simulated ``/proc``, and ``Sampler``'s attribution. Only the
    XID counts are supplied (the live watcher counts events as they happen).
    """

    def __init__(self, fleet: FleetSpec, node_name: str, start: float) -> None:
        super().__init__()
        from exporter.nvml import NvmlReader
        from exporter.podresources.client import PodResourcesClient
        from exporter.sampler import Sampler
        from simulator.kubelet import PodResourcesServer

        self.clock = ManualClock(start)
        self.node: SimulatedNode = SimulatedFleet(fleet, self.clock).node(node_name)
        workdir = Path(self.enter_context(tempfile.TemporaryDirectory(prefix="gpuhist-")))
        lib = self.node.nvml
        lib.nvmlInit()
        self.callback(lib.nvmlShutdown)
        kubelet = PodResourcesServer(
            str(workdir / "kubelet.sock"),
            self.node.pod_resources_response,
            self.node.allocatable_resources_response,
            max_workers=1,
        )
        self.enter_context(kubelet)
        client = PodResourcesClient(kubelet.socket_path)
        self.callback(client.close)
        self.proc_root = workdir / "proc"
        self.node.write_proc(self.proc_root, start)
        self.reader = NvmlReader(lib, clock=self.clock.now)
        self.xids = _Xids()
        self.sampler = Sampler(
            node_name,
            self.reader,
            pod_devices=client,
            pods=_StaticPods(self.node),
            xids=self.xids,
            proc_root=self.proc_root,
            clock=self.clock.now,
        )
        self._pods_read: tuple[str, ...] | None = None  # uids of the pods last read

    def snapshot(self, t: float, xids: tuple[XidCount, ...] = ()) -> Snapshot:
        """What the exporter publishes after sampling at ``t``."""
        self.clock.set(t)
        self.xids.current = xids
        present = tuple(p.uid for p in self.node.spec.pods_at(t))
        if present != self._pods_read:
            # Pods came or went (a schedule's window): the kubelet, the API and /proc changed.
            self.node.write_proc(self.proc_root, t)
        self.sampler.run_nvml_stage()
        self.sampler.run_processes_stage()
        if present != self._pods_read:
            self.sampler.run_pod_resources_stage()
            self.sampler.run_kubernetes_stage()
            self._pods_read = present
        snapshot = self.sampler.snapshot()
        assert snapshot is not None
        return snapshot


def state_samples(snapshot: Snapshot) -> list[tuple[str, Labels, float]]:
    """The state series of a snapshot, as the collector renders them."""
    found: list[tuple[str, Labels, float]] = []
    for family in render(snapshot):
        for sample in family.samples:
            if sample.name in STATE_GPU_METRICS:
                found.append((sample.name, tuple(sample.labels.items()), float(sample.value)))
    return found


def xid_counts(node: NodeState, origin: float, t: float) -> tuple[XidCount, ...]:
    """XIDs per (GPU, code) raised after ``origin`` up to ``t``, as an XidWatcher started at
    ``origin`` would count them (events at its start are history, not news)."""
    counts: dict[tuple[str, int], tuple[int, float]] = {}
    for ctx in node.contexts:
        for event in ctx.events:
            xid = event_xid(event)
            if xid is None:
                continue
            n = occurrences_upto(event, ctx.epoch, t) - occurrences_upto(event, ctx.epoch, origin)
            if n <= 0:
                continue
            last = occurrence_time(event, ctx.epoch, occurrences_upto(event, ctx.epoch, t) - 1)
            key = (ctx.gpu.uuid, xid)
            count, seen = counts.get(key, (0, 0.0))
            counts[key] = (count + n, max(seen, last))
    return tuple(
        XidCount(gpu_uuid=uuid, xid=xid, count=count, last_seen_timestamp_seconds=seen)
        for (uuid, xid), (count, seen) in sorted(counts.items())
    )


def change_times(node: NodeState, start: float, end: float) -> list[float]:
    """Times in (start, end] at which a state series of the node may change: XIDs, ECC
    errors, row-remap windows opening and closing, GPUs falling off the bus and back, and
    scheduled pods coming and going."""
    found: set[float] = set(node.node.presence_changes(start, end))
    for ctx in node.contexts:
        for event in ctx.events:
            if event.kind == "overheat":
                continue  # temperature and clock reasons only: dense or live-only series
            offsets = [0.0]
            if event.kind in ("row_remap_pending", "gpu_lost"):
                offsets.append(event.duration_seconds)
            for offset in offsets:
                k = first_occurrence_at_or_after(event, ctx.epoch, start - offset)
                while k is not None and (event.times is None or k < event.times):
                    at = occurrence_time(event, ctx.epoch, k) + offset
                    if at > end:
                        break
                    if at > start:
                        found.add(at)
                    if event.every_seconds is None:
                        break
                    k += 1
    return sorted(found)


# -- dense GPU series --------------------------------------------------------------------------


class _Loads:
    """Minute loads of one GPU, computed once per minute as the grid walks forward."""

    def __init__(self, ctx: GpuContext) -> None:
        self.ctx = ctx
        self._minute: int | None = None
        self._load: MinuteLoad | None = None

    def at(self, minute: int) -> MinuteLoad:
        if minute != self._minute or self._load is None:
            self._load = minute_load(self.ctx, minute)
            self._minute = minute
        return self._load


def dense_device_sample(
    ctx: GpuContext,
    reference: DeviceSample,
    t: int,
    load: MinuteLoad,
    energy: EnergyMeter,
    busy_seconds: float | None,
    memory_used: int | None = None,
) -> DeviceSample:
    """The exporter's reading of the dense fields at ``t``: what NvmlReader makes of the fake
    NVML's answers (percent utilisation, milliwatts, millijoules), built from simulator.state.

    ``load`` is :func:`simulator.state.minute_load` of t's minute. ``reference`` is a real
    NvmlReader sample of this GPU: fields it lacks (utilisation of a MIG parent, busy seconds
    without NVML samples) stay absent here too.
    """
    power = power_watts(ctx.gpu, load.utilization)
    utilization = (
        round(load.utilization * 100) / 100.0 if reference.utilization_ratio is not None else None
    )
    return DeviceSample(
        identity=reference.identity,
        up=True,
        utilization_ratio=utilization,
        busy_seconds_total=busy_seconds if reference.busy_seconds_total is not None else None,
        memory_used_bytes=memory_used if memory_used is not None else memory_used_bytes(ctx, t),
        temperature_celsius=float(
            temperature_celsius(ctx, math.floor(t / MINUTE_S), power, overheat_celsius(ctx, t))
        ),
        power_watts=round(power * 1000) / 1000.0,
        energy_joules_total=energy.millijoules(t) / 1000.0,
    )


def busy_increment(ctx: GpuContext, begin: int, end: int, loads: _Loads | None = None) -> float:
    """Busy seconds the exporter integrates over [begin, end): per minute, NVML's percent
    samples (constant within the minute) times the seconds; none while the GPU is lost."""
    loads = loads or _Loads(ctx)
    total = 0.0
    t = begin
    while t < end:
        minute = math.floor(t / MINUTE_S)
        minute_end = min(end, (minute + 1) * MINUTE_S)
        if not is_lost(ctx, t):
            total += round(loads.at(minute).utilization * 100) / 100.0 * (minute_end - t)
        t = minute_end
    return total


def hourly_aggregate(
    raw: Sequence[tuple[int, float]],
    aggregation: Literal["avg", "max"],
    window_start: int,
    window_end: int,
) -> list[tuple[int, float]]:
    """``<aggregation>_over_time(x[1h])`` at every hour boundary T of a history written for
    ``window_start..window_end`` that has a whole hour of it before T, over the samples
    Prometheus 2.x selects (T-1h <= ts <= T); hours without a sample give nothing."""
    results: list[tuple[int, float]] = []
    times = [t for t, _v in raw]
    first = math.ceil((window_start + HOUR_S) / HOUR_S) * HOUR_S
    for hour_end in range(first, window_end + 1, HOUR_S):
        low = hour_end - HOUR_S
        lo = bisect_left(times, low) if RULE_WINDOW_INCLUDES_START else bisect_right(times, low)
        hi = bisect_right(times, hour_end)
        if lo >= hi:
            continue
        window = [v for _t, v in raw[lo:hi]]
        value = max(window) if aggregation == "max" else _incremental_mean(window)
        results.append((hour_end, value))
    return results


def _incremental_mean(values: Sequence[float]) -> float:
    # Prometheus 2.x computes avg_over_time as an incremental mean, not sum/count (they differ
    # in the last bits); the same arithmetic here keeps backfilled and evaluated rules equal.
    mean = 0.0
    count = 0.0
    for value in values:
        count += 1
        mean += value / count - mean / count
    return mean


# -- the writer --------------------------------------------------------------------------------

KSM_PART = "cluster/kube-state-metrics"
CADVISOR_PART = "cluster/cadvisor"
NODE_PART_PREFIX = "node/"


def history_parts(fleet: FleetSpec) -> list[str]:
    """Independent parts of a fleet's history (``node/<name>`` for each node's exporter, and
    the two cluster sources), which can be written and backfilled in parallel: no series is in
    two parts."""
    return [*(NODE_PART_PREFIX + node.name for node in fleet.nodes), KSM_PART, CADVISOR_PART]


def _write_constant(
    files: _FamilyFiles, sample: Sample, target: Labels, times: Sequence[int]
) -> None:
    """One cluster series holding ``sample``'s value at each of ``times``."""
    family, header = _cluster_header(sample.name)
    prefix = (
        f"{sample.name}{{{format_labels(sample.labels + target)}}} {format_value(sample.value)} "
    )
    files.write(family, header, "".join(f"{prefix}{t}\n" for t in times), len(times))


class HistoryWriter:
    """Writes one window of history for a fleet; see the module docstring."""

    def __init__(
        self,
        fleet: FleetSpec,
        *,
        start: float,
        end: float,
        step: int = 60,
        state_interval: int = DEFAULT_STATE_INTERVAL_S,
        continue_from: CounterState | None = None,
        targets: TargetLabels = TargetLabels(),
        recorded_only: bool = False,
    ) -> None:
        if step <= 0 or HOUR_S % step:
            raise SimulatorError(f"step must divide an hour (60, 120, 300, ...), got {step}")
        if state_interval <= 0:
            raise SimulatorError(f"state_interval must be positive, got {state_interval}")
        self.fleet = fleet
        self.step = step
        self.state_interval = state_interval
        self.targets = targets
        # Only the gpu-hourly records (raw series computed, not written): the older days of a
        # history as a downsampled long-term store keeps them (bench/scale.py's query plane).
        self.recorded_only = recorded_only
        if continue_from is not None:
            start = max(start, continue_from.time + step)
            self.origin = continue_from.origin
            self._busy_before = dict(continue_from.busy_seconds)
            self._busy_from: int | None = continue_from.time
        else:
            self.origin = math.ceil(start / step) * step
            self._busy_before = {}
            self._busy_from = None
        self.grid = step_grid(start, end, step)
        if not self.grid:
            raise SimulatorError(f"no sample time between {start} and {end} at step {step}")

    def state_times(self) -> list[int]:
        """Grid times at which state series are written (besides the times they change)."""
        times: list[int] = []
        previous: int | None = None
        for t in self.grid:
            if previous is None or t // self.state_interval != previous // self.state_interval:
                times.append(t)
            previous = t
        return times

    def write(
        self, out: IO[str], workdir: Path, parts: Iterable[str] | None = None
    ) -> HistoryResult:
        """Write ``parts`` (default: all of :func:`history_parts`) to ``out``."""
        wanted = list(parts) if parts is not None else history_parts(self.fleet)
        unknown = sorted(set(wanted) - set(history_parts(self.fleet)))
        if unknown:
            raise SimulatorError(f"unknown history part(s): {', '.join(unknown)}")
        files = _FamilyFiles(
            workdir, frozenset(r.record for r in RECORDING_RULES) if self.recorded_only else None
        )
        busy_end: dict[str, float] = {}
        try:
            cluster: ClusterSeries | None = None
            for part in wanted:
                if part in (KSM_PART, CADVISOR_PART):
                    if self.recorded_only:  # no gpu-hourly record comes from them
                        continue
                    cluster = cluster or ClusterSeries(self.fleet)
                    self._write_cluster(files, cluster, part)
                else:
                    node = self.fleet.node(part.removeprefix(NODE_PART_PREFIX))
                    busy_end.update(self._write_node(files, node))
            files.join(out)
        finally:
            files.close()
        return HistoryResult(
            start=self.grid[0],
            end=self.grid[-1],
            step=self.step,
            samples=files.samples,
            series=files.series,
            counters=CounterState(time=self.grid[-1], origin=self.origin, busy_seconds=busy_end),
        )

    # -- one node ------------------------------------------------------------------------------

    def _write_node(self, files: _FamilyFiles, node: NodeSpec) -> dict[str, float]:
        target = self.targets.exporter(node.name)
        # Raw samples the recording rules read, by (metric, device labels).
        rule_inputs: dict[tuple[str, Labels], list[tuple[int, float]]] = {}
        with ExporterReplay(self.fleet, node.name, self.grid[0]) as replay:
            state = replay.node.state
            references = self._reference_samples(replay, state)
            self._write_state(files, replay, state, target, rule_inputs)
        busy_end: dict[str, float] = {}
        for index, ctx in enumerate(state.contexts):
            busy = self._write_device(
                files, node.name, ctx, state, references.get(index), target, rule_inputs
            )
            if busy is not None:
                busy_end[ctx.gpu.uuid] = busy
        self._write_rules(files, rule_inputs)
        return busy_end

    def _reference_samples(
        self, replay: ExporterReplay, state: NodeState
    ) -> dict[int, DeviceSample]:
        """A real NvmlReader sample of each GPU at a time it is up (its field set and identity)."""
        found: dict[int, DeviceSample] = {}
        wanted = set(range(len(state.contexts)))
        for t in self.grid:
            up = {i for i in wanted if not is_lost(state.contexts[i], t)}
            if not up:
                continue
            replay.clock.set(t)
            for sample in replay.reader.read_devices():
                if sample.up and sample.identity.index in up:
                    found[sample.identity.index] = sample
            wanted -= set(found)
            if not wanted:
                break
        return found

    def _write_state(
        self,
        files: _FamilyFiles,
        replay: ExporterReplay,
        state: NodeState,
        target: Labels,
        rule_inputs: dict[tuple[str, Labels], list[tuple[int, float]]],
    ) -> None:
        first, last = self.grid[0], self.grid[-1]
        changes = [float(first), *change_times(state, first, last)]
        write_times = set(self.state_times())
        for c in changes:
            at = math.ceil(c / self.step) * self.step
            if at <= last:
                write_times.add(at)
        rendered = [
            state_samples(replay.snapshot(c, xid_counts(state, self.origin, c))) for c in changes
        ]
        wanted_rules = {r.metric for r in RECORDING_RULES}
        points: dict[tuple[str, Labels], list[tuple[int, float]]] = {}
        for t in sorted(write_times):
            for name, labels, value in rendered[bisect_right(changes, t) - 1]:
                points.setdefault((name, labels), []).append((t, value))
        for (name, labels), series_points in points.items():
            family, header = _exporter_header(name)
            prefix = f"{name}{{{format_labels(labels + target)}}} "
            text = _series_text(prefix, ((t, format_value(v)) for t, v in series_points))
            files.write(family, header, text, len(series_points))
            if name in wanted_rules:
                rule_inputs[(name, labels[: len(RULE_LABELS)])] = series_points

    # -- one GPU's dense series ----------------------------------------------------------------

    def _write_device(
        self,
        files: _FamilyFiles,
        node: str,
        ctx: GpuContext,
        state: NodeState,
        reference: DeviceSample | None,
        target: Labels,
        rule_inputs: dict[tuple[str, Labels], list[tuple[int, float]]],
    ) -> float | None:
        """Write the GPU's dense series; returns its busy-seconds counter at the last step."""
        # A GPU never seen up has no identity: the exporter labels it with an empty uuid.
        device = (
            _device_labels(node, reference)
            if reference is not None
            else (node, str(ctx.gpu.index), "")
        )
        labels: Labels = tuple(zip(EXPORTER_METRICS["gpu_up"].labels, device, strict=True))
        series_labels = format_labels(labels + target)
        up_points: list[tuple[int, str]] = []
        dense: dict[str, list[tuple[int, float]]] = {name: [] for name in DENSE_GPU_METRICS}
        energy = state.energy_meter(ctx.gpu.index)
        loads = _Loads(ctx)
        busy = self._busy_before.get(ctx.gpu.uuid, 0.0)
        counts_busy = reference is not None and reference.busy_seconds_total is not None
        previous = self._busy_from
        fields = [(name, _SIMPLE[name]) for name in DENSE_GPU_METRICS]
        for t in self.grid:
            if previous is not None and counts_busy:
                busy += busy_increment(ctx, previous, t, loads)
            previous = t
            if reference is None or is_lost(ctx, t):
                up_points.append((t, "0"))
                continue
            up_points.append((t, "1"))
            load = loads.at(math.floor(t / MINUTE_S))
            sample = dense_device_sample(
                ctx, reference, t, load, energy, busy, memory_used_bytes(ctx, t)
            )
            for name, attribute in fields:
                value = getattr(sample, attribute)
                if value is not None:
                    dense[name].append((t, float(value)))
        family, header = _exporter_header("gpu_up")
        files.write(
            family, header, _series_text(f"gpu_up{{{series_labels}}} ", up_points), len(up_points)
        )
        wanted_rules = {r.metric for r in RECORDING_RULES}
        for name, points in dense.items():
            if not points:
                continue
            family, header = _exporter_header(name)
            text = _series_text(
                f"{name}{{{series_labels}}} ", ((t, format_value(v)) for t, v in points)
            )
            files.write(family, header, text, len(points))
            if name in wanted_rules:
                rule_inputs[(name, labels)] = points
        return busy if counts_busy else None

    def _write_rules(
        self,
        files: _FamilyFiles,
        rule_inputs: Mapping[tuple[str, Labels], Sequence[tuple[int, float]]],
    ) -> None:
        for rule in RECORDING_RULES:
            header = _header(
                rule.record,
                "gauge",
                f"Recording rule of group {RULE_GROUP}: {rule.expr} (alerts/recording-rules.yml).",
            )
            for (metric, labels), raw in rule_inputs.items():
                if metric != rule.metric:
                    continue
                points = hourly_aggregate(raw, rule.aggregation, self.grid[0], self.grid[-1])
                if not points:
                    continue
                text = _series_text(
                    f"{rule.record}{{{format_labels(labels)}}} ",
                    ((t, format_value(v)) for t, v in points),
                )
                files.write(rule.record, header, text, len(points))

    # -- the cluster side ----------------------------------------------------------------------

    def _write_cluster(self, files: _FamilyFiles, series: ClusterSeries, part: str) -> None:
        state_times = self.state_times()
        if part == KSM_PART:
            constant, target = series.ksm, self.targets.ksm()
        else:
            constant, target = series.machine, self.targets.cadvisor()
        for sample in constant:
            _write_constant(files, sample, target, state_times)
        # Scheduled pods: one pod per window, with samples only inside it (from its start).
        occurrences = [
            (node, base, base.occurrence(window), self._window_grid(window, state_times))
            for node, base in series.scheduled
            for window in (
                base.schedule.windows(self.grid[0], self.grid[-1] + 1) if base.schedule else ()
            )
        ]
        if part == KSM_PART:
            for node, _base, pod, times in occurrences:
                for sample in pod_samples(node, pod):
                    _write_constant(files, sample, target, times)
            return
        usages = [(usage, list(self.grid)) for usage in series.usages]
        for node, base, pod, _times in occurrences:
            window = pod.window or (0.0, 0.0)
            inside = [t for t in self.grid if window[0] <= t < window[1]]
            usages.extend((usage, inside) for usage in series.occurrence_usages(node, base, pod))
        for usage, grid in usages:
            if not grid:
                continue
            labels = format_labels(usage.labels + target)
            for name, value_at in (
                ("container_cpu_usage_seconds_total", usage.cpu_seconds),
                ("container_memory_working_set_bytes", usage.memory_working_set),
            ):
                family, header = _cluster_header(name)
                text = "".join(
                    f"{name}{{{labels}}} {format_value(float(value_at(t)))} {t}\n" for t in grid
                )
                files.write(family, header, text, len(grid))

    def _window_grid(self, window: tuple[float, float], state_times: Sequence[int]) -> list[int]:
        """State-series write times inside ``window``: its first grid time, then the state
        cadence, as for any state series that changes at the window's start."""
        first = math.ceil(max(window[0], self.grid[0]) / self.step) * self.step
        times = {first} if first < window[1] and first <= self.grid[-1] else set()
        times.update(t for t in state_times if window[0] <= t < window[1])
        return sorted(times)


def write_history(
    fleet: FleetSpec | str | Path,
    out: Path,
    *,
    start: float,
    end: float,
    step: int = 60,
    state_interval: int = DEFAULT_STATE_INTERVAL_S,
    continue_from: CounterState | None = None,
    targets: TargetLabels = DEFAULT_TARGETS,
    parts: Iterable[str] | None = None,
    recorded_only: bool = False,
) -> HistoryResult:
    """Write the fleet's history for ``start..end`` (unix seconds) to ``out`` (OpenMetrics).

    Streams: memory holds one GPU's series at a time, never the whole file. ``parts`` picks
    nodes and cluster sources (:func:`history_parts`) so parts can be written in parallel.
    ``recorded_only`` writes the ``gpu-hourly`` records alone (see :class:`HistoryWriter`).
    """
    spec = fleet if isinstance(fleet, FleetSpec) else load_fleet(fleet)
    writer = HistoryWriter(
        spec,
        start=start,
        end=end,
        step=step,
        state_interval=state_interval,
        continue_from=continue_from,
        targets=targets,
        recorded_only=recorded_only,
    )
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory(prefix="gpuhist-", dir=out.parent) as workdir,
        out.open("w", encoding="utf-8", buffering=1 << 20) as handle,
    ):
        return writer.write(handle, Path(workdir), parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m simulator.history",
        description="Write a simulated fleet's history as OpenMetrics for "
        "`promtool tsdb create-blocks-from openmetrics`.",
    )
    parser.add_argument("--fleet", required=True, type=Path, help="fleet YAML")
    parser.add_argument("--days", type=float, default=30.0, help="days of history (default 30)")
    parser.add_argument("--end", type=float, default=None, help="last sample time (unix; now)")
    parser.add_argument("--start", type=float, default=None, help="first sample (end - days)")
    parser.add_argument("--step", type=int, default=60, help="seconds between samples (60)")
    parser.add_argument(
        "--state-interval",
        type=int,
        default=DEFAULT_STATE_INTERVAL_S,
        help="seconds between samples of series that rarely change (300)",
    )
    parser.add_argument(
        "--part",
        action="append",
        help="only this part (node/<name>, cluster/kube-state-metrics, cluster/cadvisor); "
        "repeat for several",
    )
    parser.add_argument("--out", required=True, type=Path, help="OpenMetrics file to write")
    parser.add_argument(
        "--counters-out",
        type=Path,
        help="write where the exporter-process counters end (JSON) to continue from there",
    )
    args = parser.parse_args(argv)
    end = args.end if args.end is not None else time.time()
    start = args.start if args.start is not None else end - args.days * DAY_S
    started = time.monotonic()
    try:
        result = write_history(
            args.fleet,
            args.out,
            start=start,
            end=end,
            step=args.step,
            state_interval=args.state_interval,
            parts=args.part,
        )
    except SimulatorError as exc:
        print(f"simulator.history: error: {exc}", file=sys.stderr)
        return 1
    if args.counters_out is not None:
        args.counters_out.write_text(json.dumps(counters_to_json(result.counters)))
    print(
        f"simulator.history: {result.samples} samples of {result.series} series, "
        f"{result.start}..{result.end} every {result.step}s -> {args.out} "
        f"in {time.monotonic() - started:.1f}s",
        file=sys.stderr,
    )
    return 0


def counters_to_json(counters: CounterState) -> dict[str, object]:
    return {
        "time": counters.time,
        "origin": counters.origin,
        "busy_seconds": dict(counters.busy_seconds),
    }


def counters_from_json(data: Mapping[str, object]) -> CounterState:
    busy = data.get("busy_seconds")
    if not isinstance(busy, Mapping):
        raise SimulatorError("counter state: busy_seconds must be a mapping")
    return CounterState(
        time=int(str(data["time"])),
        origin=int(str(data["origin"])),
        busy_seconds={str(k): float(v) for k, v in busy.items()},
    )


if __name__ == "__main__":
    sys.exit(main())
