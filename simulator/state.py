"""What a simulated GPU reads at time t: pure functions of (GPU, t), cached per node.

Model (units in names; time in unix seconds):

* Utilisation is piecewise constant per UTC minute. Each running container holding a device
  contributes its workload shape's curve (inference: diurnal, peak 15:00 UTC; training: steady
  0.90-0.97; notebook: 0-0.05; batch: on/off in a 2 h cycle) plus deterministic noise drawn
  per (container, minute). Time-sliced pods add up (capped at 1); a MIG parent's utilisation
  is its instances' weighted by compute slices.
* Power = idle + (limit - idle) · util^0.9. Energy (mJ since driver load, which is the fleet's
  epoch) is the exact integral of the *noise-free* power, rounded to whole mW per minute. The
  noise-free curve repeats every day, so the integral is O(1) from a per-GPU table of the day.
* Counters (ECC, XID, remapped rows) are step functions of event occurrences up to t.
* A scheduled pod (fleet key ``schedule``) loads its devices and holds their memory only inside
  its windows (:meth:`simulator.fleet.PodSpec.present_at`, whole UTC minutes); outside them its
  GPUs idle with that memory free and NVML lists none of its processes. The noise-free power
  curve of such a GPU is daily per set of present consumers, so energy is summed per stretch
  between window edges (:class:`EnergyMeter`), exact and monotonic like the rest.
"""

from __future__ import annotations

import math
import threading
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pynvml

from gpucatalog.mig import total_slices
from simulator.fleet import (
    EventSpec,
    GpuSpec,
    NodeSpec,
    PodSchedule,
    PodSpec,
    WorkloadShape,
    stable_hash,
)

MINUTE_S = 60
DAY_S = 86400
MINUTES_PER_DAY = DAY_S // MINUTE_S
AMBIENT_C = 35.0
IDLE_UTILIZATION = 0.05  # below it the driver reports the GPU idle (P8, idle clock reason)
POWER_CAP_FRACTION = 0.95
DRIVER_RESERVE_BYTES = 512 * 1024**2
MIG_RESERVE_BYTES = 16 * 1024**2
IDLE_SM_CLOCK_MHZ = 210
IDLE_GDDR_CLOCK_MHZ = 405
GDDR_MODELS = frozenset({"RTX4090", "L4"})  # memory clock drops when idle, unlike HBM
NO_ECC_MODELS = frozenset({"RTX4090"})  # consumer boards: no ECC, no row remapping
BATCH_PERIOD_MINUTES = 120  # divides a day: the noise-free curve must repeat daily
BATCH_ON_MINUTES = 75
XID_GPU_LOST = 79

_THERMAL = (
    pynvml.nvmlClocksEventReasonSwThermalSlowdown
    | pynvml.nvmlClocksEventReasonHwThermalSlowdown
    | pynvml.nvmlClocksEventReasonHwSlowdown
)
_MEMORY_UTILIZATION_FACTOR: dict[str, float] = {
    "inference": 0.7,
    "training": 0.55,
    "notebook": 0.5,
    "batch": 0.4,
}


# -- workload shapes ---------------------------------------------------------------------------


def noise(key: int, minute: int) -> float:
    """Deterministic noise in [-1, 1) for one container and one UTC minute."""
    return stable_hash(key, minute) / 2.0**63 - 1.0


def workload_utilization(shape: WorkloadShape, key: int, minute: int, noisy: bool = True) -> float:
    """Utilisation (0..1) of one container's workload during UTC minute ``minute``."""
    if shape == "inference":
        hour = (minute % MINUTES_PER_DAY) / 60.0
        diurnal = 0.5 * (1.0 + math.cos(2.0 * math.pi * (hour - 15.0) / 24.0))
        scale = 0.8 + 0.2 * ((key >> 8) % 1000) / 1000.0  # each service its own peak height
        base, amplitude = (0.12 + 0.73 * diurnal) * scale, 0.07
    elif shape == "training":
        base, amplitude = 0.935, 0.035
    elif shape == "notebook":
        base, amplitude = 0.02, 0.02
    else:  # batch
        on = (minute + key % BATCH_PERIOD_MINUTES) % BATCH_PERIOD_MINUTES < BATCH_ON_MINUTES
        base, amplitude = (0.85, 0.1) if on else (0.0, 0.0)
    if noisy and amplitude:
        base += amplitude * noise(key, minute)
    return min(1.0, max(0.0, base))


# -- static context ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Consumer:
    """A container's process on one GPU (or one of its MIG instances)."""

    pid: int
    namespace: str
    pod: str
    container: str
    workload: WorkloadShape
    mig_slot: int | None
    memory_bytes: int
    key: int  # noise and phase seed
    schedule: PodSchedule | None = None  # the pod's; None: present all the time

    def present_at(self, t: float) -> bool:
        return self.schedule is None or self.schedule.window_at(t) is not None


@dataclass(frozen=True)
class GpuContext:
    """Everything static that a GPU's values depend on."""

    seed: int
    epoch: float
    node: str
    gpu: GpuSpec
    consumers: tuple[Consumer, ...]
    events: tuple[EventSpec, ...]
    temperature_offset_c: float
    ecc_corrected_baseline: int  # lifetime errors from before this simulation

    @property
    def ecc_supported(self) -> bool:
        return self.gpu.model.model_id not in NO_ECC_MODELS


def gpu_contexts(seed: int, epoch: float, node: NodeSpec) -> tuple[GpuContext, ...]:
    """One context per GPU of ``node``, consumers taken from its running pods."""
    consumers: dict[int, list[Consumer]] = {gpu.index: [] for gpu in node.gpus}
    for pod in node.pods:
        if not pod.running:
            continue
        for container in pod.containers:
            if container.pid is None:
                continue
            places = dict.fromkeys((d.gpu_index, d.mig_slot) for d in container.devices)
            for gpu_index, slot in places:
                consumers[gpu_index].append(
                    _consumer(seed, node, pod, container.name, container.pid, gpu_index, slot)
                )
    return tuple(
        GpuContext(
            seed=seed,
            epoch=epoch,
            node=node.name,
            gpu=gpu,
            consumers=tuple(consumers[gpu.index]),
            events=tuple(e for e in node.events if e.gpu_index == gpu.index),
            temperature_offset_c=(stable_hash(seed, node.name, gpu.index, "temp") % 500) / 100.0
            - 2.5,
            ecc_corrected_baseline=stable_hash(seed, node.name, gpu.index, "ecc") % 24,
        )
        for gpu in node.gpus
    )


def _consumer(
    seed: int, node: NodeSpec, pod: PodSpec, container: str, pid: int, gpu: int, slot: int | None
) -> Consumer:
    capacity = (
        node.gpus[gpu].mig_instances[slot].memory_bytes
        if slot is not None
        else node.gpus[gpu].memory_bytes
    )
    return Consumer(
        pid=pid,
        namespace=pod.namespace,
        pod=pod.name,
        container=container,
        workload=pod.workload,
        mig_slot=slot,
        memory_bytes=min(pod.gpu_memory_bytes, capacity),
        key=stable_hash(seed, pod.uid, container, gpu),
        schedule=pod.schedule,
    )


# -- values ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MinuteLoad:
    """The load of one GPU during one UTC minute (utilisation is constant within it)."""

    utilization: float  # with noise: what NVML reports
    memory_utilization: float
    consumer_utilization: tuple[float, ...]  # per context consumer, share of its device
    slot_utilization: tuple[float, ...]  # per MIG slot; () without MIG


@dataclass(frozen=True)
class MigValues:
    slot: int
    uuid: str
    utilization_ratio: float
    memory_used_bytes: int
    memory_total_bytes: int


@dataclass(frozen=True)
class ProcessValues:
    pid: int
    mig_slot: int | None
    used_memory_bytes: int
    sm_utilization_ratio: float
    memory_utilization_ratio: float


@dataclass(frozen=True)
class GpuValues:
    """Everything NVML would report for one GPU at one instant."""

    t: float
    lost: bool  # inside a gpu_lost window: NVML answers GPU_IS_LOST
    utilization_ratio: float
    memory_utilization_ratio: float
    memory_used_bytes: int
    memory_total_bytes: int
    temperature_celsius: int
    power_watts: float
    power_limit_watts: float
    energy_millijoules: int
    clock_sm_mhz: int
    clock_memory_mhz: int
    clock_graphics_mhz: int
    clock_video_mhz: int
    performance_state: int
    clock_event_reasons: int
    ecc_corrected_volatile: int
    ecc_uncorrected_volatile: int
    ecc_corrected_aggregate: int
    ecc_uncorrected_aggregate: int
    remapped_rows_correctable: int
    remapped_rows_uncorrectable: int
    row_remap_pending: bool
    row_remap_failure: bool
    xid_counts: tuple[tuple[int, int], ...]  # (xid, occurrences up to t), by xid
    mig: tuple[MigValues, ...]
    processes: tuple[ProcessValues, ...]


def minute_load(
    ctx: GpuContext, minute: int, noisy: bool = True, present: Sequence[bool] | None = None
) -> MinuteLoad:
    """Utilisation of a GPU and its MIG instances and processes during one UTC minute.

    ``present`` (one flag per context consumer) overrides which consumers exist; by default
    those whose pod is present at the minute's start (schedule edges are whole minutes)."""
    if present is None:
        present = [c.present_at(minute * MINUTE_S) for c in ctx.consumers]
    demands = [
        workload_utilization(c.workload, c.key, minute, noisy) if here else 0.0
        for c, here in zip(ctx.consumers, present, strict=True)
    ]
    memory_demands = [
        d * _MEMORY_UTILIZATION_FACTOR[c.workload]
        for d, c in zip(demands, ctx.consumers, strict=True)
    ]
    gpu = ctx.gpu
    if gpu.mig_enabled:
        total_compute, _ = total_slices(gpu.model.model_id)
        slots: list[float] = []
        slot_memory: list[float] = []
        for instance in gpu.mig_instances:
            mine = [i for i, c in enumerate(ctx.consumers) if c.mig_slot == instance.slot]
            slots.append(min(1.0, sum(demands[i] for i in mine)))
            slot_memory.append(min(1.0, sum(memory_demands[i] for i in mine)))
        weights = [i.profile.compute_slices / total_compute for i in gpu.mig_instances]
        shares = [
            demands[i] * _scale(demands, ctx, c.mig_slot) for i, c in enumerate(ctx.consumers)
        ]
        return MinuteLoad(
            utilization=sum(u * w for u, w in zip(slots, weights, strict=True)),
            memory_utilization=sum(u * w for u, w in zip(slot_memory, weights, strict=True)),
            consumer_utilization=tuple(shares),
            slot_utilization=tuple(slots),
        )
    total = sum(demands)
    scale = 1.0 / total if total > 1.0 else 1.0
    return MinuteLoad(
        utilization=min(1.0, total),
        memory_utilization=min(1.0, sum(memory_demands)),
        consumer_utilization=tuple(d * scale for d in demands),
        slot_utilization=(),
    )


def _scale(demands: list[float], ctx: GpuContext, slot: int | None) -> float:
    total = sum(d for d, c in zip(demands, ctx.consumers, strict=True) if c.mig_slot == slot)
    return 1.0 / total if total > 1.0 else 1.0


def power_watts(gpu: GpuSpec, utilization: float) -> float:
    model = gpu.model
    return model.idle_power_w + (model.power_limit_w - model.idle_power_w) * float(utilization**0.9)


PowerTable = tuple[tuple[int, ...], tuple[int, ...]]


def daily_power_table(ctx: GpuContext, present: Sequence[bool] | None = None) -> PowerTable:
    """Noise-free power per minute of the UTC day (mW) and its running integral (mJ, 1441),
    with the consumers flagged in ``present`` (default: those without a schedule)."""
    if present is None:
        present = [c.schedule is None for c in ctx.consumers]
    power_mw = tuple(
        round(
            power_watts(ctx.gpu, minute_load(ctx, m, noisy=False, present=present).utilization)
            * 1000
        )
        for m in range(MINUTES_PER_DAY)
    )
    prefix = [0]
    for p in power_mw:
        prefix.append(prefix[-1] + p * MINUTE_S)
    return power_mw, tuple(prefix)


def energy_millijoules(epoch: float, table: PowerTable, t: float) -> int:
    """Energy since ``epoch`` (driver load) up to ``t``: exact, monotonic, O(1)."""
    if t <= epoch:
        return 0
    return _energy_from_midnight(table, t) - _energy_from_midnight(table, epoch)


def _energy_from_midnight(table: PowerTable, t: float) -> int:
    # Integer mJ from 1970-01-01 00:00 UTC under the daily-periodic curve.
    power_mw, prefix = table
    minute = math.floor(t / MINUTE_S)
    day, minute_of_day = divmod(minute, MINUTES_PER_DAY)
    within = t - minute * MINUTE_S
    return day * prefix[-1] + prefix[minute_of_day] + math.floor(power_mw[minute_of_day] * within)


class EnergyMeter:
    """Energy (mJ since driver load, the fleet epoch) of one GPU up to any t: exact, monotonic.

    Without scheduled consumers the noise-free power repeats daily and one table answers in
    O(1). With them, power is daily between window edges, one table per set of present
    consumers: the energy at each edge since the epoch is kept (extended a month at a time as
    later times are asked for) and a read is a binary search plus one table lookup.
    """

    _HORIZON_STEP_S = 30 * DAY_S

    def __init__(self, ctx: GpuContext) -> None:
        self.ctx = ctx
        self._standing = tuple(c.schedule is None for c in ctx.consumers)
        self._scheduled = not all(self._standing)
        self._tables: dict[tuple[bool, ...], PowerTable] = {}
        self._lock = threading.Lock()
        self._edges: list[float] = [ctx.epoch]  # the present set is constant from one to the next
        self._sets: list[tuple[bool, ...]] = [self._present(ctx.epoch)]
        self._energy: list[int] = [0]  # mJ at each edge
        self._horizon = ctx.epoch  # every edge before it is known

    @property
    def standing_table(self) -> PowerTable:
        """The daily table of the consumers without a schedule."""
        return self.table(self._standing)

    def table(self, present: tuple[bool, ...]) -> PowerTable:
        table = self._tables.get(present)
        if table is None:
            table = daily_power_table(self.ctx, present)
            self._tables[present] = table
        return table

    def millijoules(self, t: float) -> int:
        epoch = self.ctx.epoch
        if t <= epoch:
            return 0
        if not self._scheduled:
            return energy_millijoules(epoch, self.standing_table, t)
        with self._lock:
            while self._horizon < t:
                self._extend()
            i = bisect_right(self._edges, t) - 1
            table = self.table(self._sets[i])
            return (
                self._energy[i]
                + _energy_from_midnight(table, t)
                - _energy_from_midnight(table, self._edges[i])
            )

    def _present(self, t: float) -> tuple[bool, ...]:
        return tuple(c.present_at(t) for c in self.ctx.consumers)

    def _extend(self) -> None:
        start, end = self._horizon, self._horizon + self._HORIZON_STEP_S
        schedules = {c.schedule for c in self.ctx.consumers if c.schedule is not None}
        edges = sorted(
            {
                edge
                for schedule in schedules
                for window in schedule.windows(start, end + 1)
                for edge in window
                if start < edge <= end
            }
        )
        for edge in edges:
            table = self.table(self._sets[-1])
            self._energy.append(
                self._energy[-1]
                + _energy_from_midnight(table, edge)
                - _energy_from_midnight(table, self._edges[-1])
            )
            self._edges.append(edge)
            self._sets.append(self._present(edge))
        self._horizon = end


# -- events ------------------------------------------------------------------------------------


def occurrences_upto(event: EventSpec, epoch: float, t: float) -> int:
    """How many times ``event`` has started at or before ``t``."""
    first = epoch + event.at_seconds
    if t < first:
        return 0
    if event.every_seconds is None:
        return 1
    count = math.floor((t - first) / event.every_seconds) + 1
    return min(count, event.times) if event.times is not None else count


def window_active(event: EventSpec, epoch: float, t: float) -> bool:
    """True while ``t`` is inside one of the event's [start, start + duration) windows."""
    count = occurrences_upto(event, epoch, t)
    if count == 0:
        return False
    start = occurrence_time(event, epoch, count - 1)
    return t < start + event.duration_seconds


def windows_ended_upto(event: EventSpec, epoch: float, t: float) -> int:
    return occurrences_upto(event, epoch, t - event.duration_seconds)


def occurrence_time(event: EventSpec, epoch: float, k: int) -> float:
    return epoch + event.at_seconds + k * (event.every_seconds or 0.0)


def event_xid(event: EventSpec) -> int | None:
    """The XID an occurrence of ``event`` raises, if any (a lost GPU raises 79)."""
    if event.kind == "xid":
        return event.xid
    if event.kind == "gpu_lost":
        return XID_GPU_LOST
    return None


def first_occurrence_at_or_after(event: EventSpec, epoch: float, t: float) -> int | None:
    """Index of the first occurrence starting at or after ``t``; None when there is none."""
    first = epoch + event.at_seconds
    if t <= first:
        k = 0
    elif event.every_seconds is None:
        return None
    else:
        k = math.ceil((t - first) / event.every_seconds)
        # Guard the float division: the answer is the first start that is >= t.
        if occurrence_time(event, epoch, k) < t:
            k += 1
        elif k > 0 and occurrence_time(event, epoch, k - 1) >= t:
            k -= 1
    if event.every_seconds is None and k > 0:
        return None
    if event.times is not None and k >= event.times:
        return None
    return k


def is_lost(ctx: GpuContext, t: float) -> bool:
    return any(e.kind == "gpu_lost" and window_active(e, ctx.epoch, t) for e in ctx.events)


def hang_remaining(ctx: GpuContext, t: float) -> float:
    """Seconds left in an ``nvml_hang`` window at ``t`` (0 outside every window)."""
    remaining = 0.0
    for event in ctx.events:
        if event.kind == "nvml_hang" and window_active(event, ctx.epoch, t):
            count = occurrences_upto(event, ctx.epoch, t)
            end = occurrence_time(event, ctx.epoch, count - 1) + event.duration_seconds
            remaining = max(remaining, end - t)
    return remaining


def overheat_celsius(ctx: GpuContext, t: float) -> float:
    """Degrees added by the overheat windows active at ``t``."""
    return sum(
        e.delta_celsius
        for e in ctx.events
        if e.kind == "overheat" and window_active(e, ctx.epoch, t)
    )


def temperature_celsius(ctx: GpuContext, minute: int, power: float, overheat: float) -> int:
    """Die temperature during UTC ``minute`` at ``power`` watts, ``overheat`` degrees extra."""
    model = ctx.gpu.model
    power_fraction = (power - model.idle_power_w) / (model.power_limit_w - model.idle_power_w)
    heating = (model.overheat_threshold_c - AMBIENT_C) * 0.8
    temperature = (
        AMBIENT_C
        + ctx.temperature_offset_c
        + heating * power_fraction
        + 0.8 * noise(stable_hash(ctx.seed, ctx.node, ctx.gpu.index), minute)
        + overheat
    )
    return round(temperature)


def mig_memory_used_bytes(ctx: GpuContext, t: float) -> tuple[int, ...]:
    """Memory in use inside each MIG instance (by slot) at ``t``; () without MIG."""
    return tuple(
        min(
            instance.memory_bytes,
            MIG_RESERVE_BYTES
            + sum(
                c.memory_bytes
                for c in ctx.consumers
                if c.mig_slot == instance.slot and c.present_at(t)
            ),
        )
        for instance in ctx.gpu.mig_instances
    )


def memory_used_bytes(ctx: GpuContext, t: float) -> int:
    """Device memory in use at ``t``: the driver's reserve plus the present consumers' (or the
    MIG instances'); constant between a GPU's schedule edges."""
    gpu = ctx.gpu
    if gpu.mig_enabled:
        used = DRIVER_RESERVE_BYTES + sum(mig_memory_used_bytes(ctx, t))
    else:
        used = DRIVER_RESERVE_BYTES + sum(c.memory_bytes for c in ctx.consumers if c.present_at(t))
    return min(gpu.memory_bytes, used)


def gpu_values(ctx: GpuContext, t: float, load: MinuteLoad, energy: EnergyMeter) -> GpuValues:
    """All readings of one GPU at ``t``; ``load`` is :func:`minute_load` of t's minute and
    ``energy`` the GPU's :class:`EnergyMeter` (both passed in so callers can cache them)."""
    gpu, model, epoch = ctx.gpu, ctx.gpu.model, ctx.epoch
    util = load.utilization
    minute = math.floor(t / MINUTE_S)
    busy = util >= IDLE_UTILIZATION

    overheat = 0.0
    pending = False
    ecc = [0, 0]  # corrected, uncorrected since driver load
    rows = [0, 0]
    xids: dict[int, int] = {}
    for event in ctx.events:
        if event.kind == "overheat":
            if window_active(event, epoch, t):
                overheat += event.delta_celsius
        elif event.kind == "ecc":
            n = occurrences_upto(event, epoch, t)
            ecc[0] += n * event.corrected
            ecc[1] += n * event.uncorrected
        elif event.kind == "row_remap_pending":
            pending = pending or window_active(event, epoch, t)
            ended = windows_ended_upto(event, epoch, t)
            rows[0] += ended * event.rows_correctable
            rows[1] += ended * event.rows_uncorrectable
        xid = event_xid(event)
        if xid is not None:
            n = occurrences_upto(event, epoch, t)
            if n:
                xids[xid] = xids.get(xid, 0) + n

    power = power_watts(gpu, util)
    temperature = temperature_celsius(ctx, minute, power, overheat)

    reasons = 0
    if not busy:
        reasons |= pynvml.nvmlClocksEventReasonGpuIdle
    if overheat > 0:
        reasons |= _THERMAL
    if power >= POWER_CAP_FRACTION * model.power_limit_w:
        reasons |= pynvml.nvmlClocksEventReasonSwPowerCap
    if busy:
        sm = model.max_clock_sm_mhz * (0.82 + 0.18 * util)
        if overheat > 0:
            sm *= 0.7
        if reasons & pynvml.nvmlClocksEventReasonSwPowerCap:
            sm *= 0.95
        sm_mhz = int(round(sm / 15.0) * 15)
        memory_mhz = model.max_clock_mem_mhz
    else:
        sm_mhz = IDLE_SM_CLOCK_MHZ
        gddr = model.model_id in GDDR_MODELS
        memory_mhz = IDLE_GDDR_CLOCK_MHZ if gddr else model.max_clock_mem_mhz

    mig = [
        MigValues(instance.slot, instance.uuid, slot_util, slot_used, instance.memory_bytes)
        for instance, slot_util, slot_used in zip(
            gpu.mig_instances, load.slot_utilization, mig_memory_used_bytes(ctx, t), strict=True
        )
    ]
    processes = tuple(
        ProcessValues(
            pid=c.pid,
            mig_slot=c.mig_slot,
            used_memory_bytes=c.memory_bytes,
            sm_utilization_ratio=share,
            memory_utilization_ratio=share * _MEMORY_UTILIZATION_FACTOR[c.workload],
        )
        for c, share in zip(ctx.consumers, load.consumer_utilization, strict=True)
        if c.present_at(t)
    )
    corrected_aggregate = ecc[0] + ctx.ecc_corrected_baseline
    return GpuValues(
        t=t,
        lost=is_lost(ctx, t),
        utilization_ratio=util,
        memory_utilization_ratio=load.memory_utilization,
        memory_used_bytes=memory_used_bytes(ctx, t),
        memory_total_bytes=gpu.memory_bytes,
        temperature_celsius=temperature,
        power_watts=power,
        power_limit_watts=model.power_limit_w,
        energy_millijoules=energy.millijoules(t),
        clock_sm_mhz=sm_mhz,
        clock_memory_mhz=memory_mhz,
        clock_graphics_mhz=sm_mhz,
        clock_video_mhz=int(round(sm_mhz * 0.85 / 15.0) * 15),
        performance_state=pynvml.NVML_PSTATE_0 if busy else pynvml.NVML_PSTATE_8,
        clock_event_reasons=reasons,
        ecc_corrected_volatile=ecc[0],
        ecc_uncorrected_volatile=ecc[1],
        ecc_corrected_aggregate=corrected_aggregate,
        ecc_uncorrected_aggregate=ecc[1],
        remapped_rows_correctable=rows[0],
        remapped_rows_uncorrectable=rows[1],
        row_remap_pending=pending,
        row_remap_failure=False,
        xid_counts=tuple(sorted(xids.items())),
        mig=tuple(mig),
        processes=processes,
    )


# -- the cached facade -------------------------------------------------------------------------


@dataclass(frozen=True)
class XidOccurrence:
    t: float
    gpu_index: int
    xid: int
    order: int  # position of the causing event among the GPU's events (ties at one instant)

    @property
    def cursor(self) -> tuple[float, int, int]:
        return (self.t, self.gpu_index, self.order)


class NodeState:
    """The values of one node's GPUs, with per-minute and per-instant caches.

    Reads only: safe to share between threads (a race at worst computes a value twice).
    """

    _MAX_CACHED = 4096
    _MAX_CACHED_VALUES = 256

    def __init__(self, seed: int, epoch: float, node: NodeSpec) -> None:
        self.node = node
        self.epoch = epoch
        self.contexts = gpu_contexts(seed, epoch, node)
        self._loads: dict[tuple[int, int], MinuteLoad] = {}
        self._values: dict[tuple[int, float], GpuValues] = {}
        self._meters: dict[int, EnergyMeter] = {}
        self._meter_lock = threading.Lock()

    def minute_load(self, index: int, t: float) -> MinuteLoad:
        minute = math.floor(t / MINUTE_S)
        key = (index, minute)
        load = self._loads.get(key)
        if load is None:
            if len(self._loads) >= self._MAX_CACHED:
                self._loads.clear()
            load = minute_load(self.contexts[index], minute)
            self._loads[key] = load
        return load

    def energy_meter(self, index: int) -> EnergyMeter:
        meter = self._meters.get(index)
        if meter is None:
            with self._meter_lock:
                meter = self._meters.get(index)
                if meter is None:
                    meter = EnergyMeter(self.contexts[index])
                    meter.standing_table  # noqa: B018 - built here, under the lock, once
                    self._meters[index] = meter
        return meter

    def power_table(self, index: int) -> PowerTable:
        """The daily power table of GPU ``index``'s consumers without a schedule."""
        return self.energy_meter(index).standing_table

    def gpu_values(self, index: int, t: float) -> GpuValues:
        key = (index, t)
        values = self._values.get(key)
        if values is None:
            # Live clocks give a new t per reading: keep only the recent ones.
            if len(self._values) >= self._MAX_CACHED_VALUES:
                self._values.clear()
            values = gpu_values(
                self.contexts[index], t, self.minute_load(index, t), self.energy_meter(index)
            )
            self._values[key] = values
        return values

    def is_lost(self, index: int, t: float) -> bool:
        return is_lost(self.contexts[index], t)

    def hang_remaining(self, index: int, t: float) -> float:
        return hang_remaining(self.contexts[index], t)

    def xid_occurrences(self, index: int, start: float, end: float) -> list[XidOccurrence]:
        """XIDs raised on GPU ``index`` with ``start <= t < end``, in time order."""
        ctx = self.contexts[index]
        found: list[XidOccurrence] = []
        for order, event in enumerate(ctx.events):
            xid = event_xid(event)
            if xid is None:
                continue
            k = first_occurrence_at_or_after(event, self.epoch, start)
            while k is not None and (event.times is None or k < event.times):
                at = occurrence_time(event, self.epoch, k)
                if at >= end:
                    break
                found.append(XidOccurrence(at, index, xid, order))
                if event.every_seconds is None:
                    break
                k += 1
        return sorted(found, key=lambda o: o.cursor)

    def next_xid(
        self, indexes: Iterable[int], after: tuple[float, int, int]
    ) -> XidOccurrence | None:
        """The first XID on any of ``indexes`` strictly after the cursor ``after``."""
        best: XidOccurrence | None = None
        for index in indexes:
            for order, event in enumerate(self.contexts[index].events):
                xid = event_xid(event)
                if xid is None:
                    continue
                k = first_occurrence_at_or_after(event, self.epoch, after[0])
                if k is None:
                    continue
                at = occurrence_time(event, self.epoch, k)
                if (at, index, order) <= after:
                    k += 1
                    if event.every_seconds is None or (
                        event.times is not None and k >= event.times
                    ):
                        continue
                    at = occurrence_time(event, self.epoch, k)
                candidate = XidOccurrence(at, index, xid, order)
                if best is None or candidate.cursor < best.cursor:
                    best = candidate
        return best
