"""The fleet YAML read and validated into the fleet's model (:mod:`simulator.fleet.model`).

Identities the YAML leaves out are derived here, deterministically from the seed: GPU UUIDs,
serials, PCI bus ids, VBIOS versions, MIG instance UUIDs, pod uids, container ids and process
ids. MIG layouts are placed by :func:`gpucatalog.validate_layout`, the placement the analytics
service plans with. Unknown keys and impossible fleets are :class:`FleetError` errors that say
where. The schema is documented at the top of ``simulator/fleets/demo.yaml``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, cast, get_args

import yaml

from gpucatalog import MODELS, MigLayoutError, mig_profiles, model_by_id, validate_layout
from gpucatalog.mig import total_slices
from simulator.fleet.model import (
    DAY_SECONDS,
    GIB,
    WEEKDAYS,
    ContainerSpec,
    DeviceIdForm,
    DeviceRef,
    EventKind,
    EventSpec,
    FleetError,
    FleetSpec,
    GpuSpec,
    MigInstanceSpec,
    NodeSpec,
    OwnerRef,
    PodPhase,
    PodSchedule,
    PodSpec,
    WorkloadShape,
    gpu_instance_id,
    stable_hash,
    stable_uuid,
)

FIRST_PID = 20000
# CPU cores and memory GiB a container requests when the fleet does not say: by the pod's
# workload for the containers that hold GPUs (or all, when none does), small for sidecars.
WORKLOAD_REQUESTS: dict[str, tuple[float, float]] = {
    "inference": (4.0, 16.0),
    "training": (16.0, 128.0),
    "notebook": (2.0, 8.0),
    "batch": (8.0, 32.0),
}
SIDECAR_REQUESTS = (0.1, 0.25)

_GPU_UUID = re.compile(r"^GPU-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_PCI_BUS_ID = re.compile(r"^[0-9A-F]{8}:[0-9A-F]{2}:[0-9A-F]{2}\.[0-7]$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
# Bus numbers of an HGX board's eight GPUs; further GPUs continue the pattern.
_PCI_BUSES = (0x17, 0x2A, 0x3A, 0x5D, 0x9A, 0xAB, 0xBA, 0xDB)
_VBIOS_PREFIX = {"Ampere": "92.00", "Hopper": "96.00", "Ada Lovelace": "95.02"}


def parse_duration(value: object, where: str = "duration") -> float:
    """Seconds in ``"3d"``, ``"2h30m"``, ``"45s"`` or a plain number of seconds."""
    if isinstance(value, bool):
        raise FleetError(f"{where}: expected a duration like '2h30m', got {value!r}")
    if isinstance(value, int | float):
        if value < 0:
            raise FleetError(f"{where}: a duration cannot be negative ({value})")
        return float(value)
    if isinstance(value, str):
        match = _DURATION.match(value.strip())
        if match is not None and value.strip():
            days, hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
            return float(days * 86400 + hours * 3600 + minutes * 60 + seconds)
    raise FleetError(
        f"{where}: {value!r} is not a duration; write it like '45s', '90m', '2h30m' or '3d'"
    )


# -- YAML reading ------------------------------------------------------------------------------

_MISSING: Any = object()


class _Fields:
    """Typed access to one YAML mapping; unknown keys are errors (they are usually typos)."""

    def __init__(self, data: object, where: str) -> None:
        if not isinstance(data, Mapping):
            raise FleetError(f"{where}: expected a mapping, got {_kind(data)}")
        self.data: Mapping[str, Any] = data
        self.where = where
        self._read: set[str] = set()

    def at(self, key: str) -> str:
        return f"{self.where}.{key}"

    def raw(self, key: str, default: Any = _MISSING) -> Any:
        self._read.add(key)
        if key not in self.data or self.data[key] is None:
            if default is _MISSING:
                raise FleetError(f"{self.where}: '{key}' is required")
            return default
        return self.data[key]

    def text(self, key: str, default: Any = _MISSING) -> str:
        value = self.raw(key, default)
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise FleetError(f"{self.at(key)}: expected text, got {_kind(value)}")
        return str(value)

    def integer(self, key: str, default: Any = _MISSING, minimum: int | None = None) -> int:
        value = self.raw(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise FleetError(f"{self.at(key)}: expected an integer, got {_kind(value)}")
        if minimum is not None and value < minimum:
            raise FleetError(f"{self.at(key)}: must be at least {minimum}, got {value}")
        return value

    def number(self, key: str, default: Any = _MISSING, minimum: float = 0.0) -> float:
        value = self.raw(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise FleetError(f"{self.at(key)}: expected a number, got {_kind(value)}")
        if value < minimum:
            raise FleetError(f"{self.at(key)}: must be at least {minimum}, got {value}")
        return float(value)

    def flag(self, key: str, default: bool) -> bool:
        value = self.raw(key, default)
        if not isinstance(value, bool):
            raise FleetError(f"{self.at(key)}: expected true or false, got {_kind(value)}")
        return value

    def items(self, key: str, default: Any = _MISSING) -> list[Any]:
        value = self.raw(key, default)
        if not isinstance(value, list):
            raise FleetError(f"{self.at(key)}: expected a list, got {_kind(value)}")
        return value

    def strings(self, key: str) -> tuple[str, ...] | None:
        if self.data.get(key) is None:
            self._read.add(key)
            return None
        values = self.items(key)
        for i, value in enumerate(values):
            if isinstance(value, bool) or not isinstance(value, str | int | float):
                raise FleetError(f"{self.at(key)}[{i}]: expected text, got {_kind(value)}")
        return tuple(str(v) for v in values)

    def labels(self, key: str) -> dict[str, str]:
        value = self.raw(key, {})
        if not isinstance(value, Mapping):
            raise FleetError(f"{self.at(key)}: expected a mapping, got {_kind(value)}")
        return {str(k): str(v) for k, v in value.items()}

    def choice(self, key: str, allowed: tuple[str, ...], default: Any = _MISSING) -> str:
        value = self.text(key, default)
        if value not in allowed:
            raise FleetError(
                f"{self.at(key)}: {value!r} is not one of {', '.join(repr(a) for a in allowed)}"
            )
        return value

    def done(self) -> None:
        unknown = sorted(str(k) for k in self.data if k not in self._read)
        if unknown:
            raise FleetError(
                f"{self.where}: unknown key(s) {', '.join(repr(k) for k in unknown)}; "
                f"known here: {', '.join(sorted(self._read))}"
            )


def _kind(value: object) -> str:
    if value is None:
        return "nothing"
    return f"{type(value).__name__} {value!r}"[:80]


def _parse_epoch(value: object, where: str) -> dt.datetime:
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = dt.datetime.fromisoformat(value.strip())
        except ValueError as exc:
            raise FleetError(
                f"{where}: {value!r} is not an ISO time like 2026-01-01T00:00:00Z"
            ) from exc
    else:
        raise FleetError(f"{where}: expected an ISO time like 2026-01-01T00:00:00Z")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


def load_fleet(path: str | Path) -> FleetSpec:
    """Read and validate a fleet YAML file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise FleetError(f"{path}: cannot read the fleet file ({exc.strerror or exc})") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        place = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise FleetError(f"{path}: not valid YAML{place}: {problem}") from exc
    return parse_fleet(data, source=str(path))


def parse_fleet(data: object, source: str = "<fleet>") -> FleetSpec:
    """Validate an already-parsed fleet description (the YAML's top-level mapping)."""
    try:
        return _parse_fleet(data, source)
    except FleetError as exc:
        raise type(exc)(f"{source}: {exc}") from None


def _parse_fleet(data: object, source: str) -> FleetSpec:
    top = _Fields(data, "fleet")
    seed = top.integer("seed", 0)
    epoch = _parse_epoch(top.raw("epoch"), "fleet.epoch")
    raw_nodes = top.items("nodes")
    top.done()
    if not raw_nodes:
        raise FleetError("fleet.nodes: at least one node is needed")
    nodes: list[NodeSpec] = []
    names: set[str] = set()
    for i, raw in enumerate(raw_nodes):
        node = _parse_node(raw, f"nodes[{i}]", i + 1, seed, epoch.timestamp())
        if node.name in names:
            raise FleetError(f"nodes[{i}].name: {node.name!r} is used twice")
        names.add(node.name)
        nodes.append(node)
    return FleetSpec(seed=seed, epoch=epoch, nodes=tuple(nodes), source=source)


def _parse_node(raw: object, where: str, ordinal: int, seed: int, epoch: float) -> NodeSpec:
    f = _Fields(raw, where)
    name = f.text("name")
    if not _DNS_LABEL.match(name):
        raise FleetError(f"{f.at('name')}: {name!r} is not a valid Kubernetes node name")
    cpu_cores = f.integer("cpu_cores", 64, minimum=1)
    memory_gib = f.number("memory_gib", 512.0, minimum=1.0)
    driver_version = f.text("driver_version", "550.127.05")
    cuda_version = f.text("cuda_version", "12.4")
    if not re.match(r"^\d+\.\d+$", cuda_version):
        raise FleetError(f"{f.at('cuda_version')}: {cuda_version!r} is not like '12.4'")
    labels = f.labels("labels")
    raw_gpus = f.items("gpus")
    raw_pods = f.items("pods", [])
    raw_events = f.items("events", [])
    f.done()
    if not raw_gpus:
        raise FleetError(f"{where}.gpus: a node needs at least one GPU")

    gpu_entries: list[tuple[str, Mapping[str, Any]]] = []
    for i, entry in enumerate(raw_gpus):
        g = _Fields(entry, f"{where}.gpus[{i}]")
        count = g.integer("count", 1, minimum=1)
        for _ in range(count):
            gpu_entries.append((g.where, g.data))
    total = len(gpu_entries)
    gpus = tuple(
        _parse_gpu(data, gw, index, total, name, seed)
        for index, (gw, data) in enumerate(gpu_entries)
    )
    events = tuple(
        _parse_event(raw, f"{where}.events[{i}]", len(gpus)) for i, raw in enumerate(raw_events)
    )
    pods = _parse_pods(raw_pods, f"{where}.pods", name, ordinal, gpus, seed, epoch)
    node = NodeSpec(
        name=name,
        ordinal=ordinal,
        cpu_cores=cpu_cores,
        memory_gib=memory_gib,
        driver_version=driver_version,
        cuda_version=cuda_version,
        gpus=gpus,
        pods=pods,
        events=events,
        labels=labels,
    )
    active = [c for pod in pods if pod.active for c in pod.containers]
    cpu = sum(c.cpu_request_cores for c in active)
    memory = sum(c.memory_request_bytes for c in active)
    if cpu > node.allocatable_cpu_cores or memory > node.allocatable_memory_bytes:
        raise FleetError(
            f"{where}: its running and pending pods request {cpu:g} cores and "
            f"{memory / GIB:g} GiB; the node offers {node.allocatable_cpu_cores:g} cores and "
            f"{node.allocatable_memory_bytes / GIB:g} GiB (cpu_cores, memory_gib, and the pods' "
            "cpu_request / memory_request_gib)"
        )
    return node


def _parse_gpu(
    data: Mapping[str, Any], where: str, index: int, total: int, node: str, seed: int
) -> GpuSpec:
    g = _Fields(data, where)
    count = g.integer("count", 1)
    model_id = g.text("model")
    try:
        model = model_by_id(model_id)
    except KeyError:
        raise FleetError(
            f"{g.at('model')}: unknown GPU model {model_id!r}; "
            f"known: {', '.join(m.model_id for m in MODELS)}"
        ) from None
    product_name = g.text("product_name", model.product_names[0])
    if product_name not in model.product_names:
        raise FleetError(
            f"{g.at('product_name')}: {product_name!r} is not a name of {model_id} "
            f"({', '.join(model.product_names)})"
        )
    identity = {k: g.raw(k, None) for k in ("uuid", "serial", "pci_bus_id", "vbios_version")}
    given = sorted(k for k, v in identity.items() if v is not None)
    if given and count > 1:
        raise FleetError(f"{where}: {', '.join(given)} can only be given for a GPU with count 1")

    gpu_uuid = str(identity["uuid"] or f"GPU-{stable_uuid(seed, node, index, 'gpu')}")
    if not _GPU_UUID.match(gpu_uuid):
        raise FleetError(f"{g.at('uuid')}: {gpu_uuid!r} is not like GPU-<lowercase uuid>")
    serial = str(identity["serial"] or f"1{stable_hash(seed, node, index, 'serial') % 10**12:012d}")
    bus = _PCI_BUSES[index] if index < len(_PCI_BUSES) else (0x20 + 0x10 * index) % 0x100
    pci_bus_id = str(identity["pci_bus_id"] or f"00000000:{bus:02X}:00.0")
    if not _PCI_BUS_ID.match(pci_bus_id):
        raise FleetError(f"{g.at('pci_bus_id')}: {pci_bus_id!r} is not like 00000000:17:00.0")
    # One VBIOS per model on a node, as fleets are flashed.
    h = stable_hash(seed, node, model.model_id, "vbios")
    vbios = str(
        identity["vbios_version"]
        or f"{_VBIOS_PREFIX.get(model.architecture, '90.00')}.{h % 256:02X}."
        f"{(h >> 8) % 256:02X}.{(h >> 16) % 256:02X}"
    )

    layout = g.strings("mig")
    replicas = g.integer("time_slicing_replicas", 0)
    g.done()
    if replicas == 1 or replicas < 0:
        raise FleetError(f"{g.at('time_slicing_replicas')}: use 2 or more (or leave it out)")
    instances: tuple[MigInstanceSpec, ...] = ()
    if layout is not None:
        if replicas:
            raise FleetError(f"{where}: a GPU is either in MIG mode or time-sliced, not both")
        try:
            placements = validate_layout(model.model_id, layout, allow_empty=True)
        except MigLayoutError as exc:
            raise FleetError(f"{g.at('mig')}: {exc}") from exc
        profiles = {profile.name: profile for profile in mig_profiles(model.model_id)}
        _, memory_slices = total_slices(model.model_id)
        instances = tuple(
            MigInstanceSpec(
                slot=slot,
                profile=profiles[placement.profile],
                start_slice=placement.start,
                gpu_instance_id=gpu_instance_id(
                    placement.start, placement.memory_slices, memory_slices
                ),
                compute_instance_id=0,
                uuid=f"MIG-{stable_uuid(seed, node, index, slot, 'mig')}",
            )
            for slot, placement in enumerate(placements)
        )
    return GpuSpec(
        index=index,
        model=model,
        product_name=product_name,
        uuid=gpu_uuid,
        serial=serial,
        pci_bus_id=pci_bus_id,
        vbios_version=vbios,
        minor_number=index,
        numa_node=0 if total == 1 or index < (total + 1) // 2 else 1,
        mig_enabled=layout is not None,
        mig_instances=instances,
        time_slicing_replicas=replicas,
    )


_EVENT_FIELDS: dict[str, tuple[str, ...]] = {
    "overheat": ("duration", "delta_c"),
    "xid": ("xid",),
    "ecc": ("corrected", "uncorrected"),
    "row_remap_pending": ("duration", "rows_correctable", "rows_uncorrectable"),
    "gpu_lost": ("duration",),
    "nvml_hang": ("duration",),
}


def _parse_event(raw: object, where: str, gpu_count: int) -> EventSpec:
    e = _Fields(raw, where)
    kind = cast(EventKind, e.choice("type", get_args(EventKind)))
    gpu = e.integer("gpu", minimum=0)
    if gpu >= gpu_count:
        raise FleetError(f"{e.at('gpu')}: GPU {gpu} does not exist (the node has {gpu_count})")
    at = parse_duration(e.raw("at"), e.at("at"))
    raw_every = e.raw("every", None)
    every = parse_duration(raw_every, e.at("every")) if raw_every is not None else None
    times = e.integer("times", minimum=1) if e.data.get("times") is not None else None
    e.raw("times", None)
    if every is not None and every <= 0:
        raise FleetError(f"{e.at('every')}: the period must be positive")
    if times is not None and times > 1 and every is None:
        raise FleetError(f"{e.at('times')}: a repeated event needs 'every'")
    present = set(_EVENT_FIELDS[kind])
    stray = sorted(
        k
        for k in e.data
        if k not in present and k in {x for fs in _EVENT_FIELDS.values() for x in fs}
    )
    if stray:
        raise FleetError(f"{where}: {', '.join(stray)} do(es) not apply to a {kind} event")

    duration = 0.0
    if "duration" in present:
        default = "30m" if kind == "overheat" else _MISSING
        duration = parse_duration(e.raw("duration", default), e.at("duration"))
        if duration <= 0:
            raise FleetError(f"{e.at('duration')}: must be positive")
        if every is not None and duration >= every:
            raise FleetError(
                f"{e.at('duration')}: a window of {duration:g}s does not fit in a period of "
                f"{every:g}s"
            )
    spec = EventSpec(
        kind=kind,
        gpu_index=gpu,
        at_seconds=at,
        every_seconds=every,
        times=times,
        duration_seconds=duration,
        xid=e.integer("xid", minimum=1) if kind == "xid" else None,
        delta_celsius=e.number("delta_c", 20.0) if kind == "overheat" else 0.0,
        corrected=e.integer("corrected", 0, minimum=0) if kind == "ecc" else 0,
        uncorrected=e.integer("uncorrected", 0, minimum=0) if kind == "ecc" else 0,
        rows_correctable=(
            e.integer("rows_correctable", 0, minimum=0) if kind == "row_remap_pending" else 0
        ),
        rows_uncorrectable=(
            e.integer("rows_uncorrectable", 1, minimum=0) if kind == "row_remap_pending" else 0
        ),
    )
    e.done()
    if kind == "ecc" and spec.corrected == 0 and spec.uncorrected == 0:
        raise FleetError(f"{where}: an ecc event needs 'corrected' or 'uncorrected' > 0")
    return spec


# -- pods --------------------------------------------------------------------------------------


def _parse_schedule(raw: object, where: str, epoch: float) -> PodSchedule:
    s = _Fields(raw, where)
    every = s.number("every_hours", None) if s.data.get("every_hours") is not None else None
    s.raw("every_hours", None)
    raw_days = s.raw("weekdays", None)
    at_hours = s.number("at_hour", 0.0)
    for_hours = s.number("for_hours")
    s.done()
    if (every is None) == (raw_days is None):
        raise FleetError(
            f"{where}: give either 'every_hours' (a window every N hours from the epoch's "
            "midnight) or 'weekdays' (a window on each listed day), not both or neither"
        )
    for key, hours in (("every_hours", every), ("at_hour", at_hours), ("for_hours", for_hours)):
        if hours is not None and abs(hours * 60 - round(hours * 60)) > 1e-9:
            raise FleetError(f"{s.at(key)}: {hours:g} h is not a whole number of minutes")
    if for_hours <= 0:
        raise FleetError(f"{s.at('for_hours')}: a window must last more than 0 h")
    weekdays: tuple[int, ...] = ()
    if every is not None:
        period, what = every, f"the period of {every:g} h"
        if every <= 0:
            raise FleetError(f"{s.at('every_hours')}: the period must be positive")
    else:
        period, what = 24.0, "a day"
        if not isinstance(raw_days, list) or not raw_days:
            raise FleetError(
                f"{s.at('weekdays')}: expected a non-empty list of {', '.join(WEEKDAYS)}"
            )
        for i, day in enumerate(raw_days):
            if not isinstance(day, str) or day.lower() not in WEEKDAYS:
                raise FleetError(
                    f"{s.at('weekdays')}[{i}]: {day!r} is not one of {', '.join(WEEKDAYS)}"
                )
        weekdays = tuple(sorted({WEEKDAYS.index(d.lower()) for d in raw_days}))
        if len(weekdays) != len(raw_days):
            raise FleetError(f"{s.at('weekdays')}: a day is listed twice")
    if at_hours >= period:
        raise FleetError(f"{s.at('at_hour')}: {at_hours:g} h does not fall within {what}")
    if for_hours >= period:
        raise FleetError(
            f"{s.at('for_hours')}: a window of {for_hours:g} h does not fit in {what} "
            "(windows must leave a gap, or the pod would never go)"
        )
    midnight = math.floor(epoch / DAY_SECONDS) * DAY_SECONDS
    return PodSchedule(
        at_seconds=round(at_hours * 3600),
        for_seconds=round(for_hours * 3600),
        origin=midnight,
        every_seconds=round(every * 3600) if every is not None else None,
        weekdays=weekdays,
    )


_REPLICASET_POD = re.compile(r"^(?P<owner>.+-[a-z0-9]{6,10})-[a-z0-9]{5}$")
_STATEFULSET_POD = re.compile(r"^(?P<owner>.+)-\d+$")
_JOB_POD = re.compile(r"^(?P<owner>.+)-[a-z0-9]{5}$")


def _default_owner(name: str, namespace: str, seed: int) -> OwnerRef | None:
    for pattern, kind in (
        (_REPLICASET_POD, "ReplicaSet"),
        (_STATEFULSET_POD, "StatefulSet"),
        (_JOB_POD, "Job"),
    ):
        match = pattern.match(name)
        if match is not None:
            owner = match["owner"]
            return OwnerRef(kind, owner, stable_uuid(seed, namespace, kind, owner))
    return None


def _device_pairs(c: _Fields, key: str, second: str) -> list[tuple[int, int]]:
    pairs: list[tuple[int, int]] = []
    for i, item in enumerate(c.items(key, [])):
        at = f"{c.at(key)}[{i}]"
        if isinstance(item, Mapping):
            m = _Fields(item, at)
            pair = (m.integer("gpu", minimum=0), m.integer(second, minimum=0))
            m.done()
        elif (
            isinstance(item, list)
            and len(item) == 2
            and all(isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in item)
        ):
            pair = (item[0], item[1])
        else:
            raise FleetError(f"{at}: expected [gpu, {second}] or {{gpu: G, {second}: N}}")
        pairs.append(pair)
    return pairs


def _parse_pods(
    raw_pods: list[Any],
    where: str,
    node: str,
    node_ordinal: int,
    gpus: tuple[GpuSpec, ...],
    seed: int,
    epoch: float,
) -> tuple[PodSpec, ...]:
    if len(raw_pods) > 240:
        raise FleetError(f"{where}: at most 240 pods per node are simulated")
    pods: list[PodSpec] = []
    seen: set[tuple[str, str]] = set()
    holders: dict[DeviceRef, str] = {}  # active holders, to catch double allocation
    next_pid = FIRST_PID
    for i, raw in enumerate(raw_pods):
        pw = f"{where}[{i}]"
        p = _Fields(raw, pw)
        name = p.text("name")
        namespace = p.text("namespace", "default")
        for key, value in (("name", name), ("namespace", namespace)):
            if not _DNS_LABEL.match(value) or len(value) > 253:
                raise FleetError(f"{p.at(key)}: {value!r} is not a valid Kubernetes name")
        if (namespace, name) in seen:
            raise FleetError(f"{pw}: pod {namespace}/{name} is listed twice")
        seen.add((namespace, name))
        uid = p.text("uid", stable_uuid(seed, namespace, name, "pod"))
        if not _UUID.match(uid):
            raise FleetError(f"{p.at('uid')}: {uid!r} is not a lowercase uuid")
        phase = cast(PodPhase, p.choice("phase", get_args(PodPhase), "Running"))
        workload = cast(WorkloadShape, p.choice("workload", get_args(WorkloadShape), "inference"))
        form = cast(DeviceIdForm, p.choice("device_id_form", get_args(DeviceIdForm), "uuid"))
        memory_gib = p.number("gpu_memory_gib", 1.0)
        shared_resource = p.flag("shared_resource", False)
        dra_claim = p.raw("dra_claim", None)
        if dra_claim is not None and (
            not isinstance(dra_claim, str) or not _DNS_LABEL.match(dra_claim)
        ):
            raise FleetError(f"{p.at('dra_claim')}: {dra_claim!r} is not a valid claim name")
        pod_resources = _resources(p)
        labels = p.labels("labels")
        image = p.raw("image", None)
        command = p.strings("command")
        args = p.strings("args")
        owner_given = "owner" in p.data
        if owner_given:
            owner_raw = p.raw("owner", None)
            owner = None
            if owner_raw is not None:
                o = _Fields(owner_raw, p.at("owner"))
                kind, owner_name = o.text("kind"), o.text("name")
                o.done()
                owner = OwnerRef(kind, owner_name, stable_uuid(seed, namespace, kind, owner_name))
        else:
            owner = _default_owner(name, namespace, seed)
        raw_schedule = p.raw("schedule", None)
        schedule = (
            _parse_schedule(raw_schedule, p.at("schedule"), epoch)
            if raw_schedule is not None
            else None
        )
        if schedule is not None and phase != "Running":
            raise FleetError(
                f"{p.at('schedule')}: only a Running pod can have a schedule (it runs inside "
                f"its windows and does not exist outside them), not a {phase} one"
            )
        raw_containers = p.items("containers")
        p.done()
        if not raw_containers:
            raise FleetError(f"{p.at('containers')}: a pod needs at least one container")

        containers: list[ContainerSpec] = []
        resources: list[_Resources] = []
        for j, raw_container in enumerate(raw_containers):
            c = _Fields(raw_container, f"{pw}.containers[{j}]")
            cname = c.text("name")
            if not _DNS_LABEL.match(cname) or "." in cname:
                raise FleetError(f"{c.at('name')}: {cname!r} is not a valid container name")
            if any(x.name == cname for x in containers):
                raise FleetError(f"{c.at('name')}: container {cname!r} is listed twice")
            own_image = c.raw("image", None)
            cimage = own_image if own_image is not None else image
            if cimage is None:
                raise FleetError(f"{c.where}: 'image' is required (on the pod or the container)")
            # A container with its own image runs its own program: no pod command/args.
            inherited = (command, args) if own_image is None else (None, None)
            ccommand = c.strings("command")
            cargs = c.strings("args")
            devices = [DeviceRef(g) for g in _gpu_indexes(c)]
            devices += [DeviceRef(g, mig_slot=s) for g, s in _device_pairs(c, "mig", "slot")]
            devices += [DeviceRef(g, replica=r) for g, r in _device_pairs(c, "replicas", "replica")]
            own_resources = _resources(c)
            c.done()
            if dra_claim is not None and any(ref.replica is not None for ref in devices):
                raise FleetError(
                    f"{c.where}: a pod with a dra_claim holds whole GPUs or MIG devices, "
                    "not time-slicing replicas"
                )
            for ref in devices:
                _check_device(ref, gpus, memory_gib, c.where)
                if phase in ("Running", "Pending"):
                    owner_text = f"{namespace}/{name}/{cname}"
                    if ref in holders:
                        raise FleetError(
                            f"{c.where}: {_describe(ref)} is already held by {holders[ref]}"
                        )
                    holders[ref] = owner_text
            if len(set(devices)) != len(devices):
                raise FleetError(f"{c.where}: a device is listed twice")
            pid = None
            if devices and phase == "Running":
                pid = next_pid
                next_pid += 1
            containers.append(
                ContainerSpec(
                    name=cname,
                    image=str(cimage),
                    command=ccommand if ccommand is not None else (inherited[0] or ()),
                    args=cargs if cargs is not None else (inherited[1] or ()),
                    devices=tuple(devices),
                    container_id=hashlib.sha256(
                        f"{seed}\x1f{node}\x1f{namespace}\x1f{name}\x1f{cname}".encode()
                    ).hexdigest(),
                    pid=pid,
                )
            )
            resources.append(own_resources)
        h = stable_hash(seed, namespace, name, "start")
        pods.append(
            PodSpec(
                name=name,
                namespace=namespace,
                uid=uid,
                phase=phase,
                workload=workload,
                gpu_memory_bytes=int(memory_gib * GIB),
                device_id_form=form,
                shared_resource=shared_resource,
                containers=_with_resources(containers, resources, pod_resources, workload, pw),
                owner=owner,
                start_time=float(int(epoch) - 3600 - h % (72 * 3600)),
                pod_ip=None if phase == "Pending" else f"10.244.{node_ordinal}.{10 + i}",
                labels=labels,
                schedule=schedule,
                owner_given=owner_given,
                dra_claim=dra_claim,
            )
        )
    return tuple(pods)


@dataclass(frozen=True)
class _Resources:
    """CPU/memory keys as written on a pod or container (None: not given there)."""

    cpu_request: float | None = None
    memory_request_gib: float | None = None
    cpu_limit: float | None = None
    memory_limit_gib: float | None = None

    def over(self, base: _Resources) -> _Resources:
        return _Resources(
            self.cpu_request if self.cpu_request is not None else base.cpu_request,
            self.memory_request_gib
            if self.memory_request_gib is not None
            else base.memory_request_gib,
            self.cpu_limit if self.cpu_limit is not None else base.cpu_limit,
            self.memory_limit_gib if self.memory_limit_gib is not None else base.memory_limit_gib,
        )


def _resources(f: _Fields) -> _Resources:
    """The CPU/memory keys of one pod or container mapping."""
    values: list[float | None] = []
    for key in ("cpu_request", "memory_request_gib", "cpu_limit", "memory_limit_gib"):
        if f.raw(key, None) is None:
            values.append(None)
            continue
        value = f.number(key)
        if value <= 0:
            raise FleetError(f"{f.at(key)}: must be positive, got {value:g}")
        values.append(value)
    return _Resources(*values)


def _with_resources(
    containers: list[ContainerSpec],
    own: list[_Resources],
    pod: _Resources,
    workload: str,
    where: str,
) -> tuple[ContainerSpec, ...]:
    """Containers with CPU/memory settled. The pod's keys describe its workload containers (those
    holding devices, or all when none does); a container's own keys win; sidecars default small."""
    any_devices = any(c.devices for c in containers)
    settled: list[ContainerSpec] = []
    for j, (container, written) in enumerate(zip(containers, own, strict=True)):
        main = bool(container.devices) or not any_devices
        given = written.over(pod) if main else written
        cpu_default, memory_default = WORKLOAD_REQUESTS[workload] if main else SIDECAR_REQUESTS
        cpu = given.cpu_request if given.cpu_request is not None else cpu_default
        memory_gib = (
            given.memory_request_gib if given.memory_request_gib is not None else memory_default
        )
        for limit, request, key in (
            (given.cpu_limit, cpu, "cpu_limit"),
            (given.memory_limit_gib, memory_gib, "memory_limit_gib"),
        ):
            if limit is not None and limit < request:
                raise FleetError(
                    f"{where}.containers[{j}]: {key} {limit:g} is below its request {request:g}"
                )
        settled.append(
            replace(
                container,
                cpu_request_cores=cpu,
                memory_request_bytes=int(memory_gib * GIB),
                cpu_limit_cores=given.cpu_limit,
                memory_limit_bytes=(
                    int(given.memory_limit_gib * GIB)
                    if given.memory_limit_gib is not None
                    else None
                ),
            )
        )
    return tuple(settled)


def _gpu_indexes(c: _Fields) -> list[int]:
    values = c.items("gpus", [])
    for i, value in enumerate(values):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise FleetError(f"{c.at('gpus')}[{i}]: expected a GPU index, got {_kind(value)}")
    return [int(v) for v in values]


def _describe(ref: DeviceRef) -> str:
    if ref.mig_slot is not None:
        return f"MIG slot {ref.mig_slot} of GPU {ref.gpu_index}"
    if ref.replica is not None:
        return f"replica {ref.replica} of GPU {ref.gpu_index}"
    return f"GPU {ref.gpu_index}"


def _check_device(ref: DeviceRef, gpus: tuple[GpuSpec, ...], memory_gib: float, at: str) -> None:
    if ref.gpu_index >= len(gpus):
        raise FleetError(f"{at}: GPU {ref.gpu_index} does not exist (the node has {len(gpus)})")
    gpu = gpus[ref.gpu_index]
    if ref.mig_slot is not None:
        if not gpu.mig_enabled:
            raise FleetError(f"{at}: GPU {ref.gpu_index} has no MIG layout")
        if ref.mig_slot >= len(gpu.mig_instances):
            raise FleetError(
                f"{at}: GPU {ref.gpu_index} has MIG slots 0..{len(gpu.mig_instances) - 1}, "
                f"not {ref.mig_slot}"
            )
        capacity = gpu.mig_instances[ref.mig_slot].profile.memory_gb
        what = f"MIG {gpu.mig_instances[ref.mig_slot].profile.name}"
    elif ref.replica is not None:
        if not gpu.time_slicing_replicas:
            raise FleetError(
                f"{at}: GPU {ref.gpu_index} is not time-sliced (set time_slicing_replicas on it)"
            )
        if ref.replica >= gpu.time_slicing_replicas:
            raise FleetError(
                f"{at}: GPU {ref.gpu_index} has replicas 0..{gpu.time_slicing_replicas - 1}, "
                f"not {ref.replica}"
            )
        capacity, what = float(gpu.model.memory_gb), gpu.model.model_id
    else:
        if gpu.mig_enabled:
            raise FleetError(f"{at}: GPU {ref.gpu_index} is in MIG mode; hold its MIG slots")
        if gpu.time_slicing_replicas:
            raise FleetError(f"{at}: GPU {ref.gpu_index} is time-sliced; hold one of its replicas")
        capacity, what = float(gpu.model.memory_gb), gpu.model.model_id
    if memory_gib > capacity:
        raise FleetError(
            f"{at}: gpu_memory_gib {memory_gib:g} exceeds the {capacity:g} GiB of {what}"
        )
