"""The simulated fleet's model: frozen dataclasses of nodes, GPUs, MIG instances, pods, events.

Everything static about the fleet is settled once, when :mod:`simulator.fleet.parse` reads the
YAML: GPU identities (UUID, serial, PCI bus id, VBIOS), MIG placements and instance ids, pod
uids, container ids and process ids. What changes with time lives in :mod:`simulator.state`.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import math
import uuid as uuidlib
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Literal

from gpucatalog import GpuModel, MigProfile

WorkloadShape = Literal["inference", "training", "notebook", "batch"]
PodPhase = Literal["Running", "Succeeded", "Failed", "Pending"]
DeviceIdForm = Literal["uuid", "index", "legacy-mig", "gke"]
EventKind = Literal["overheat", "xid", "ecc", "row_remap_pending", "gpu_lost", "nvml_hang"]

DAY_SECONDS = 86400
GIB = 1024**3
SYSTEM_RESERVED_FRACTION = 0.02  # of a node's CPU and memory, kept from pods (kube/system-reserved)


class SimulatorError(Exception):
    """Base of the simulator's own errors."""


class FleetError(SimulatorError, ValueError):
    """A fleet description that cannot be simulated; the message says where and why."""


# -- deterministic identities ------------------------------------------------------------------


def stable_hash(*parts: object) -> int:
    """A 64-bit hash of ``parts`` that is the same in every process and Python version."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big")


def stable_uuid(*parts: object) -> str:
    """A uuid4-shaped UUID derived from ``parts``."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()
    return str(uuidlib.UUID(bytes=digest[:16], version=4))


# -- nodes, GPUs, pods and events --------------------------------------------------------------


@dataclass(frozen=True)
class MigInstanceSpec:
    """One MIG device: a GPU instance with a single compute instance spanning it."""

    slot: int  # position in the YAML layout; also the NVML MIG device index
    profile: MigProfile
    start_slice: int  # first memory slice of the placement
    gpu_instance_id: int
    compute_instance_id: int
    uuid: str  # "MIG-<uuid>"

    @property
    def memory_bytes(self) -> int:
        return int(self.profile.memory_gb * GIB)


@dataclass(frozen=True)
class GpuSpec:
    index: int
    model: GpuModel
    product_name: str  # what nvmlDeviceGetName returns
    uuid: str  # "GPU-<uuid>"
    serial: str
    pci_bus_id: str  # "00000000:17:00.0"
    vbios_version: str
    minor_number: int
    numa_node: int
    mig_enabled: bool
    mig_instances: tuple[MigInstanceSpec, ...] = ()
    time_slicing_replicas: int = 0  # 0: not time-sliced

    @property
    def memory_bytes(self) -> int:
        return self.model.memory_gb * GIB

    @property
    def bare_uuid(self) -> str:
        return self.uuid.removeprefix("GPU-")

    def mig_instance(self, slot: int) -> MigInstanceSpec:
        return self.mig_instances[slot]


@dataclass(frozen=True)
class DeviceRef:
    """One device a container holds: a whole GPU, a MIG instance (slot) or a replica."""

    gpu_index: int
    mig_slot: int | None = None
    replica: int | None = None

    @property
    def kind(self) -> Literal["gpu", "mig", "replica"]:
        if self.mig_slot is not None:
            return "mig"
        if self.replica is not None:
            return "replica"
        return "gpu"


@dataclass(frozen=True)
class ContainerSpec:
    name: str
    image: str
    command: tuple[str, ...]
    args: tuple[str, ...]
    devices: tuple[DeviceRef, ...]
    container_id: str  # 64 hex digits, without "containerd://"
    pid: int | None  # the GPU process this container runs; None when it runs none
    # CPU and memory as the pod spec requests them; limits None when the spec sets none.
    cpu_request_cores: float = 1.0
    memory_request_bytes: int = GIB
    cpu_limit_cores: float | None = None
    memory_limit_bytes: int | None = None


@dataclass(frozen=True)
class OwnerRef:
    kind: str
    name: str
    uid: str


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_UNIX_DAY0_WEEKDAY = 3  # 1970-01-01 was a Thursday


@dataclass(frozen=True)
class PodSchedule:
    """When a scheduled pod exists: windows of ``for_seconds`` that open ``at_seconds`` after a
    UTC midnight, either every ``every_seconds`` counted from the fleet epoch's midnight
    (``origin``) or on the listed ``weekdays`` (0 = Monday). Edges are whole minutes, so a pod is
    present for whole UTC minutes (the simulator's load is per minute). A window holds its start
    and not its end: ``begin <= t < end``. Windows repeat backwards before the epoch too."""

    at_seconds: int
    for_seconds: int
    origin: int  # unix seconds of the fleet epoch's UTC midnight
    every_seconds: int | None = None
    weekdays: tuple[int, ...] = ()

    def window_at(self, t: float) -> tuple[float, float] | None:
        """The window ``(begin, end)`` that holds ``t``, or None outside every window."""
        if self.every_seconds is not None:
            first = self.origin + self.at_seconds
            begin = first + math.floor((t - first) / self.every_seconds) * self.every_seconds
            return (begin, begin + self.for_seconds) if t < begin + self.for_seconds else None
        day = math.floor(t / DAY_SECONDS)
        for d in (day, day - 1):  # a window shorter than a day may run past midnight
            begin = d * DAY_SECONDS + self.at_seconds
            if self._on_day(d) and begin <= t < begin + self.for_seconds:
                return (begin, begin + self.for_seconds)
        return None

    def _on_day(self, unix_day: int) -> bool:
        return (unix_day + _UNIX_DAY0_WEEKDAY) % 7 in self.weekdays

    def windows(self, start: float, end: float) -> Iterator[tuple[float, float]]:
        """Every window that overlaps ``[start, end)``, in time order."""
        if self.every_seconds is not None:
            first = self.origin + self.at_seconds
            k = math.floor((start - self.for_seconds - first) / self.every_seconds)
            while True:
                begin = first + k * self.every_seconds
                if begin >= end:
                    return
                if begin + self.for_seconds > start:
                    yield (begin, begin + self.for_seconds)
                k += 1
        day = math.floor((start - self.at_seconds - self.for_seconds) / DAY_SECONDS)
        while True:
            begin = day * DAY_SECONDS + self.at_seconds
            if begin >= end:
                return
            if self._on_day(day) and begin + self.for_seconds > start:
                yield (begin, begin + self.for_seconds)
            day += 1


@dataclass(frozen=True)
class PodSpec:
    name: str
    namespace: str
    uid: str
    phase: PodPhase
    workload: WorkloadShape
    gpu_memory_bytes: int  # used on each device the pod holds
    device_id_form: DeviceIdForm
    shared_resource: bool  # replicas are published as nvidia.com/gpu.shared
    containers: tuple[ContainerSpec, ...]
    owner: OwnerRef | None
    start_time: float  # unix seconds
    pod_ip: str | None
    labels: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    # A scheduled pod (fleet key ``schedule``) exists only inside its windows; see pod_at.
    schedule: PodSchedule | None = None
    window: tuple[float, float] | None = None  # set on the occurrence of a scheduled pod
    owner_given: bool = True  # False when the owner was guessed (or left out) in the YAML
    # The ResourceClaim through which the pod's devices were allocated (NVIDIA's DRA driver)
    # instead of the device plugin; None: device plugin.
    dra_claim: str | None = None

    @property
    def running(self) -> bool:
        return self.phase == "Running"

    @property
    def created_time(self) -> float:
        """creationTimestamp: 4 s before a standing pod starts; an occurrence of a scheduled pod
        is created and started at its window's start."""
        return self.start_time if self.window is not None else self.start_time - 4

    def present_at(self, t: float) -> bool:
        """Whether the pod exists at ``t``: always without a schedule, else inside a window."""
        return self.schedule is None or self.schedule.window_at(t) is not None

    def pod_at(self, t: float) -> PodSpec | None:
        """The pod as it exists at ``t``: itself without a schedule; for a scheduled pod, the
        occurrence whose window holds ``t`` (None outside every window). This is the one place
        that decides presence; the kubelet, the Kubernetes API, NVML and the cluster series
        all ask it."""
        if self.schedule is None:
            return self
        window = self.schedule.window_at(t)
        return None if window is None else self.occurrence(window)

    def occurrence(self, window: tuple[float, float]) -> PodSpec:
        """The pod of one window. Each occurrence is a new pod, as a CronJob makes them: the
        Job is ``<name>-<window start in minutes>`` (unless the YAML names an owner), the pod
        ``<job>-<5 characters>``, with its own uid and container ids; GPU devices, pids,
        requests and IP are the scheduled pod's."""
        return _occurrence(self, window)

    @property
    def active(self) -> bool:
        """Holds its devices now (finished pods are still listed by the kubelet)."""
        return self.phase in ("Running", "Pending")


@dataclass(frozen=True)
class EventSpec:
    """A hardware event on one GPU, at ``epoch + at_seconds`` and every ``every_seconds``."""

    kind: EventKind
    gpu_index: int
    at_seconds: float
    every_seconds: float | None = None
    times: int | None = None  # occurrences; None = unbounded when repeating
    duration_seconds: float = 0.0
    xid: int | None = None
    delta_celsius: float = 0.0
    corrected: int = 0  # ECC errors per occurrence
    uncorrected: int = 0
    rows_correctable: int = 0  # rows remapped when a row_remap_pending window ends
    rows_uncorrectable: int = 0


@dataclass(frozen=True)
class NodeSpec:
    name: str
    ordinal: int  # 1-based position in the fleet
    cpu_cores: int
    memory_gib: float
    driver_version: str
    cuda_version: str  # "12.4"
    gpus: tuple[GpuSpec, ...]
    pods: tuple[PodSpec, ...]
    events: tuple[EventSpec, ...]
    labels: dict[str, str] = field(default_factory=dict, hash=False, compare=False)

    def pods_at(self, t: float) -> tuple[PodSpec, ...]:
        """The node's pods that exist at ``t`` (:meth:`PodSpec.pod_at`), in fleet order."""
        found = (pod.pod_at(t) for pod in self.pods)
        return tuple(pod for pod in found if pod is not None)

    def presence_changes(self, start: float, end: float) -> list[float]:
        """Times in ``(start, end]`` at which a scheduled pod appears or disappears."""
        edges: set[float] = set()
        for pod in self.pods:
            if pod.schedule is None:
                continue
            for window in pod.schedule.windows(start, end + 1):
                edges.update(edge for edge in window if start < edge <= end)
        return sorted(edges)

    @property
    def cuda_driver_version(self) -> int:
        """As nvmlSystemGetCudaDriverVersion reports it: 12040 for 12.4."""
        major, _, minor = self.cuda_version.partition(".")
        return int(major) * 1000 + int(minor or 0) * 10

    @property
    def host_ip(self) -> str:
        return f"10.0.0.{10 + self.ordinal}"

    @property
    def memory_bytes(self) -> int:
        return int(self.memory_gib * GIB)

    @property
    def allocatable_cpu_cores(self) -> float:
        """What the kubelet offers pods: capacity less a system reservation."""
        return round(self.cpu_cores * (1 - SYSTEM_RESERVED_FRACTION), 3)

    @property
    def allocatable_memory_bytes(self) -> int:
        mib = 1024**2
        return int(self.memory_bytes * (1 - SYSTEM_RESERVED_FRACTION)) // mib * mib


@dataclass(frozen=True)
class FleetSpec:
    seed: int
    epoch: dt.datetime  # UTC; event offsets count from here, and the driver loads here
    nodes: tuple[NodeSpec, ...]
    source: str = "<fleet>"

    @property
    def epoch_seconds(self) -> float:
        return self.epoch.timestamp()

    def node(self, name: str) -> NodeSpec:
        for node in self.nodes:
            if node.name == name:
                return node
        raise KeyError(name)


# -- MIG instance ids --------------------------------------------------------------------------


def gpu_instance_id(start_slice: int, memory_slices: int, total_memory_slices: int) -> int:
    """NVML's GPU-instance id for a placement: ids count placements from the largest size.

    On an 8-slice GPU: 7g → 0; 4g/3g at 0, 4 → 1, 2; two-slice at 0, 2, 4, 6 → 3..6;
    one-slice at 0..6 → 7..13 (so a 1g at slice 6 is GI 13, as drivers report it).
    """
    return total_memory_slices // memory_slices - 1 + start_slice // memory_slices


# -- occurrences of scheduled pods -------------------------------------------------------------

# The characters Kubernetes draws generated name suffixes from (k8s.io/apimachinery rand).
_NAME_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


@functools.lru_cache(maxsize=4096)
def _occurrence(pod: PodSpec, window: tuple[float, float]) -> PodSpec:
    begin = window[0]
    job = f"{pod.name}-{int(begin) // 60}"
    h = stable_hash(pod.uid, begin, "occurrence")
    suffix = "".join(
        _NAME_SUFFIX_ALPHABET[(h >> (6 * i)) % len(_NAME_SUFFIX_ALPHABET)] for i in range(5)
    )
    name = f"{job}-{suffix}"
    uid = stable_uuid(pod.uid, begin, "pod")
    owner = (
        pod.owner
        if pod.owner_given
        else OwnerRef("Job", job, stable_uuid(pod.namespace, "Job", job, pod.uid))
    )
    labels = dict(pod.labels)
    if owner is not None and owner.kind == "Job":
        labels.setdefault("job-name", owner.name)
    containers = tuple(
        replace(
            c,
            container_id=hashlib.sha256(f"{c.container_id}\x1f{begin}".encode()).hexdigest(),
        )
        for c in pod.containers
    )
    return replace(
        pod,
        name=name,
        uid=uid,
        owner=owner,
        containers=containers,
        start_time=float(begin),
        window=window,
        labels=labels,
    )
