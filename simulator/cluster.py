"""kube-state-metrics and cAdvisor series of a simulated fleet: pure functions of (fleet, t).

Names, labels and units are the upstream ones (kube-state-metrics v2; the kubelet's
``/metrics/cadvisor``), so the analytics service runs the queries a real cluster answers. Two
departures, both what kube-prometheus-stack's relabelling produces: cAdvisor series carry a
``node`` label, and ``kube_node_labels``/``kube_pod_labels`` carry every label (as with
``--metric-labels-allowlist=nodes=[*],pods=[*]``). Only the containers of running pods have
cAdvisor series; kube-state-metrics lists every pod of the fleet that exists at t: all of them
but the scheduled ones outside their windows (:meth:`simulator.fleet.PodSpec.pod_at`). An
occurrence of a scheduled pod is a pod of its own (name, uid, container ids), created and started
at its window's start, with a CPU counter from 0.

Usage model (noise-free, so it is a pure function of t and repeats every UTC day): a container
uses ``cpu_request · (0.05 + 0.9·u)`` cores and ``memory_request · (0.3 + 0.6·u)`` bytes, with
``u`` its pod's workload curve (:func:`simulator.state.workload_utilization`) during the UTC
minute. ``container_cpu_usage_seconds_total`` is the exact integral of that from the container's
start, O(1) per read from a per-container table of the day, so history and live agree.

Run the server (one process for the whole fleet)::

    python -m simulator.cluster --fleet FILE --listen 127.0.0.1:9100

``/metrics`` serves the kube-state-metrics series, ``/metrics/cadvisor`` the cAdvisor ones and
``/healthz`` answers ``ok``. With ``--kube-api`` it also serves the cluster's Kubernetes API for
Nodes (with the fleet's node labels) and ConfigMaps (:class:`simulator.kubeapi.ClusterObjects`):
where the analytics service publishes MIG layouts and each node's simulated mig-manager
(:mod:`simulator.migmanager`) reads them. One JSON line ``{"url": ..., "kube_api_url": ...}``
is printed when it is ready; it runs until SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import signal
import sys
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Literal, NamedTuple

from simulator.clock import Clock, SystemClock
from simulator.fleet import (
    ContainerSpec,
    FleetSpec,
    NodeSpec,
    PodSpec,
    SimulatorError,
    load_fleet,
    stable_hash,
)
from simulator.kubeapi import ClusterObjects, KubeApiServer
from simulator.node import advertised_devices, container_device_counts
from simulator.state import MINUTE_S, MINUTES_PER_DAY, workload_utilization

Source = Literal["kube-state-metrics", "cadvisor"]
KSM_SOURCE: Source = "kube-state-metrics"
CADVISOR_SOURCE: Source = "cadvisor"

POD_PHASES = ("Pending", "Succeeded", "Failed", "Unknown", "Running")
NODE_CONDITIONS = ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure", "NetworkUnavailable")
CONDITION_STATUSES = ("true", "false", "unknown")
MAX_PODS = 110
# What every simulated node reports about its software (kube_node_info).
KERNEL_VERSION = "6.8.0-48-generic"
OS_IMAGE = "Ubuntu 22.04.5 LTS"
CONTAINER_RUNTIME_VERSION = "containerd://1.7.22"
KUBELET_VERSION = "v1.30.5"

_CPU_BASE, _CPU_SPAN = 0.05, 0.9  # share of the CPU request in use: base + span · u
_MEMORY_BASE, _MEMORY_SPAN = 0.3, 0.6  # share of the memory request in the working set
_INVALID_LABEL_CHARS = re.compile(r"[^a-zA-Z0-9_]")


@dataclass(frozen=True)
class ClusterMetric:
    """One series family of the cluster side: its upstream name, type, help and fixed labels."""

    name: str
    kind: Literal["gauge", "counter"]
    help: str
    labels: tuple[str, ...]  # kube_*_labels add label_<name> labels beyond these
    source: Source

    @property
    def family_name(self) -> str:
        """The OpenMetrics family name (counters without ``_total``)."""
        return self.name.removesuffix("_total") if self.kind == "counter" else self.name


_POD = ("namespace", "pod", "uid")
_CONTAINER = (*_POD, "container")
_RESOURCE = (*_CONTAINER, "node", "resource", "unit")
_CADVISOR = ("namespace", "pod", "container", "node", "id", "image", "name")
_K: Source = KSM_SOURCE
_C: Source = CADVISOR_SOURCE

CATALOGUE: tuple[ClusterMetric, ...] = (
    ClusterMetric(
        "kube_node_info",
        "gauge",
        "Information about a cluster node.",
        (
            "node",
            "kernel_version",
            "os_image",
            "container_runtime_version",
            "kubelet_version",
            "internal_ip",
            "provider_id",
        ),
        _K,
    ),
    ClusterMetric(
        "kube_node_labels",
        "gauge",
        "Kubernetes labels converted to Prometheus labels.",
        ("node",),
        _K,
    ),
    ClusterMetric("kube_node_role", "gauge", "The role of a cluster node.", ("node", "role"), _K),
    ClusterMetric(
        "kube_node_spec_unschedulable",
        "gauge",
        "Whether a node can schedule new pods.",
        ("node",),
        _K,
    ),
    ClusterMetric(
        "kube_node_status_condition",
        "gauge",
        "The condition of a cluster node.",
        ("node", "condition", "status"),
        _K,
    ),
    ClusterMetric(
        "kube_node_status_capacity",
        "gauge",
        "The capacity for different resources of a node.",
        ("node", "resource", "unit"),
        _K,
    ),
    ClusterMetric(
        "kube_node_status_allocatable",
        "gauge",
        "The allocatable for different resources of a node that are available for scheduling.",
        ("node", "resource", "unit"),
        _K,
    ),
    ClusterMetric(
        "kube_pod_info",
        "gauge",
        "Information about pod.",
        (
            *_POD,
            "host_ip",
            "pod_ip",
            "node",
            "created_by_kind",
            "created_by_name",
            "priority_class",
            "host_network",
        ),
        _K,
    ),
    ClusterMetric(
        "kube_pod_labels", "gauge", "Kubernetes labels converted to Prometheus labels.", _POD, _K
    ),
    ClusterMetric(
        "kube_pod_owner",
        "gauge",
        "Information about the Pod's owner.",
        (*_POD, "owner_kind", "owner_name", "owner_is_controller"),
        _K,
    ),
    ClusterMetric(
        "kube_pod_status_phase", "gauge", "The pods current phase.", (*_POD, "phase"), _K
    ),
    ClusterMetric("kube_pod_created", "gauge", "Unix creation timestamp.", _POD, _K),
    ClusterMetric(
        "kube_pod_start_time", "gauge", "Start time in unix timestamp for a pod.", _POD, _K
    ),
    ClusterMetric(
        "kube_pod_container_info",
        "gauge",
        "Information about a container in a pod.",
        (*_CONTAINER, "image_spec", "image", "image_id", "container_id"),
        _K,
    ),
    ClusterMetric(
        "kube_pod_container_status_running",
        "gauge",
        "Describes whether the container is currently in running state.",
        _CONTAINER,
        _K,
    ),
    ClusterMetric(
        "kube_pod_container_status_restarts_total",
        "counter",
        "The number of container restarts per container.",
        _CONTAINER,
        _K,
    ),
    ClusterMetric(
        "kube_pod_container_resource_requests",
        "gauge",
        "The number of requested request resource by a container.",
        _RESOURCE,
        _K,
    ),
    ClusterMetric(
        "kube_pod_container_resource_limits",
        "gauge",
        "The number of requested limit resource by a container.",
        _RESOURCE,
        _K,
    ),
    ClusterMetric(
        "container_cpu_usage_seconds_total",
        "counter",
        "Cumulative cpu time consumed in seconds.",
        _CADVISOR,
        _C,
    ),
    ClusterMetric(
        "container_memory_working_set_bytes",
        "gauge",
        "Current working set in bytes.",
        _CADVISOR,
        _C,
    ),
    ClusterMetric("machine_cpu_cores", "gauge", "Number of logical CPU cores.", ("node",), _C),
    ClusterMetric(
        "machine_memory_bytes", "gauge", "Amount of memory installed on the machine.", ("node",), _C
    ),
)

BY_NAME: dict[str, ClusterMetric] = {m.name: m for m in CATALOGUE}

Labels = tuple[tuple[str, str], ...]


class Sample(NamedTuple):
    """One series' value: metric name, labels in exposition order, value."""

    name: str
    labels: Labels
    value: float


def sanitize_label_name(name: str) -> str:
    """kube-state-metrics' label and resource name sanitising: ``nvidia.com/gpu`` → ``nvidia_com_gpu``."""
    return _INVALID_LABEL_CHARS.sub("_", name)


def _label_pairs(prefix: Labels, labels: dict[str, str]) -> Labels:
    return prefix + tuple((f"label_{sanitize_label_name(k)}", v) for k, v in sorted(labels.items()))


def node_roles(node: NodeSpec) -> tuple[str, ...]:
    """Roles from ``node-role.kubernetes.io/<role>`` labels; a node without any is a worker."""
    prefix = "node-role.kubernetes.io/"
    roles = sorted(k.removeprefix(prefix) for k in node.labels if k.startswith(prefix))
    return tuple(roles) or ("worker",)


def container_cgroup(pod: PodSpec, container: ContainerSpec) -> str:
    """The container's cgroup path (cAdvisor's ``id``), as the simulated /proc names it."""
    uid = pod.uid.replace("-", "_")
    return (
        "/kubepods.slice/kubepods-burstable.slice/"
        f"kubepods-burstable-pod{uid}.slice/cri-containerd-{container.container_id}.scope"
    )


def _image_id(image: str) -> str:
    repository = image.rsplit(":", 1)[0] if ":" in image.rsplit("/", 1)[-1] else image
    digest = f"{stable_hash(image, 'digest'):016x}" * 4
    return f"{repository}@sha256:{digest}"


# -- kube-state-metrics ------------------------------------------------------------------------


def _node_samples(node: NodeSpec) -> Iterator[Sample]:
    n = node.name
    yield Sample(
        "kube_node_info",
        (
            ("node", n),
            ("kernel_version", KERNEL_VERSION),
            ("os_image", OS_IMAGE),
            ("container_runtime_version", CONTAINER_RUNTIME_VERSION),
            ("kubelet_version", KUBELET_VERSION),
            ("internal_ip", node.host_ip),
            ("provider_id", f"simulator://{n}"),
        ),
        1.0,
    )
    yield Sample("kube_node_labels", _label_pairs((("node", n),), node.labels), 1.0)
    for role in node_roles(node):
        yield Sample("kube_node_role", (("node", n), ("role", role)), 1.0)
    yield Sample("kube_node_spec_unschedulable", (("node", n),), 0.0)
    for condition in NODE_CONDITIONS:
        current = "true" if condition == "Ready" else "false"
        for status in CONDITION_STATUSES:
            yield Sample(
                "kube_node_status_condition",
                (("node", n), ("condition", condition), ("status", status)),
                1.0 if status == current else 0.0,
            )
    devices: dict[str, int] = {}
    for name, _gpu, _ref in advertised_devices(node):
        devices[name] = devices.get(name, 0) + 1
    capacity = [
        ("cpu", "core", float(node.cpu_cores)),
        ("memory", "byte", float(node.memory_bytes)),
        ("pods", "integer", float(MAX_PODS)),
    ]
    allocatable = [
        ("cpu", "core", node.allocatable_cpu_cores),
        ("memory", "byte", float(node.allocatable_memory_bytes)),
        ("pods", "integer", float(MAX_PODS)),
    ]
    extended = [(sanitize_label_name(k), "integer", float(v)) for k, v in sorted(devices.items())]
    for metric, rows in (
        ("kube_node_status_capacity", capacity + extended),
        ("kube_node_status_allocatable", allocatable + extended),
    ):
        for resource, unit, value in rows:
            yield Sample(metric, (("node", n), ("resource", resource), ("unit", unit)), value)


def _pod_samples(node: NodeSpec, pod: PodSpec) -> Iterator[Sample]:
    ids: Labels = (("namespace", pod.namespace), ("pod", pod.name), ("uid", pod.uid))
    owner_kind = pod.owner.kind if pod.owner is not None else "<none>"
    owner_name = pod.owner.name if pod.owner is not None else "<none>"
    yield Sample(
        "kube_pod_info",
        (
            *ids,
            ("host_ip", node.host_ip),
            ("pod_ip", pod.pod_ip or ""),
            ("node", node.name),
            ("created_by_kind", owner_kind),
            ("created_by_name", owner_name),
            ("priority_class", ""),
            ("host_network", "false"),
        ),
        1.0,
    )
    yield Sample("kube_pod_labels", _label_pairs(ids, pod.labels), 1.0)
    yield Sample(
        "kube_pod_owner",
        (
            *ids,
            ("owner_kind", owner_kind),
            ("owner_name", owner_name),
            ("owner_is_controller", "true" if pod.owner is not None else "<none>"),
        ),
        1.0,
    )
    for phase in POD_PHASES:
        yield Sample("kube_pod_status_phase", (*ids, ("phase", phase)), float(phase == pod.phase))
    # The times the simulated Kubernetes API reports (simulator.node): created 4 s before start.
    yield Sample("kube_pod_created", ids, float(int(pod.created_time)))
    yield Sample("kube_pod_start_time", ids, float(int(pod.start_time)))
    started = pod.phase != "Pending"
    for container in pod.containers:
        cids: Labels = (*ids, ("container", container.name))
        yield Sample(
            "kube_pod_container_info",
            (
                *cids,
                ("image_spec", container.image),
                ("image", container.image),
                ("image_id", _image_id(container.image) if started else ""),
                ("container_id", f"containerd://{container.container_id}" if started else ""),
            ),
            1.0,
        )
        yield Sample("kube_pod_container_status_running", cids, float(pod.running))
        yield Sample("kube_pod_container_status_restarts_total", cids, 0.0)
        where: Labels = (*cids, ("node", node.name))
        requests = [
            ("cpu", "core", container.cpu_request_cores),
            ("memory", "byte", float(container.memory_request_bytes)),
        ]
        limits: list[tuple[str, str, float]] = []
        if container.cpu_limit_cores is not None:
            limits.append(("cpu", "core", container.cpu_limit_cores))
        if container.memory_limit_bytes is not None:
            limits.append(("memory", "byte", float(container.memory_limit_bytes)))
        for name, count in sorted(container_device_counts(node, pod, container).items()):
            extended = (sanitize_label_name(name), "integer", float(count))
            requests.append(extended)
            limits.append(extended)  # extended resources: limits equal requests
        for metric, rows in (
            ("kube_pod_container_resource_requests", requests),
            ("kube_pod_container_resource_limits", limits),
        ):
            for resource, unit, value in rows:
                yield Sample(metric, (*where, ("resource", resource), ("unit", unit)), value)


def ksm_samples(fleet: FleetSpec) -> list[Sample]:
    """The kube-state-metrics series of the nodes and of the pods without a schedule: they do not
    change with time (:meth:`ClusterSeries.kube_state_metrics` adds the scheduled pods at t)."""
    samples: list[Sample] = []
    for node in fleet.nodes:
        samples.extend(_node_samples(node))
        for pod in node.pods:
            if pod.schedule is None:
                samples.extend(_pod_samples(node, pod))
    return samples


def pod_samples(node: NodeSpec, pod: PodSpec) -> list[Sample]:
    """The kube-state-metrics series of one pod (an occurrence, for a scheduled pod)."""
    return list(_pod_samples(node, pod))


# -- cAdvisor ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ContainerUsage:
    """The CPU and memory use of one running container, as pure functions of t."""

    node: str
    labels: Labels  # cAdvisor labels
    started_at: float  # unix seconds; the counter counts from here
    cpu_cores: tuple[float, ...]  # per minute of the UTC day
    cpu_prefix: tuple[float, ...]  # running integral of cpu_cores over the day, seconds (1441)
    memory_bytes: tuple[int, ...]  # per minute of the UTC day

    def cpu_seconds(self, t: float) -> float:
        """``container_cpu_usage_seconds_total`` at ``t``: exact, monotonic, O(1)."""
        if t <= self.started_at:
            return 0.0
        return self._from_midnight(t) - self._from_midnight(self.started_at)

    def _from_midnight(self, t: float) -> float:
        minute = math.floor(t / MINUTE_S)
        day, minute_of_day = divmod(minute, MINUTES_PER_DAY)
        within = t - minute * MINUTE_S
        return (
            day * self.cpu_prefix[-1]
            + self.cpu_prefix[minute_of_day]
            + self.cpu_cores[minute_of_day] * within
        )

    def memory_working_set(self, t: float) -> int:
        return self.memory_bytes[math.floor(t / MINUTE_S) % MINUTES_PER_DAY]

    def cores(self, t: float) -> float:
        """CPU cores in use during t's minute (what ``rate()`` of the counter recovers)."""
        return self.cpu_cores[math.floor(t / MINUTE_S) % MINUTES_PER_DAY]


def container_usages(fleet: FleetSpec) -> list[ContainerUsage]:
    """One :class:`ContainerUsage` per container of every running pod without a schedule
    (:meth:`ClusterSeries.occurrence_usages` gives a scheduled pod's, per occurrence)."""
    usages: list[ContainerUsage] = []
    for node in fleet.nodes:
        for pod in node.pods:
            if not pod.running or pod.schedule is not None:
                continue
            for container in pod.containers:
                usages.append(_container_usage(fleet.seed, node, pod, container))
    return usages


def _container_usage(
    seed: int, node: NodeSpec, pod: PodSpec, container: ContainerSpec
) -> ContainerUsage:
    key = stable_hash(seed, pod.uid, container.name, "usage")
    shape = [
        workload_utilization(pod.workload, key, m, noisy=False) for m in range(MINUTES_PER_DAY)
    ]
    cores = tuple(container.cpu_request_cores * (_CPU_BASE + _CPU_SPAN * u) for u in shape)
    prefix = [0.0]
    for c in cores:
        prefix.append(prefix[-1] + c * MINUTE_S)
    memory = tuple(
        int(container.memory_request_bytes * (_MEMORY_BASE + _MEMORY_SPAN * u)) for u in shape
    )
    return ContainerUsage(
        node=node.name,
        labels=_cadvisor_labels(node, pod, container),
        # The container's startedAt in the simulated API (simulator.node): pod start + 10 s.
        started_at=float(int(pod.start_time) + 10),
        cpu_cores=cores,
        cpu_prefix=tuple(prefix),
        memory_bytes=memory,
    )


def _cadvisor_labels(node: NodeSpec, pod: PodSpec, container: ContainerSpec) -> Labels:
    return (
        ("namespace", pod.namespace),
        ("pod", pod.name),
        ("container", container.name),
        ("node", node.name),
        ("id", container_cgroup(pod, container)),
        ("image", container.image),
        ("name", container.container_id),
    )


def machine_samples(fleet: FleetSpec) -> list[Sample]:
    samples: list[Sample] = []
    for node in fleet.nodes:
        samples.append(Sample("machine_cpu_cores", (("node", node.name),), float(node.cpu_cores)))
        samples.append(
            Sample("machine_memory_bytes", (("node", node.name),), float(node.memory_bytes))
        )
    return samples


def usage_samples(usages: Iterable[ContainerUsage], t: float) -> list[Sample]:
    samples: list[Sample] = []
    for usage in usages:
        samples.append(
            Sample("container_cpu_usage_seconds_total", usage.labels, usage.cpu_seconds(t))
        )
        samples.append(
            Sample(
                "container_memory_working_set_bytes",
                usage.labels,
                float(usage.memory_working_set(t)),
            )
        )
    return samples


class ClusterSeries:
    """All cluster-side series of a fleet: the constant ones built once, the scheduled pods'
    and usage read at t."""

    def __init__(self, fleet: FleetSpec) -> None:
        self.fleet = fleet
        self.ksm = tuple(ksm_samples(fleet))  # nodes and pods without a schedule
        self.machine = tuple(machine_samples(fleet))
        self.usages = tuple(container_usages(fleet))  # running pods without a schedule
        self.scheduled: tuple[tuple[NodeSpec, PodSpec], ...] = tuple(
            (node, pod) for node in fleet.nodes for pod in node.pods if pod.schedule is not None
        )
        # A scheduled pod's usage curve is the same in every occurrence (keyed on its uid).
        self._curves: dict[tuple[str, str, str], ContainerUsage] = {}

    def occurrences_at(self, t: float) -> list[tuple[NodeSpec, PodSpec]]:
        """(node, occurrence) of every scheduled pod present at ``t``."""
        found: list[tuple[NodeSpec, PodSpec]] = []
        for node, pod in self.scheduled:
            occurrence = pod.pod_at(t)
            if occurrence is not None:
                found.append((node, occurrence))
        return found

    def occurrence_usages(
        self, node: NodeSpec, base: PodSpec, pod: PodSpec
    ) -> list[ContainerUsage]:
        """The containers' usage of ``pod``, an occurrence of the scheduled pod ``base``."""
        usages: list[ContainerUsage] = []
        for container, own in zip(base.containers, pod.containers, strict=True):
            key = (node.name, base.uid, container.name)
            curve = self._curves.get(key)
            if curve is None:
                curve = _container_usage(self.fleet.seed, node, base, container)
                self._curves[key] = curve
            usages.append(
                replace(
                    curve,
                    labels=_cadvisor_labels(node, pod, own),
                    started_at=float(int(pod.start_time) + 10),
                )
            )
        return usages

    def kube_state_metrics(self, t: float) -> list[Sample]:
        """The kube-state-metrics series at ``t``."""
        samples = list(self.ksm)
        for node, pod in self.occurrences_at(t):
            samples.extend(_pod_samples(node, pod))
        return samples

    def cadvisor(self, t: float) -> list[Sample]:
        usages = list(self.usages)
        for (node, base), (_node, pod) in zip(self.scheduled, self._all_at(t), strict=True):
            if pod is not None:
                usages.extend(self.occurrence_usages(node, base, pod))
        return [*self.machine, *usage_samples(usages, t)]

    def _all_at(self, t: float) -> list[tuple[NodeSpec, PodSpec | None]]:
        return [(node, pod.pod_at(t)) for node, pod in self.scheduled]

    def at(self, t: float) -> list[Sample]:
        """Every cluster series at ``t``."""
        return [*self.kube_state_metrics(t), *self.cadvisor(t)]


# -- exposition --------------------------------------------------------------------------------


def escape_label_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def format_labels(labels: Labels) -> str:
    return ",".join(f'{k}="{escape_label_value(v)}"' for k, v in labels)


def format_value(value: float) -> str:
    """Shortest text that parses back to the same float64 (integers without a fraction)."""
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def exposition(samples: Sequence[Sample]) -> str:
    """Prometheus text format 0.0.4, families in catalogue order with HELP and TYPE."""
    by_family: dict[str, list[Sample]] = {}
    for sample in samples:
        by_family.setdefault(sample.name, []).append(sample)
    lines: list[str] = []
    for metric in CATALOGUE:
        rows = by_family.get(metric.name)
        if not rows:
            continue
        lines.append(f"# HELP {metric.name} {metric.help}")
        lines.append(f"# TYPE {metric.name} {metric.kind}")
        lines.extend(f"{s.name}{{{format_labels(s.labels)}}} {format_value(s.value)}" for s in rows)
    return "\n".join(lines) + "\n"


# -- the server --------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    server: ClusterServer

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        series = self.server.series
        if path == "/metrics":
            body = exposition(series.kube_state_metrics(self.server.clock.now()))
        elif path == "/metrics/cadvisor":
            body = exposition(series.cadvisor(self.server.clock.now()))
        elif path == "/healthz":
            body = "ok\n"
        else:
            self.send_error(404, "not found: /metrics, /metrics/cadvisor or /healthz")
            return
        payload = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        pass  # one line per scrape would drown the demo's output


class ClusterServer(ThreadingHTTPServer):
    """Serves a fleet's cluster series over HTTP; ``serve_forever`` in a thread of your own."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], series: ClusterSeries, clock: Clock) -> None:
        super().__init__(address, _Handler)
        self.series = series
        self.clock = clock

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


def _listen(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host or "127.0.0.1", int(port)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m simulator.cluster",
        description="Serve a simulated fleet's kube-state-metrics (/metrics) and cAdvisor "
        "(/metrics/cadvisor) series.",
    )
    parser.add_argument("--fleet", required=True, type=Path, help="fleet YAML")
    parser.add_argument(
        "--listen", type=_listen, default=("127.0.0.1", 9100), help="HOST:PORT (port 0: any)"
    )
    parser.add_argument(
        "--kube-api",
        action="store_true",
        help="also serve the cluster's Kubernetes API (Nodes, ConfigMaps) on a loopback port",
    )
    args = parser.parse_args(argv)
    try:
        fleet = load_fleet(args.fleet)
    except SimulatorError as exc:
        print(f"simulator.cluster: error: {exc}", file=sys.stderr)
        return 1
    try:
        server = ClusterServer(args.listen, ClusterSeries(fleet), SystemClock())
    except OSError as exc:
        print(f"simulator.cluster: error: cannot listen on {args.listen}: {exc}", file=sys.stderr)
        return 1
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    thread = threading.Thread(target=server.serve_forever, name="cluster-http", daemon=True)
    thread.start()
    kube_api = None
    if args.kube_api:
        objects = ClusterObjects({node.name: dict(node.labels) for node in fleet.nodes})
        kube_api = KubeApiServer(lambda: {"items": []}, objects)
        kube_api.start()
    ready = {"url": server.url, "kube_api_url": kube_api.url if kube_api is not None else ""}
    print(json.dumps(ready), flush=True)
    stop.wait()
    if kube_api is not None:
        kube_api.stop()
    server.shutdown()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
