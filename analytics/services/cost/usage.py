"""What the cost model reads from Prometheus for a window: GPUs, MIG instances and pods, with
the steps each was present, held and idle (analytics.prom.queries_cost), as plain records."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from analytics.prom import PromClient
from analytics.prom import queries_cost as q
from analytics.prom import utilization as util
from analytics.prom.client import Sample
from analytics.services.kernel.ids import device_id_for

GIB = 1024**3


@dataclass(frozen=True)
class Window:
    """``days`` ending at ``end`` (unix seconds, a multiple of ``resolution_s``)."""

    days: int
    end: float
    resolution_s: int

    @property
    def seconds(self) -> int:
        return self.days * 86400

    @property
    def start(self) -> float:
        return self.end - self.seconds

    @property
    def steps(self) -> int:
        return self.seconds // self.resolution_s

    @property
    def step_hours(self) -> float:
        return self.resolution_s / 3600.0

    @property
    def hours(self) -> float:
        return self.seconds / 3600.0

    def start_time(self) -> datetime:
        return datetime.fromtimestamp(self.start, UTC)

    def end_time(self) -> datetime:
        return datetime.fromtimestamp(self.end, UTC)

    @classmethod
    def ending(cls, now: datetime, days: int) -> Window:
        resolution = q.resolution_seconds(days * 86400)
        end = (int(now.timestamp()) // resolution) * resolution
        return cls(days, float(end), resolution)


@dataclass
class MigUsage:
    mig_uuid: str
    profile: str
    gpu_instance_id: int | None
    present_steps: float = 0.0
    held_steps: float = 0.0
    idle_steps: float = 0.0
    # SM activity (0-1) over the steps it was reported; None where the GPU has none.
    utilization_mean: float | None = None
    utilization_peak: float | None = None

    @property
    def utilization_source(self) -> str | None:
        """SM_ACTIVE where the instance reported SM activity; None otherwise (NVML has no
        other utilisation per MIG instance: idleness is then read from its memory)."""
        return util.SM_ACTIVE if self.utilization_mean is not None else None


@dataclass
class DeviceUsage:
    uuid: str
    node: str
    index: int
    product_name: str
    present_steps: float = 0.0
    held_steps: float = 0.0  # a pod held the whole GPU
    idle_steps: float = 0.0  # ... while it was idle
    utilization_mean: float | None = None
    utilization_peak: float | None = None
    memory_peak_bytes: float | None = None
    memory_total_bytes: float | None = None
    mig: dict[str, MigUsage] = field(default_factory=dict)
    sm_active_steps: float = 0.0  # steps with SM activity: the utilisation's source

    @property
    def utilization_source(self) -> str:
        """SM_ACTIVE when the GPU reported SM activity in the window, else GPU_UTILIZATION."""
        return util.source(self.sm_active_steps > 0)

    @property
    def device_id(self) -> str:
        return device_id_for(self.node, self.index)


@dataclass
class PodUnitUsage:
    """One pod on one unit (a whole GPU, or a MIG instance when ``mig_uuid`` is set)."""

    namespace: str
    pod: str
    node: str
    uuid: str
    mig_uuid: str
    held_steps: float = 0.0  # share-weighted: 1/k per step when k pods hold the unit
    idle_steps: float = 0.0
    memory_peak_bytes: float | None = None


@dataclass(frozen=True)
class Holding:
    """A unit a pod holds at the end of the window."""

    namespace: str
    pod: str
    node: str
    uuid: str
    mig_uuid: str
    device_id: str


@dataclass
class Usage:
    window: Window
    devices: dict[str, DeviceUsage]
    pods: dict[tuple[str, str, str, str], PodUnitUsage]
    # (namespace, pod) -> {"team": ..., "user": ..., "project": ...} from pod labels.
    owners: dict[tuple[str, str], dict[str, str]]


def read_usage(
    prom: PromClient,
    window: Window,
    idle_threshold: float,
    owner_labels: Mapping[str, str],
) -> Usage:
    """Three aggregating queries, run side by side."""
    args = (window.seconds, window.resolution_s, window.end)
    calls: list[Callable[[], list[Sample]]] = [
        lambda: prom.query(q.device_usage(*args, idle_threshold)),
        lambda: prom.query(q.pod_usage(*args, idle_threshold)),
        lambda: prom.query(q.pod_owners(*args, owner_labels)),
    ]
    device_rows, pod_rows, owner_rows = prom.gather(calls, max_parallel=3)
    devices = _devices(device_rows)
    pods = _pods(pod_rows)
    owners: dict[tuple[str, str], dict[str, str]] = {}
    for sample in owner_rows:
        key = (sample.labels.get("namespace", ""), sample.labels.get("pod", ""))
        owners[key] = {
            role: sample.labels.get(q.pod_label(label), "") for role, label in owner_labels.items()
        }
    return Usage(window, devices, pods, owners)


def read_holdings(prom: PromClient, end: float) -> list[Holding]:
    holdings = []
    for sample in prom.query(q.holdings_now(end)):
        labels = sample.labels
        node = labels.get("node", "")
        holdings.append(
            Holding(
                namespace=labels.get("namespace", ""),
                pod=labels.get("pod", ""),
                node=node,
                uuid=labels.get("uuid", ""),
                mig_uuid=labels.get("mig_uuid", ""),
                device_id=device_id_for(node, _int(labels.get("gpu")) or 0),
            )
        )
    return holdings


_MIG_STATS = ("mig_present", "mig_held", "mig_idle", "mig_utilization_mean", "mig_utilization_peak")


def _devices(rows: list[Sample]) -> dict[str, DeviceUsage]:
    devices: dict[str, DeviceUsage] = {}
    for sample in rows:
        if sample.labels.get(q.STAT) == "present":
            labels = sample.labels
            devices[labels["uuid"]] = DeviceUsage(
                uuid=labels["uuid"],
                node=labels.get("node", ""),
                index=_int(labels.get("gpu")) or 0,
                product_name=labels.get("model_name", ""),
                present_steps=sample.value,
            )
    for sample in rows:
        stat = sample.labels.get(q.STAT)
        device = devices.get(sample.labels.get("uuid", ""))
        if device is None or stat == "present":
            continue
        if stat in _MIG_STATS:
            mig_uuid = sample.labels.get("mig_uuid", "")
            if stat == "mig_present":
                instance = device.mig.get(mig_uuid)
                if instance is None or sample.value > instance.present_steps:
                    # A changed layout leaves two series for one instance: keep the longer.
                    device.mig[mig_uuid] = MigUsage(
                        mig_uuid,
                        sample.labels.get("profile", ""),
                        _int(sample.labels.get("gpu_instance_id")),
                        sample.value,
                        instance.held_steps if instance else 0.0,
                        instance.idle_steps if instance else 0.0,
                        instance.utilization_mean if instance else None,
                        instance.utilization_peak if instance else None,
                    )
                continue
            instance = device.mig.setdefault(mig_uuid, MigUsage(mig_uuid, "", None))
            if stat == "mig_held":
                instance.held_steps = sample.value
            elif stat == "mig_idle":
                instance.idle_steps = sample.value
            elif stat == "mig_utilization_mean":
                instance.utilization_mean = sample.value
            else:
                instance.utilization_peak = sample.value
        elif stat == "held":
            device.held_steps = sample.value
        elif stat == "idle":
            device.idle_steps = sample.value
        elif stat == "utilization_mean":
            device.utilization_mean = sample.value
        elif stat == "utilization_peak":
            device.utilization_peak = sample.value
        elif stat == "memory_peak":
            device.memory_peak_bytes = sample.value
        elif stat == "memory_total":
            device.memory_total_bytes = sample.value
        elif stat == "sm_active":
            device.sm_active_steps = sample.value
    return devices


def _pods(rows: list[Sample]) -> dict[tuple[str, str, str, str], PodUnitUsage]:
    pods: dict[tuple[str, str, str, str], PodUnitUsage] = {}
    for sample in rows:
        labels = sample.labels
        key = (
            labels.get("namespace", ""),
            labels.get("pod", ""),
            labels.get("uuid", ""),
            labels.get("mig_uuid", ""),
        )
        stat = labels.get(q.STAT)
        entry = pods.get(key)
        if entry is None:
            entry = PodUnitUsage(key[0], key[1], labels.get("node", ""), key[2], key[3])
            pods[key] = entry
        if labels.get("node"):
            entry.node = labels["node"]
        if stat == "held":
            entry.held_steps = sample.value
        elif stat == "idle":
            entry.idle_steps = sample.value
        elif stat == "memory_peak":
            entry.memory_peak_bytes = sample.value
    # Memory readings of pods that held nothing in the window are not costed.
    return {key: pod for key, pod in pods.items() if pod.held_steps > 0}


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None
