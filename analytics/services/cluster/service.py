"""Cluster resources through PromQL: pods, nodes, usage, top pods, namespaces and statistics.

The numbers come from kube-state-metrics, cAdvisor and our exporter (analytics.prom.
queries_resources builds the queries); this module turns their rows into views. Definitions
(docs/analytics.md, "/resources"):

* Pod ``cpuUsagePercent``: CPU cores used (its containers' rate over 5 minutes) over the pod's
  CPU limit (the sum of its containers' limits, when every container sets one), else its
  request (sum of the containers' requests), else its node's allocatable CPU. Against a
  request the value can exceed 100. ``memoryUsagePercent``: working-set bytes over the same
  chain of memory limit, request, node allocatable memory.
* Pod ``gpuUsagePercent``: the mean utilisation of the devices it holds that have a value of
  their own: a whole GPU held exclusively contributes the device's utilisation; a time-sliced
  GPU or a MIG instance contributes the pod's own SM utilisation from NVML's per-process
  samples where the exporter has it (NVML has none inside MIG), never the device's value,
  which belongs to every sharer. Null when no held device has a value.
* Node ``cpuUsagePercent`` / ``memoryUsagePercent``: the sum over its pods' containers over the
  node's allocatable CPU / memory. ``gpuUsagePercent``: the mean utilisation of its GPUs that
  report one (NVML reports none for a GPU in MIG mode).
"""

from __future__ import annotations

import functools
import math
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

from analytics.clock import Clock
from analytics.errors import InvalidParameter, ResourceNotFound
from analytics.prom import PromClient, Sample
from analytics.prom import queries_resources as q
from analytics.prom.promql import tagged
from analytics.services.kernel.ids import device_id_of
from analytics.services.kernel.live_views import Kept, LiveViews
from analytics.services.kernel.numbers import finite, mean, percent, round_or_none

GIB = 1024**3
SERVING_TYPES_COUNTED = ("vllm", "sglang")
DEFAULT_ROLE = "worker"  # kube-state-metrics has no role for nodes without a node-role label
ResourceType = Literal["cpu", "memory", "gpu"]
RESOURCE_TYPES: tuple[ResourceType, ...] = ("cpu", "memory", "gpu")

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")


# -- small pure helpers ------------------------------------------------------------------------

Rows = dict[str, list[Sample]]


def split_parts(samples: Iterable[Sample], tag: str = q.TAG) -> Rows:
    """Rows of a tagged union (analytics.prom.queries_resources.tagged) by part name."""
    rows: Rows = defaultdict(list)
    for sample in samples:
        rows[sample.labels.get(tag, "")].append(sample)
    return rows


def gib(value: float | None) -> float | None:
    """Bytes as GiB (the seed's "Gb" fields), two decimals."""
    return None if value is None else round_or_none(value / GIB, 2)


def utc(seconds: float | None) -> datetime | None:
    seconds = finite(seconds)
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)


def cpu_quantity(cores: float) -> str:
    """Kubernetes CPU quantity: ``"32"`` for whole cores, else millicores (``"1500m"``)."""
    if float(cores).is_integer():
        return str(int(cores))
    return f"{round(cores * 1000)}m"


def bytes_quantity(value: float) -> str:
    """Kubernetes memory quantity in the largest exact binary unit: ``"128Gi"``, ``"512Mi"``."""
    amount = round(value)
    for suffix, size in (("Ti", 1024**4), ("Gi", 1024**3), ("Mi", 1024**2), ("Ki", 1024)):
        if amount and amount % size == 0:
            return f"{amount // size}{suffix}"
    return str(amount)


def count_quantity(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def quantity(value: float, unit: str) -> str:
    """A kube-state-metrics value with its ``unit`` label (core, byte, integer) as Kubernetes
    writes the quantity."""
    if unit == "core":
        return cpu_quantity(value)
    if unit == "byte":
        return bytes_quantity(value)
    return count_quantity(value)


def check_namespace(namespace: str) -> None:
    if not _DNS_LABEL.match(namespace):
        raise InvalidParameter(
            f"{namespace!r} is not a Kubernetes namespace name (lower-case DNS label).",
            {"namespace": namespace},
        )


def check_object_name(kind: str, name: str) -> None:
    if not _DNS_SUBDOMAIN.match(name):
        raise InvalidParameter(
            f"{name!r} is not a Kubernetes {kind} name (lower-case DNS subdomain).",
            {kind: name},
        )


PodKey = tuple[str, str]


def _pod_key(labels: Mapping[str, str]) -> PodKey:
    return labels.get("namespace", ""), labels.get("pod", "")


def _by_pod(rows: Iterable[Sample]) -> dict[PodKey, Sample]:
    return {_pod_key(s.labels): s for s in rows}


def _by_pod_resource(rows: Iterable[Sample]) -> dict[tuple[PodKey, str], float]:
    return {(_pod_key(s.labels), s.labels.get("resource", "")): s.value for s in rows}


def _value(rows: Mapping[PodKey, Sample], key: PodKey) -> float | None:
    sample = rows.get(key)
    return None if sample is None else finite(sample.value)


def unique(rows: Iterable[Sample], *keys: str) -> list[Sample]:
    """One info row per object: a label change (a pod getting its IP, a kubelet upgrade) leaves
    the old series for a scrape or two; the last row wins."""
    found: dict[tuple[str, ...], Sample] = {}
    for sample in rows:
        found[tuple(sample.labels.get(k, "") for k in keys)] = sample
    return list(found.values())


# -- views -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClaimRef:
    """A DRA ResourceClaim a device is held through (the exporter's claim_* labels)."""

    name: str
    namespace: str


def claim_of(labels: Mapping[str, str]) -> ClaimRef | None:
    """The claim of an allocation series; None for a device-plugin GPU (empty claim_name)."""
    name = labels.get("claim_name", "")
    return ClaimRef(name, labels.get("claim_namespace", "")) if name else None


@dataclass(frozen=True)
class PodView:
    name: str
    namespace: str
    node_name: str | None
    phase: str
    model_type: str | None
    model_name: str | None
    cpu_usage_percent: float | None
    memory_usage_percent: float | None
    gpu_usage_percent: float | None
    creation_time: datetime | None
    cpu_usage_cores: float | None
    memory_usage_gb: float | None
    gpu_count: int
    # Sum of the utilisations (0-1) behind gpu_usage_percent: GPUs' worth of work; for ranking.
    gpu_busy: float | None = field(default=None, repr=False)
    uid: str | None = field(default=None, repr=False)
    pod_ip: str | None = field(default=None, repr=False)
    host_ip: str | None = field(default=None, repr=False)
    owner_kind: str | None = field(default=None, repr=False)
    owner_name: str | None = field(default=None, repr=False)
    # DRA ResourceClaims its devices are held through, by namespace and name; () for none.
    claims: tuple[ClaimRef, ...] = ()


def _denominator(
    specs: Mapping[str, Mapping[tuple[PodKey, str], float]],
    key: PodKey,
    resource: str,
    containers: float | None,
    node_allocatable: float | None,
) -> float | None:
    limit_count = specs["limit_count"].get((key, resource))
    limit_sum = specs["limit_sum"].get((key, resource))
    if limit_count and containers and limit_count >= containers and limit_sum:
        return limit_sum
    request_sum = specs["request_sum"].get((key, resource))
    if request_sum:
        return request_sum
    return node_allocatable


def assemble_pods(rows: Rows) -> list[PodView]:
    """Pod views from the parts of queries_resources.pods(), sorted by namespace and name."""
    phases = _by_pod(rows.get("phase", []))
    created = _by_pod(rows.get("created", []))
    serving = _by_pod(rows.get("serving", []))
    cpu = _by_pod(rows.get("cpu_cores", []))
    memory = _by_pod(rows.get("memory_bytes", []))
    containers = _by_pod(rows.get("containers", []))
    util_sum = _by_pod(rows.get("gpu_util_sum", []))
    util_count = _by_pod(rows.get("gpu_util_count", []))
    devices = _by_pod(rows.get("gpu_devices", []))
    claims: dict[PodKey, set[ClaimRef]] = defaultdict(set)
    for s in rows.get("claims", []):
        claim = claim_of(s.labels)
        if claim is not None:
            claims[_pod_key(s.labels)].add(claim)
    specs = {
        part: _by_pod_resource(rows.get(part, []))
        for part in ("limit_sum", "limit_count", "request_sum", "request_count")
    }
    allocatable = {
        (s.labels.get("node", ""), s.labels.get("resource", "")): s.value
        for s in rows.get("node_allocatable", [])
    }
    views = []
    for info in unique(rows.get("info", []), "namespace", "pod"):
        key = _pod_key(info.labels)
        labels = info.labels
        node = labels.get("node") or None
        phase = phases.get(key)
        model = serving.get(key)
        cores = _value(cpu, key)
        working_set = _value(memory, key)
        count = _value(containers, key)
        busy = _value(util_sum, key)
        measured = _value(util_count, key)
        views.append(
            PodView(
                name=key[1],
                namespace=key[0],
                node_name=node,
                phase=phase.labels.get("phase", "Unknown") if phase else "Unknown",
                model_type=model.labels.get("model_type") if model else None,
                model_name=model.labels.get("model_name") if model else None,
                cpu_usage_percent=percent(
                    cores,
                    _denominator(specs, key, "cpu", count, allocatable.get((node or "", "cpu"))),
                ),
                memory_usage_percent=percent(
                    working_set,
                    _denominator(
                        specs, key, "memory", count, allocatable.get((node or "", "memory"))
                    ),
                ),
                gpu_usage_percent=percent(busy, measured) if measured else None,
                creation_time=utc(_value(created, key)),
                cpu_usage_cores=round_or_none(cores, 3),
                memory_usage_gb=gib(working_set),
                gpu_count=int(_value(devices, key) or 0),
                gpu_busy=busy if measured else None,
                uid=labels.get("uid") or None,
                pod_ip=labels.get("pod_ip") or None,
                host_ip=labels.get("host_ip") or None,
                owner_kind=labels.get("created_by_kind") or None,
                owner_name=labels.get("created_by_name") or None,
                claims=tuple(sorted(claims.get(key, ()), key=lambda c: (c.namespace, c.name))),
            )
        )
    views.sort(key=lambda v: (v.namespace, v.name))
    return views


@dataclass(frozen=True)
class ContainerView:
    name: str
    image: str | None
    requests: dict[str, str]
    limits: dict[str, str]
    cpu_usage_cores: float | None
    memory_usage_gb: float | None
    restart_count: int


@dataclass(frozen=True)
class PodGpuView:
    device_id: str | None
    node_name: str
    gpu_index: int | None
    gpu_uuid: str
    mig_uuid: str | None
    mig_profile: str | None
    container: str
    resource: str
    sharing: str
    utilization_percent: float | None
    memory_used_gb: float | None
    claim: ClaimRef | None = None


@dataclass(frozen=True)
class PodDetail:
    pod: PodView
    restart_count: int
    containers: list[ContainerView]
    gpus: list[PodGpuView]


def assemble_pod_detail(pod: PodView, rows: Rows) -> PodDetail:
    """A pod's containers and devices from the parts of queries_resources.pod_detail()."""
    by_container: dict[str, dict[str, Sample]] = defaultdict(dict)
    for part in ("cpu_cores", "memory_bytes", "restarts"):
        for s in rows.get(part, []):
            by_container[s.labels.get("container", "")][part] = s
    requests: dict[str, dict[str, str]] = defaultdict(dict)
    limits: dict[str, dict[str, str]] = defaultdict(dict)
    for part, target in (("request", requests), ("limit", limits)):
        for s in rows.get(part, []):
            resource, unit = s.labels.get("resource", ""), s.labels.get("unit", "")
            if not unit:
                unit = {"cpu": "core", "memory": "byte"}.get(resource, "integer")
            target[s.labels.get("container", "")][resource] = quantity(s.value, unit)
    images = {
        s.labels.get("container", ""): s.labels.get("image") for s in rows.get("container", [])
    }
    names = sorted(set(images) | set(by_container) | set(requests) | set(limits))
    containers = []
    for name in names:
        usage = by_container.get(name, {})
        cpu, memory, restarts = (usage.get(p) for p in ("cpu_cores", "memory_bytes", "restarts"))
        containers.append(
            ContainerView(
                name=name,
                image=images.get(name),
                requests=dict(sorted(requests.get(name, {}).items())),
                limits=dict(sorted(limits.get(name, {}).items())),
                cpu_usage_cores=round_or_none(cpu.value, 3) if cpu else None,
                memory_usage_gb=gib(finite(memory.value)) if memory else None,
                restart_count=int(restarts.value) if restarts else 0,
            )
        )

    def device_key(labels: Mapping[str, str]) -> tuple[str, str, str]:
        return labels.get("container", ""), labels.get("uuid", ""), labels.get("mig_uuid", "")

    own_sm = {device_key(s.labels): s.value for s in rows.get("own_sm", [])}
    own_memory = {device_key(s.labels): s.value for s in rows.get("own_memory", [])}
    device_util = {device_key(s.labels): s.value for s in rows.get("device_util", [])}
    profiles = {s.labels.get("mig_uuid", ""): s.labels.get("profile") for s in rows.get("mig", [])}
    gpus = []
    for s in rows.get("allocation", []):
        labels = s.labels
        key = device_key(labels)
        node, index = labels.get("node", ""), labels.get("gpu", "")
        exclusive_whole = labels.get("sharing") == "exclusive" and not key[2]
        util = device_util.get(key) if exclusive_whole else own_sm.get(key)
        memory_used = own_memory.get(key)
        gpus.append(
            PodGpuView(
                device_id=device_id_of(node, index),
                node_name=node,
                gpu_index=int(index) if index.isdigit() else None,
                gpu_uuid=key[1],
                mig_uuid=key[2] or None,
                mig_profile=profiles.get(key[2]) if key[2] else None,
                container=key[0],
                resource=labels.get("resource", ""),
                sharing=labels.get("sharing", ""),
                utilization_percent=percent(finite(util)) if util is not None else None,
                memory_used_gb=gib(finite(memory_used)) if memory_used is not None else None,
                claim=claim_of(labels),
            )
        )
    gpus.sort(key=lambda g: (g.device_id or g.gpu_uuid, g.mig_uuid or "", g.container))
    return PodDetail(
        pod=pod,
        restart_count=sum(c.restart_count for c in containers),
        containers=containers,
        gpus=gpus,
    )


@dataclass(frozen=True)
class NodeView:
    name: str
    role: str
    status: str
    cpu_capacity: str | None
    memory_capacity: str | None
    gpu_capacity: str
    cpu_allocatable: str | None
    memory_allocatable: str | None
    gpu_allocatable: str
    cpu_usage_percent: float | None
    memory_usage_percent: float | None
    gpu_usage_percent: float | None
    cpu_usage_cores: float | None
    memory_usage_gb: float | None
    gpu_device_count: int
    total_pod_count: int
    running_pod_count: int
    vllm_pod_count: int
    sglang_pod_count: int
    model_serving_pod_counts: dict[str, int]
    conditions: dict[str, str]
    kubelet_version: str | None = None
    os_image: str | None = None
    kernel_version: str | None = None
    container_runtime_version: str | None = None
    internal_ip: str | None = None
    # Utilisation (0-1) mean and how many GPUs it covers: for cluster averages.
    gpu_util: float | None = field(default=None, repr=False)
    gpu_util_count: int = field(default=0, repr=False)


def _node_status(conditions: Mapping[str, str]) -> str:
    ready = conditions.get("Ready", "").lower()
    return {"true": "Ready", "false": "NotReady"}.get(ready, "Unknown")


def assemble_nodes(rows: Rows) -> list[NodeView]:
    """Node views from the parts of queries_resources.nodes(), sorted by name."""

    def per_node(part: str) -> dict[str, float]:
        return {s.labels.get("node", ""): s.value for s in rows.get(part, [])}

    roles: dict[str, list[str]] = defaultdict(list)
    for s in rows.get("role", []):
        roles[s.labels.get("node", "")].append(s.labels.get("role", ""))
    conditions: dict[str, dict[str, str]] = defaultdict(dict)
    for s in rows.get("condition", []):
        conditions[s.labels.get("node", "")][s.labels.get("condition", "")] = s.labels.get(
            "status", ""
        )
    resources: dict[tuple[str, str, str], float] = {
        (part, s.labels.get("node", ""), s.labels.get("resource", "")): s.value
        for part in ("capacity", "allocatable")
        for s in rows.get(part, [])
    }
    serving: dict[str, dict[str, int]] = defaultdict(dict)
    for s in rows.get("serving", []):
        serving[s.labels.get("node", "")][s.labels.get("model_type", "")] = int(s.value)
    cpu, memory = per_node("cpu_cores"), per_node("memory_bytes")
    gpu_util, gpu_util_count = per_node("gpu_util"), per_node("gpu_util_count")
    gpus, total, running = per_node("gpus"), per_node("pods_total"), per_node("pods_running")

    views = []
    for info in unique(rows.get("info", []), "node"):
        labels = info.labels
        name = labels.get("node", "")

        def resource(part: str, res: str, node: str = name) -> float | None:
            return finite(resources.get((part, node, res)))

        cpu_capacity, cpu_allocatable = resource("capacity", "cpu"), resource("allocatable", "cpu")
        memory_capacity = resource("capacity", "memory")
        memory_allocatable = resource("allocatable", "memory")
        gpu_capacity = resource("capacity", q.GPU_RESOURCE) or 0.0
        gpu_allocatable = resource("allocatable", q.GPU_RESOURCE) or 0.0
        node_conditions = dict(sorted(conditions.get(name, {}).items()))
        models = dict(sorted(serving.get(name, {}).items()))
        util = finite(gpu_util.get(name))
        views.append(
            NodeView(
                name=name,
                role=",".join(sorted(r for r in roles.get(name, []) if r)) or DEFAULT_ROLE,
                status=_node_status(node_conditions),
                cpu_capacity=cpu_quantity(cpu_capacity) if cpu_capacity is not None else None,
                memory_capacity=(
                    bytes_quantity(memory_capacity) if memory_capacity is not None else None
                ),
                gpu_capacity=count_quantity(gpu_capacity),
                cpu_allocatable=(
                    cpu_quantity(cpu_allocatable) if cpu_allocatable is not None else None
                ),
                memory_allocatable=(
                    bytes_quantity(memory_allocatable) if memory_allocatable is not None else None
                ),
                gpu_allocatable=count_quantity(gpu_allocatable),
                cpu_usage_percent=percent(finite(cpu.get(name)), cpu_allocatable or cpu_capacity),
                memory_usage_percent=percent(
                    finite(memory.get(name)), memory_allocatable or memory_capacity
                ),
                gpu_usage_percent=percent(util),
                cpu_usage_cores=round_or_none(cpu.get(name), 3),
                memory_usage_gb=gib(finite(memory.get(name))),
                gpu_device_count=int(gpus.get(name, 0)),
                total_pod_count=int(total.get(name, 0)),
                running_pod_count=int(running.get(name, 0)),
                vllm_pod_count=models.get("vllm", 0),
                sglang_pod_count=models.get("sglang", 0),
                model_serving_pod_counts=models,
                conditions=node_conditions,
                kubelet_version=labels.get("kubelet_version") or None,
                os_image=labels.get("os_image") or None,
                kernel_version=labels.get("kernel_version") or None,
                container_runtime_version=labels.get("container_runtime_version") or None,
                internal_ip=labels.get("internal_ip") or None,
                gpu_util=util,
                gpu_util_count=int(gpu_util_count.get(name, 0)) if util is not None else 0,
            )
        )
    views.sort(key=lambda v: v.name)
    return views


@dataclass(frozen=True)
class HolderView:
    namespace: str
    pod: str
    container: str
    resource: str
    sharing: str
    mig_uuid: str | None
    claim: ClaimRef | None = None


@dataclass(frozen=True)
class MigInstanceView:
    mig_uuid: str
    profile: str | None
    gpu_instance_id: int | None
    compute_instance_id: int | None
    memory_used_gb: float | None
    memory_total_gb: float | None
    holders: list[HolderView]


@dataclass(frozen=True)
class NodeGpuView:
    device_id: str | None
    index: int | None
    uuid: str
    model_name: str | None
    mig_mode: str | None
    up: bool
    utilization_percent: float | None
    memory_used_gb: float | None
    memory_total_gb: float | None
    temperature_c: float | None
    power_w: float | None
    mig_instances: list[MigInstanceView]
    holders: list[HolderView]


@dataclass(frozen=True)
class NodeDetail:
    node: NodeView
    gpus: list[NodeGpuView]
    pods: list[PodView]


def _int_or_none(text: str | None) -> int | None:
    return int(text) if text is not None and text.isdigit() else None


def assemble_node_gpus(node: str, rows: Rows) -> list[NodeGpuView]:
    """A node's GPUs, their MIG instances and holders from queries_resources.node_gpus()."""

    def per_gpu(part: str) -> dict[str, float]:
        return {s.labels.get("uuid", ""): s.value for s in rows.get(part, [])}

    def per_mig(part: str) -> dict[str, float]:
        return {s.labels.get("mig_uuid", ""): s.value for s in rows.get(part, [])}

    up, util = per_gpu("up"), per_gpu("util")
    used, total = per_gpu("memory_used"), per_gpu("memory_total")
    temperature, power = per_gpu("temperature"), per_gpu("power")
    mig_used, mig_total = per_mig("mig_memory_used"), per_mig("mig_memory_total")
    holders: dict[tuple[str, str], list[HolderView]] = defaultdict(list)
    for s in rows.get("allocation", []):
        labels = s.labels
        mig_uuid = labels.get("mig_uuid", "")
        holders[(labels.get("uuid", ""), mig_uuid)].append(
            HolderView(
                namespace=labels.get("namespace", ""),
                pod=labels.get("pod", ""),
                container=labels.get("container", ""),
                resource=labels.get("resource", ""),
                sharing=labels.get("sharing", ""),
                mig_uuid=mig_uuid or None,
                claim=claim_of(labels),
            )
        )
    for found in holders.values():
        found.sort(key=lambda h: (h.namespace, h.pod, h.container))
    migs: dict[str, list[MigInstanceView]] = defaultdict(list)
    for s in rows.get("mig", []):
        labels = s.labels
        mig_uuid = labels.get("mig_uuid", "")
        migs[labels.get("uuid", "")].append(
            MigInstanceView(
                mig_uuid=mig_uuid,
                profile=labels.get("profile") or None,
                gpu_instance_id=_int_or_none(labels.get("gpu_instance_id")),
                compute_instance_id=_int_or_none(labels.get("compute_instance_id")),
                memory_used_gb=gib(finite(mig_used.get(mig_uuid))),
                memory_total_gb=gib(finite(mig_total.get(mig_uuid))),
                holders=holders.get((labels.get("uuid", ""), mig_uuid), []),
            )
        )
    for found_migs in migs.values():
        found_migs.sort(key=lambda m: (m.gpu_instance_id or 0, m.mig_uuid))
    views = []
    for info in unique(rows.get("info", []), "uuid"):
        labels = info.labels
        uuid, index = labels.get("uuid", ""), labels.get("gpu", "")
        views.append(
            NodeGpuView(
                device_id=device_id_of(node, index),
                index=_int_or_none(index),
                uuid=uuid,
                model_name=labels.get("model_name") or None,
                mig_mode=labels.get("mig_mode") or None,
                up=up.get(uuid) == 1.0,
                utilization_percent=percent(finite(util.get(uuid))),
                memory_used_gb=gib(finite(used.get(uuid))),
                memory_total_gb=gib(finite(total.get(uuid))),
                temperature_c=round_or_none(temperature.get(uuid), 1),
                power_w=round_or_none(power.get(uuid), 1),
                mig_instances=migs.get(uuid, []),
                holders=holders.get((uuid, ""), []),
            )
        )
    views.sort(key=lambda g: (g.index if g.index is not None else 1 << 30, g.uuid))
    return views


@dataclass(frozen=True)
class ClusterSummary:
    total_nodes: int
    ready_nodes: int
    total_pods: int
    running_pods: int
    vllm_pods: int
    sglang_pods: int
    avg_cpu_usage: float | None
    avg_memory_usage: float | None
    avg_gpu_usage: float | None


@dataclass(frozen=True)
class UsageView:
    pods: list[PodView]
    nodes: list[NodeView]
    cluster_summary: ClusterSummary
    timestamp: datetime


def summarise(pods: list[PodView], nodes: list[NodeView]) -> ClusterSummary:
    """Counts over ``pods`` (already filtered by namespace) and averages over every node:
    CPU and memory the mean of the nodes' percentages, GPU the mean over all GPUs."""
    weighted = [(n.gpu_util, n.gpu_util_count) for n in nodes if n.gpu_util is not None]
    gpu_count = sum(count for _, count in weighted)
    gpu_mean = (
        sum((util or 0.0) * count for util, count in weighted) / gpu_count if gpu_count else None
    )
    return ClusterSummary(
        total_nodes=len(nodes),
        ready_nodes=sum(1 for n in nodes if n.status == "Ready"),
        total_pods=len(pods),
        running_pods=sum(1 for p in pods if p.phase == "Running"),
        vllm_pods=sum(1 for p in pods if p.model_type == "vllm"),
        sglang_pods=sum(1 for p in pods if p.model_type == "sglang"),
        avg_cpu_usage=mean(n.cpu_usage_percent for n in nodes),
        avg_memory_usage=mean(n.memory_usage_percent for n in nodes),
        avg_gpu_usage=percent(gpu_mean),
    )


@dataclass(frozen=True)
class TopPodView:
    rank: int
    pod: PodView
    usage_value: float
    usage_unit: str


_TOP_UNITS: dict[ResourceType, str] = {"cpu": "cores", "memory": "GiB", "gpu": "GPUs"}


def top_pods(pods: list[PodView], resource_type: ResourceType, limit: int) -> list[TopPodView]:
    """The ``limit`` pods using the most of a resource, by absolute use: CPU cores, memory GiB,
    or GPUs' worth of utilisation (sum over held devices, as in gpuUsagePercent). Pods without
    a value are left out; ties are broken by namespace and name."""
    amount: dict[ResourceType, Callable[[PodView], float | None]] = {
        "cpu": lambda p: p.cpu_usage_cores,
        "memory": lambda p: p.memory_usage_gb,
        "gpu": lambda p: round_or_none(p.gpu_busy, 3),
    }
    measure = amount[resource_type]
    ranked = sorted(
        ((value, p) for p in pods if (value := measure(p)) is not None),
        key=lambda vp: (-vp[0], vp[1].namespace, vp[1].name),
    )
    return [
        TopPodView(rank=i + 1, pod=p, usage_value=value, usage_unit=_TOP_UNITS[resource_type])
        for i, (value, p) in enumerate(ranked[:limit])
    ]


@dataclass(frozen=True)
class NamespaceView:
    namespace: str
    pod_count: int
    running_pod_count: int
    serving_pod_count: int
    cpu_usage_cores: float | None
    cpu_usage_percent: float | None
    cpu_request_cores: float | None
    memory_usage_gb: float | None
    memory_usage_percent: float | None
    memory_request_gb: float | None
    gpu_devices: int
    whole_gpus: int
    mig_instances: int
    shared_gpus: int
    gpu_usage_percent: float | None


def assemble_namespaces(rows: Rows) -> list[NamespaceView]:
    """Namespace views from the parts of queries_resources.namespaces(), sorted by name."""

    def per_namespace(part: str) -> dict[str, float]:
        return {s.labels.get("namespace", ""): s.value for s in rows.get(part, [])}

    parts = {
        part: per_namespace(part)
        for part in (
            "pods",
            "running",
            "serving",
            "cpu_cores",
            "memory_bytes",
            "cpu_requests",
            "memory_requests",
            "gpu_devices",
            "gpu_whole",
            "gpu_mig",
            "gpu_shared",
            "gpu_util",
        )
    }
    cluster = {s.labels.get("resource", ""): s.value for s in rows.get("cluster_allocatable", [])}
    names = sorted(set(parts["pods"]) | set(parts["gpu_devices"]))

    def count(part: str, namespace: str) -> int:
        return int(parts[part].get(namespace, 0))

    views = []
    for name in names:
        cpu = finite(parts["cpu_cores"].get(name))
        memory = finite(parts["memory_bytes"].get(name))
        views.append(
            NamespaceView(
                namespace=name,
                pod_count=count("pods", name),
                running_pod_count=count("running", name),
                serving_pod_count=count("serving", name),
                cpu_usage_cores=round_or_none(cpu, 3),
                cpu_usage_percent=percent(cpu, cluster.get("cpu")),
                cpu_request_cores=round_or_none(parts["cpu_requests"].get(name), 3),
                memory_usage_gb=gib(memory),
                memory_usage_percent=percent(memory, cluster.get("memory")),
                memory_request_gb=gib(finite(parts["memory_requests"].get(name))),
                gpu_devices=count("gpu_devices", name),
                whole_gpus=count("gpu_whole", name),
                mig_instances=count("gpu_mig", name),
                shared_gpus=count("gpu_shared", name),
                gpu_usage_percent=percent(finite(parts["gpu_util"].get(name))),
            )
        )
    return views


@dataclass(frozen=True)
class SeriesStatistics:
    average: float | None
    peak: float | None
    current: float | None


@dataclass(frozen=True)
class StatisticsView:
    time_range: str
    hours: int
    start: datetime
    end: datetime
    step_seconds: int
    cpu_usage: SeriesStatistics
    memory_usage: SeriesStatistics
    gpu_usage: SeriesStatistics
    pod_count: SeriesStatistics
    running_pod_count: SeriesStatistics


def assemble_statistics(
    values: Mapping[str, float], hours: int, start: datetime, end: datetime, step_seconds: int
) -> StatisticsView:
    """The view from ``<series>/<avg|max|now>`` values (q.window_statistics's parts)."""

    def stats(series: str, ratio: bool) -> SeriesStatistics:
        def one(stat: str) -> float | None:
            value = finite(values.get(f"{series}/{stat}"))
            return percent(value) if ratio else round_or_none(value, 1)

        return SeriesStatistics(average=one("avg"), peak=one("max"), current=one("now"))

    return StatisticsView(
        time_range=f"{hours} hour{'s' if hours != 1 else ''}",
        hours=hours,
        start=start,
        end=end,
        step_seconds=step_seconds,
        cpu_usage=stats("cpu", True),
        memory_usage=stats("memory", True),
        gpu_usage=stats("gpu", True),
        pod_count=stats("pods", False),
        running_pod_count=stats("running_pods", False),
    )


# -- the service -------------------------------------------------------------------------------


class ClusterService:
    """Read-only views of the cluster; every method is a few server-side aggregated queries."""

    def __init__(self, prom: PromClient, clock: Clock, views: LiveViews | None = None) -> None:
        self.prom = prom
        self.clock = clock
        self.views = views or LiveViews(0)

    def _rows(self, promql: str, at: float | None = None) -> Rows:
        return split_parts(self.prom.query(promql, at))

    def _union(self, parts: Mapping[str, str]) -> Rows:
        """The rows of a tagged union of ``parts``, asked as UNION_QUERIES smaller unions side by
        side. Prometheus' ``or`` hashes every row of its left side, so in one long union the
        first parts' rows are hashed again for each part that follows: the pod list of 512
        GPUs (15 parts, 6,000 rows) took 107 ms of Prometheus' time as one query, 55 ms as its
        parts alone."""
        names = list(parts)
        size = math.ceil(len(names) / UNION_QUERIES)
        calls = [
            functools.partial(
                self.prom.query,
                tagged({name: parts[name] for name in names[i : i + size]}, q.TAG),
            )
            for i in range(0, len(names), size)
        ]
        answers = self.prom.gather(calls, max_parallel=len(calls))
        return split_parts(sample for answer in answers for sample in answer)

    def list_pods(self, namespace: str | None = None, serving_only: bool = False) -> list[PodView]:
        """Pods (of a namespace); ``serving_only``: those our exporter recognises as serving."""
        if namespace is not None:
            check_namespace(namespace)
            pods = assemble_pods(self._union(q.pod_parts(q.PodScope(namespace=namespace))))
        else:
            pods = self._every_pod().value
        return [p for p in pods if p.model_type is not None] if serving_only else pods

    def _every_pod(self) -> Kept[list[PodView]]:
        return self.views.get("pods", lambda: assemble_pods(self._union(q.pod_parts())))

    def _every_node(self) -> Kept[list[NodeView]]:
        return self.views.get("nodes", lambda: assemble_nodes(self._union(q.node_parts())))

    def pod_detail(self, namespace: str, name: str) -> PodDetail:
        check_namespace(namespace)
        check_object_name("pod", name)
        found = assemble_pods(self._rows(q.pods(q.PodScope(namespace=namespace, pod=name))))
        if not found:
            raise ResourceNotFound(
                f"Pod {namespace}/{name} not found.", {"namespace": namespace, "podName": name}
            )
        return assemble_pod_detail(found[0], self._rows(q.pod_detail(namespace, name)))

    def list_nodes(self) -> list[NodeView]:
        return self._every_node().value

    def node_detail(self, name: str) -> NodeDetail:
        check_object_name("node", name)
        found = assemble_nodes(self._rows(q.nodes(name)))
        if not found:
            raise ResourceNotFound(f"Node {name} not found.", {"nodeName": name})
        gpus = assemble_node_gpus(name, self._rows(q.node_gpus(name)))
        pods = assemble_pods(self._union(q.pod_parts(q.PodScope(node=name))))
        return NodeDetail(node=found[0], gpus=gpus, pods=pods)

    def usage(self, namespace: str | None = None) -> UsageView:
        if namespace is None:
            every = self._every_pod()
            pods, age = every.value, every.age_s
        else:
            pods, age = self.list_pods(namespace), 0.0
        nodes = self._every_node()
        # When the answer's data were read: its oldest live view's time.
        read = self.clock.now() - timedelta(seconds=max(age, nodes.age_s))
        return UsageView(
            pods=pods,
            nodes=nodes.value,
            cluster_summary=summarise(pods, nodes.value),
            timestamp=read,
        )

    def top_pods(self, resource_type: ResourceType, limit: int) -> list[TopPodView]:
        if resource_type not in RESOURCE_TYPES:
            raise InvalidParameter(
                f"resourceType must be one of {', '.join(RESOURCE_TYPES)}.",
                {"resourceType": resource_type},
            )
        if not 1 <= limit <= 100:
            raise InvalidParameter("limit must be between 1 and 100.", {"limit": limit})
        return top_pods(self.list_pods(), resource_type, limit)

    def namespaces(self) -> list[NamespaceView]:
        return self.views.get(
            "namespaces", lambda: assemble_namespaces(self._rows(q.namespaces()))
        ).value

    def statistics(self, hours: int) -> StatisticsView:
        if not 1 <= hours <= MAX_STATISTICS_HOURS:
            raise InvalidParameter(
                f"hours must be between 1 and {MAX_STATISTICS_HOURS}.", {"hours": hours}
            )
        # Evaluated at the whole second the answer reports, so the window can be reproduced.
        end = self.clock.now().replace(microsecond=0)
        window = hours * 3600
        values = {
            name: rows[0].value
            for name, rows in split_parts(
                self.prom.query(q.window_statistics(window), end.timestamp())
            ).items()
        }
        start = datetime.fromtimestamp(end.timestamp() - window, UTC)
        step = q.STATISTICS_INTERVAL_SECONDS
        return assemble_statistics(values, hours, start, end, step)


MAX_STATISTICS_HOURS = 24 * 90
# How many queries the parts of a long tagged union are split into (ClusterService._union).
UNION_QUERIES = 4
