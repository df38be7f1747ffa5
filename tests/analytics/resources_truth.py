"""Ground truth of the /resources endpoints, computed from the fleet model alone.

Reads the fleet description and the simulator's pure functions (simulator.state for GPUs,
simulator.cluster for container CPU and memory), never Prometheus or the analytics service,
and applies the definitions of docs/analytics.md ("/resources") on its own.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from devstack.prometheus import query
from simulator.clock import SystemClock
from simulator.cluster import ClusterSeries, ContainerUsage, container_usages
from simulator.fleet import FleetSpec, NodeSpec, PodSpec, load_fleet
from simulator.node import SimulatedFleet, advertised_devices
from simulator.state import MINUTE_S

GIB = 1024**3
RATE_WINDOW_S = 300
SERVING_LABEL = "app.kubernetes.io/name"
MODEL_OPTIONS = ("--model", "--model-path")

# rate(x[window]) at ``at`` over the samples (times, values) a metrics backend read for it.
RateFormula = Callable[[Sequence[float], Sequence[float], float, float], float]


def prometheus_rate(
    times: Sequence[float], values: Sequence[float], at: float, window: float = RATE_WINDOW_S
) -> float:
    """``rate(x[window])`` at ``at`` over samples (times, values), as Prometheus 2.x computes it
    (promql.extrapolatedRate): the increase between the first and last sample, extrapolated
    towards the window's ends by at most half a sample interval unless a sample lies near."""
    sampled = times[-1] - times[0]
    increase = values[-1] - values[0]
    average = sampled / (len(times) - 1)
    to_start, to_end = times[0] - (at - window), at - times[-1]
    if increase > 0 and values[0] >= 0:
        to_start = min(to_start, sampled * values[0] / increase)
    threshold = average * 1.1
    extent = sampled
    extent += to_start if to_start < threshold else average / 2
    extent += to_end if to_end < threshold else average / 2
    return increase * extent / sampled / window


def metricsql_rate(
    times: Sequence[float], values: Sequence[float], at: float, window: float = RATE_WINDOW_S
) -> float:
    """``rate(x[window])`` as VictoriaMetrics computes it (MetricsQL, rollupDerivFast): the
    increase from the first sample it reads to the last over their distance, without
    extrapolation. That first sample is the one before the window when VictoriaMetrics takes
    it (:func:`rate_sample_times` puts it first), else the first inside."""
    if len(times) < 2:
        return 0.0
    return (values[-1] - values[0]) / (times[-1] - times[0])


RATE_FORMULAS: dict[str, RateFormula] = {
    "prometheus": prometheus_rate,
    "victoriametrics": metricsql_rate,
}
ContainerKey = tuple[str, str, str]  # namespace, pod, container


@dataclass(frozen=True)
class SampleTimes:
    """When a metrics backend stored each container's CPU counter for a rate at one moment,
    and how its rate() reads those samples. Only the times: the values come from the model."""

    rate: RateFormula
    times: Mapping[ContainerKey, list[float]] = field(default_factory=dict)


def rate_sample_times(
    url: str, selector: str, at: float, backend: str, window: int = RATE_WINDOW_S
) -> list[tuple[dict[str, str], list[float]]]:
    """For each series of ``selector``: its labels and the times of the samples that
    ``rate(selector[window])`` at ``at`` reads on ``backend`` (Prometheus or VictoriaMetrics at
    ``url``), oldest first. Only the times: the truth takes the values from the model.

    Prometheus reads the samples inside the window. VictoriaMetrics starts from the sample
    before the window when it lies within its estimate of the scrape interval (made from the
    first samples it reads), else from the first inside. Where one-a-minute backfilled history
    meets live scrapes every 2 s, that estimate is a minute, two seconds or anything between;
    rather than re-implement it, ask VictoriaMetrics where its rate starts: ``lifetime()``
    measures from the same sample (``tests/integration/test_victoriametrics.py`` holds the
    two together), so ``tlast_over_time - lifetime`` is that sample's time."""
    span = f"{selector}[{window}s]"
    found = [
        (dict(series["metric"]), [float(ts) for ts, _v in series["values"]])
        for series in query(url, span, at=at)["result"]
    ]
    if backend == "victoriametrics":
        starts = query(url, f"tlast_over_time({span}) - lifetime({span})", at=at)["result"]
        start_of = {_labels_key(s["metric"]): float(s["value"][1]) for s in starts}
        for labels, times in found:
            start = start_of.get(_labels_key(labels))
            if start is not None and times and start < times[0] - 0.0005:
                times.insert(0, round(start, 3))
    return found


def cpu_sample_times(url: str, at: float, backend: str = "prometheus") -> SampleTimes:
    """When ``backend`` sampled each container's CPU counter for the service's 5-minute rates
    at ``at`` (:func:`rate_sample_times`), and its rate() formula. Backfilled history has one
    sample a minute and live scrapes one every few seconds, so a window across the junction is
    sampled unevenly; there Prometheus' extrapolation comes out up to a fifth lower than
    VictoriaMetrics' rate from the sample before the window."""
    found = rate_sample_times(
        url, 'container_cpu_usage_seconds_total{container!="",container!="POD"}', at, backend
    )
    return SampleTimes(
        RATE_FORMULAS[backend],
        {(m["namespace"], m["pod"], m["container"]): times for m, times in found},
    )


def _labels_key(labels: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """A series' labels without its metric name (range selectors keep it, functions drop it)."""
    return tuple(sorted((k, v) for k, v in labels.items() if k != "__name__"))


@dataclass(frozen=True)
class PodTruth:
    node: str
    spec: PodSpec
    model_type: str | None
    model_name: str | None
    cpu_cores: float | None
    memory_bytes: float | None
    cpu_percent: float | None
    memory_percent: float | None
    gpu_percent: float | None
    gpu_busy: float | None
    gpu_devices: int


@dataclass(frozen=True)
class NodeTruth:
    spec: NodeSpec
    gpu_capacity: int
    cpu_cores: float
    memory_bytes: float
    cpu_percent: float
    memory_percent: float
    gpu_utilizations: list[float]  # of the GPUs that report one
    total_pods: int
    running_pods: int
    serving: dict[str, int]

    @property
    def gpu_percent(self) -> float | None:
        values = self.gpu_utilizations
        return 100 * sum(values) / len(values) if values else None


def nvml_percent(ratio: float) -> float:
    """What NVML reports: whole percent (the exporter divides by 100 again)."""
    return round(ratio * 100) / 100.0


def model_of(pod: PodSpec) -> tuple[str | None, str | None]:
    """(model type, model name) of a serving pod as the exporter normalises them."""
    engine = pod.labels.get(SERVING_LABEL)
    if engine not in ("vllm", "sglang") or not pod.active:
        return None, None
    for container in pod.containers:
        args = list(container.args)
        for option in MODEL_OPTIONS:
            if option in args:
                return engine, args[args.index(option) + 1].rstrip("/").split("/")[-1].lower()
    return engine, "unknown"


class FleetTruth:
    def __init__(self, fleet_path: Path) -> None:
        self.spec: FleetSpec = load_fleet(fleet_path)
        self.fleet = SimulatedFleet(self.spec, SystemClock())
        self.usages: dict[tuple[str, str, str], ContainerUsage] = {}
        for usage in container_usages(self.spec):
            self._add_usage(usage)
        self._series = ClusterSeries(self.spec)

    def _add_usage(self, usage: ContainerUsage) -> None:
        labels = dict(usage.labels)
        self.usages[(labels["namespace"], labels["pod"], labels["container"])] = usage

    def present(self, node: NodeSpec, t: float) -> list[PodSpec]:
        """The node's pods at ``t`` (a scheduled pod only inside its windows, as the occurrence
        of that window, whose containers' usage is then known too)."""
        pods: list[PodSpec] = []
        for base in node.pods:
            pod = base.pod_at(t)
            if pod is None:
                continue
            if pod is not base and pod.running:
                for usage in self._series.occurrence_usages(node, base, pod):
                    self._add_usage(usage)
            pods.append(pod)
        return pods

    # -- CPU and memory --------------------------------------------------------------------

    def container_cores(
        self,
        usage: ContainerUsage,
        t: float,
        times: list[float] | None,
        window: float,
        rate: RateFormula = prometheus_rate,
    ) -> float:
        """CPU cores over the window: the backend's ``rate`` on the model's counter at the
        times the backend sampled it, when they are known; else the exact average over the
        window."""
        if times is not None and len(times) >= 2:
            values = [usage.cpu_seconds(ts) for ts in times]
            return rate(times, values, t, window)
        return (usage.cpu_seconds(t) - usage.cpu_seconds(t - window)) / window

    def pod_cpu_memory(
        self, pod: PodSpec, t: float, times: SampleTimes, window: float = RATE_WINDOW_S
    ) -> tuple[float, float] | None:
        cores = memory = 0.0
        found = False
        for container in pod.containers:
            key = (pod.namespace, pod.name, container.name)
            usage = self.usages.get(key)
            if usage is None:
                continue
            found = True
            cores += self.container_cores(usage, t, times.times.get(key), window, times.rate)
            memory += usage.memory_working_set(t)
        return (cores, memory) if found else None

    # -- GPUs -------------------------------------------------------------------------------

    def gpu_utilization(self, node: NodeSpec, index: int, t: float) -> float | None:
        """Device utilisation as the exporter reports it (none for a MIG-mode or lost GPU)."""
        gpu = node.gpus[index]
        simulated = self.fleet.node(node.name)
        if gpu.mig_enabled or simulated.is_lost(index, t):
            return None
        return nvml_percent(simulated.gpu_values(index, t).utilization_ratio)

    def own_sm(self, node: NodeSpec, index: int, pid: int, t: float) -> float | None:
        for process in self.fleet.node(node.name).gpu_values(index, t).processes:
            if process.pid == pid and process.mig_slot is None:
                return nvml_percent(process.sm_utilization_ratio)
        return None

    # -- pods and nodes ----------------------------------------------------------------------

    def pods(self, t: float, times: SampleTimes | None = None) -> dict[tuple[str, str], PodTruth]:
        """Every pod at ``t``; ``times``: when the backend sampled the CPU counters (see
        cpu_sample_times), else CPU is the exact average over the rate window."""
        found: dict[tuple[str, str], PodTruth] = {}
        for node in self.spec.nodes:
            for pod in self.present(node, t):
                found[(pod.namespace, pod.name)] = self._pod(
                    node, pod, t, times or SampleTimes(prometheus_rate)
                )
        return found

    def _pod(self, node: NodeSpec, pod: PodSpec, t: float, times: SampleTimes) -> PodTruth:
        used = self.pod_cpu_memory(pod, t, times)
        cpu_limits = [c.cpu_limit_cores for c in pod.containers]
        memory_limits = [c.memory_limit_bytes for c in pod.containers]
        cpu_denominator = (
            sum(x for x in cpu_limits if x is not None)
            if all(x is not None for x in cpu_limits)
            else sum(c.cpu_request_cores for c in pod.containers) or node.allocatable_cpu_cores
        )
        memory_denominator = (
            sum(x for x in memory_limits if x is not None)
            if all(x is not None for x in memory_limits)
            else sum(c.memory_request_bytes for c in pod.containers)
            or node.allocatable_memory_bytes
        )
        utilizations: list[float] = []
        devices: set[tuple[int, int | None]] = set()
        for container in pod.containers if pod.active else ():
            for ref in container.devices:
                devices.add((ref.gpu_index, ref.mig_slot))
                if not pod.running:
                    continue
                if ref.kind == "gpu":
                    value = self.gpu_utilization(node, ref.gpu_index, t)
                elif ref.kind == "replica" and container.pid is not None:
                    value = self.own_sm(node, ref.gpu_index, container.pid, t)
                else:
                    value = None  # MIG: NVML has no per-instance or per-process utilisation
                if value is not None:
                    utilizations.append(value)
        model_type, model_name = model_of(pod)
        return PodTruth(
            node=node.name,
            spec=pod,
            model_type=model_type,
            model_name=model_name,
            cpu_cores=used[0] if used else None,
            memory_bytes=used[1] if used else None,
            cpu_percent=100 * used[0] / cpu_denominator if used else None,
            memory_percent=100 * used[1] / memory_denominator if used else None,
            gpu_percent=100 * sum(utilizations) / len(utilizations) if utilizations else None,
            gpu_busy=sum(utilizations) if utilizations else None,
            gpu_devices=len(devices),
        )

    def nodes(self, t: float, times: SampleTimes | None = None) -> dict[str, NodeTruth]:
        pods = self.pods(t, times)
        found: dict[str, NodeTruth] = {}
        for node in self.spec.nodes:
            mine = [p for p in pods.values() if p.node == node.name]
            cores = sum(p.cpu_cores or 0.0 for p in mine)
            memory = sum(p.memory_bytes or 0.0 for p in mine)
            utilizations = [
                u
                for i in range(len(node.gpus))
                if (u := self.gpu_utilization(node, i, t)) is not None
            ]
            serving: dict[str, int] = {}
            for p in mine:
                if p.model_type is not None:
                    serving[p.model_type] = serving.get(p.model_type, 0) + 1
            found[node.name] = NodeTruth(
                spec=node,
                gpu_capacity=sum(
                    1 for name, _gpu, _ref in advertised_devices(node) if name == "nvidia.com/gpu"
                ),
                cpu_cores=cores,
                memory_bytes=memory,
                cpu_percent=100 * cores / node.allocatable_cpu_cores,
                memory_percent=100 * memory / node.allocatable_memory_bytes,
                gpu_utilizations=utilizations,
                total_pods=len(mine),
                running_pods=sum(1 for p in mine if p.spec.running),
                serving=serving,
            )
        return found

    # -- over a window ------------------------------------------------------------------------

    def cluster_at(self, t: float, live_after: float) -> dict[str, float]:
        """Cluster CPU and memory fractions and mean GPU utilisation as the minutely rules
        recorded them at ``t``: over backfilled history (one sample per minute, at minute
        starts; Prometheus evaluated these rules for either backend, devstack.rules_backfill) up
        to ``live_after``, then over live scrapes, whose newest sample at a minute boundary
        still shows the minute before."""
        at = t if t <= live_after else t - 1
        times = SampleTimes(prometheus_rate)
        if t <= live_after:
            # Backfilled minutes: rate() sees the samples of the minute grid in its window.
            first = math.ceil((t - RATE_WINDOW_S) / MINUTE_S) * MINUTE_S
            grid = [float(m) for m in range(first, math.floor(t / MINUTE_S) * MINUTE_S + 1, 60)]
            times = SampleTimes(prometheus_rate, dict.fromkeys(self.usages, grid))
        cores = memory = 0.0
        utilizations: list[float] = []
        for node in self.spec.nodes:
            for pod in self.present(node, at):
                used = self.pod_cpu_memory(pod, at, times)
                if used is not None:
                    cores += used[0]
                    memory += used[1]
            utilizations += [
                u
                for i in range(len(node.gpus))
                if (u := self.gpu_utilization(node, i, at)) is not None
            ]
        return {
            "cpu": cores / sum(n.allocatable_cpu_cores for n in self.spec.nodes),
            "memory": memory / sum(n.allocatable_memory_bytes for n in self.spec.nodes),
            "gpu": sum(utilizations) / len(utilizations),
        }

    def statistics(
        self, times: Sequence[float], live_after: float
    ) -> dict[str, tuple[float, float]]:
        """(mean, peak) of each cluster series at ``times``: the evaluation times of the
        minutely rules over a window (backfilled, then live)."""
        values = [self.cluster_at(t, live_after) for t in times]
        return {
            name: (sum(v[name] for v in values) / len(values), max(v[name] for v in values))
            for name in ("cpu", "memory", "gpu")
        }


def settle_in_minute(low: float = 12.0, high: float = 48.0) -> None:
    """Wait until the clock is between ``low`` and ``high`` seconds into a UTC minute, so that
    every exporter and scrape has seen this minute's values and none the next minute's."""
    import time

    while not low <= time.time() % MINUTE_S <= high:
        time.sleep(0.5)


def close(
    actual: float | None, expected: float | None, rel: float = 0.01, floor: float = 0.06
) -> bool:
    """Within 1% (or ``floor`` absolute: outputs are rounded to one decimal)."""
    if actual is None or expected is None:
        return actual is None and expected is None
    return abs(actual - expected) <= max(rel * abs(expected), floor)
