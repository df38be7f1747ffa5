"""What a simulated GPU's PCIe, NVLink, video engines, violation times and fabric read at time t.

These back the fake NVML calls behind dcgm-exporter's default counters (issue 20). Like
:mod:`simulator.state`, every value is a pure function of (GPU, t); counters are monotonic and
cost O(1) per read however long after the epoch (driver load) t is:

* NVLink data and the power / low-utilisation violation times are integrals over the GPU's
  noise-free power curve, computed on the tables its :class:`simulator.state.EnergyMeter`
  already keeps (:class:`PowerIntegral`): NVLink traffic grows with the load above idle,
  scaled by how much the GPU's workloads talk to their peers (training's all-reduce most);
  power violation accrues near the power limit, low-utilisation violation while idle.
* Thermal violation time is the time spent inside the GPU's ``overheat`` event windows.
* PCIe replays and NVLink errors are rare step functions, zero on most GPUs.
* PCIe throughput and the video engines are gauges of the minute's load: host traffic per
  workload (inference moves the most: requests in, tokens out, batches grow with the load).

Which GPUs answer what: NVLink on SXM boards of the A100, H100 and H200 only (12 or 18 links;
PCIe boards, A30, L4 and RTX 4090 answer NOT_SUPPORTED); NVSwitch fabric on Hopper SXM (HGX)
boards only; a memory temperature sensor on HBM boards only; violation times on data-centre
boards (not on the GeForce RTX 4090).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable

import pynvml

from simulator.fleet import EventSpec, GpuSpec, stable_hash, stable_uuid
from simulator.state import (
    GDDR_MODELS,
    IDLE_UTILIZATION,
    NO_ECC_MODELS,
    EnergyMeter,
    GpuContext,
    MinuteLoad,
    NodeState,
    PowerTable,
    noise,
    occurrence_time,
    occurrences_upto,
    power_watts,
    window_active,
    windows_ended_upto,
)

NS_PER_S = 1_000_000_000
KIB = 1024
_HOUR_S = 3600.0

# NVLink links per SXM board and the payload one direction of all of them carries at most.
NVLINK_LINKS = {"A100_40GB": 12, "A100_80GB": 12, "H100_80GB": 18, "H200_141GB": 18}
NVLINK_PEAK_BYTES_PER_SECOND = {
    "A100_40GB": 300e9,
    "A100_80GB": 300e9,
    "H100_80GB": 450e9,
    "H200_141GB": 450e9,
}
# Share of the NVLink peak a workload uses at full load (collectives between the GPUs).
_NVLINK_SHARE = {"training": 0.35, "inference": 0.08, "batch": 0.05, "notebook": 0.005}
# Host traffic at full load, KB/s (transmit: GPU to host, receive: host to GPU).
_PCIE_KBPS_AT_FULL_LOAD = {
    "inference": (600_000, 1_500_000),
    "training": (100_000, 800_000),
    "batch": (900_000, 1_200_000),
    "notebook": (20_000, 50_000),
}
_PCIE_IDLE_KBPS = 40  # driver housekeeping
_DECODER_SHARE_INFERENCE = 0.03  # image and video inputs decoded on NVDEC
POWER_VIOLATION_FROM = 0.90  # power violation accrues from this fraction of the limit
FABRIC_REGISTRATION_S = 90.0  # after driver load the fabric manager takes this long

NVLINK_ERROR_FIELDS = {
    pynvml.NVML_FI_DEV_NVLINK_CRC_FLIT_ERROR_COUNT_TOTAL: "crc_flit",
    pynvml.NVML_FI_DEV_NVLINK_CRC_DATA_ERROR_COUNT_TOTAL: "crc_data",
    pynvml.NVML_FI_DEV_NVLINK_REPLAY_ERROR_COUNT_TOTAL: "replay",
    pynvml.NVML_FI_DEV_NVLINK_RECOVERY_ERROR_COUNT_TOTAL: "recovery",
}
# Errors per hour on the GPUs that have them, and which share of GPUs do (1 in N).
_ERROR_RATES = {
    "pcie_replay": (0.2, 8),
    "crc_flit": (0.5, 4),
    "crc_data": (0.1, 8),
    "replay": (0.3, 4),
    "recovery": (0.02, 16),
}
_ALL_LINKS = 0xFFFFFFFF


def nvlink_links(gpu: GpuSpec) -> int:
    """NVLink links of the board; 0 for PCIe boards and models without NVLink."""
    if "pcie" in gpu.product_name.lower():
        return 0
    return NVLINK_LINKS.get(gpu.model.model_id, 0)


def has_fabric(gpu: GpuSpec) -> bool:
    """Hopper SXM boards sit on an NVSwitch fabric (HGX); A100 boards report none."""
    return nvlink_links(gpu) > 0 and gpu.model.architecture == "Hopper"


def has_memory_sensor(gpu: GpuSpec) -> bool:
    return gpu.model.model_id not in GDDR_MODELS


def has_violation_counters(gpu: GpuSpec) -> bool:
    return gpu.model.model_id not in NO_ECC_MODELS  # the consumer boards have neither


class PowerIntegral(EnergyMeter):
    """∫ f(noise-free power) dt since the epoch, exact and monotonic, in whole units.

    ``per_second`` maps a minute's noise-free power (mW) to units per second (a non-negative
    int); the tables are derived from the GPU's energy meter's, so nothing is recomputed per
    minute of load."""

    def __init__(self, energy: EnergyMeter, per_second: Callable[[int], int]) -> None:
        super().__init__(energy.ctx)
        self._source = energy
        self._per_second = per_second

    def table(self, present: tuple[bool, ...]) -> PowerTable:
        table = self._tables.get(present)
        if table is None:
            power_mw, _prefix = self._source.table(present)
            rates = tuple(self._per_second(p) for p in power_mw)
            prefix = [0]
            for rate in rates:
                prefix.append(prefix[-1] + rate * 60)
            table = (rates, tuple(prefix))
            self._tables[present] = table
        return table

    def total(self, t: float) -> int:
        # Whole seconds: within a minute the integral is floor(rate * seconds), exact integers.
        return self.millijoules(math.floor(t))


class GpuCounters:
    """The counters of one GPU; built lazily by :class:`NodeCounters`."""

    def __init__(self, ctx: GpuContext, energy: EnergyMeter) -> None:
        self.ctx = ctx
        gpu, model = ctx.gpu, ctx.gpu.model
        self.links = nvlink_links(gpu)
        idle_mw, limit_mw = model.idle_power_w * 1000, model.power_limit_w * 1000
        share = (
            0.0
            if gpu.mig_enabled  # no peer traffic between MIG instances' processes
            else max((_NVLINK_SHARE[c.workload] for c in ctx.consumers), default=0.0)
        )
        peak_kib = NVLINK_PEAK_BYTES_PER_SECOND.get(model.model_id, 0.0) / KIB

        def nvlink_kib_per_s(power_mw: int) -> int:
            dynamic = min(1.0, max(0.0, (power_mw - idle_mw) / (limit_mw - idle_mw)))
            return round(peak_kib * share * dynamic)

        def power_violation_ns_per_s(power_mw: int) -> int:
            over = (power_mw / limit_mw - POWER_VIOLATION_FROM) / (1.0 - POWER_VIOLATION_FROM)
            return round(NS_PER_S * min(1.0, max(0.0, over)))

        idle_threshold_mw = power_watts(gpu, IDLE_UTILIZATION) * 1000

        def low_utilization_ns_per_s(power_mw: int) -> int:
            return NS_PER_S if power_mw < idle_threshold_mw else 0

        self._nvlink = PowerIntegral(energy, nvlink_kib_per_s)
        self._nvlink_last: tuple[float, int] | None = None
        self._power_violation = PowerIntegral(energy, power_violation_ns_per_s)
        self._low_utilization = PowerIntegral(energy, low_utilization_ns_per_s)
        # Links share the traffic unevenly (routing), receive is a little below transmit.
        self._link_weights = tuple(
            1000 + stable_hash(ctx.seed, ctx.node, gpu.index, "link", link) % 200
            for link in range(self.links)
        )
        self._link_weight_sum = sum(self._link_weights)
        self._rx_per_mille = 960 + stable_hash(ctx.seed, ctx.node, gpu.index, "rx") % 40
        self._memory_offset_c = stable_hash(ctx.seed, ctx.node, gpu.index, "memtemp") % 7 - 2

    # -- NVLink ------------------------------------------------------------------------------

    def _nvlink_total(self, t: float) -> int:
        # One field-values call asks for every link at one t: integrate once.
        cached = self._nvlink_last
        if cached is None or cached[0] != t:
            cached = (t, self._nvlink.total(t))
            self._nvlink_last = cached
        return cached[1]

    def nvlink_link_kib(self, t: float, link: int, receive: bool) -> int:
        """KiB moved over ``link`` since the epoch, one direction."""
        total = self._nvlink_total(t)
        if receive:
            total = total * self._rx_per_mille // 1000
        return total * self._link_weights[link] // self._link_weight_sum

    def nvlink_kib(self, t: float, receive: bool) -> int:
        return sum(self.nvlink_link_kib(t, link, receive) for link in range(self.links))

    def nvlink_errors(self, t: float, kind: str) -> int:
        return self._rare_events(t, kind)

    # -- PCIe ---------------------------------------------------------------------------------

    def pcie_replays(self, t: float) -> int:
        return self._rare_events(t, "pcie_replay")

    def pcie_kbps(self, t: float, load: MinuteLoad, receive: bool) -> int:
        """Host traffic in the driver's 20 ms sample at ``t``, KB/s."""
        rate = float(_PCIE_IDLE_KBPS)
        for consumer, share in zip(self.ctx.consumers, load.consumer_utilization, strict=True):
            rate += _PCIE_KBPS_AT_FULL_LOAD[consumer.workload][int(receive)] * share
        window = math.floor(t * 50)  # one sample per 20 ms
        jitter = 1.0 + 0.15 * noise(stable_hash(self.ctx.seed, self.ctx.gpu.index, receive), window)
        return round(rate * jitter)

    # -- video engines -------------------------------------------------------------------------

    def decoder_percent(self, load: MinuteLoad) -> int:
        busy = sum(
            share
            for consumer, share in zip(self.ctx.consumers, load.consumer_utilization, strict=True)
            if consumer.workload == "inference"
        )
        return round(100 * min(1.0, _DECODER_SHARE_INFERENCE * busy))

    # -- temperatures and violations -----------------------------------------------------------

    def memory_temperature_celsius(self, gpu_temperature_celsius: int) -> int:
        return gpu_temperature_celsius + self._memory_offset_c

    def violation_ns(self, t: float, policy: int) -> int:
        """Nanoseconds since the epoch that clocks were held down for ``policy``."""
        if policy == pynvml.NVML_PERF_POLICY_POWER:
            return self._power_violation.total(t)
        if policy == pynvml.NVML_PERF_POLICY_THERMAL:
            return self._thermal_ns(t)
        if policy == pynvml.NVML_PERF_POLICY_LOW_UTILIZATION:
            return self._low_utilization.total(t)
        if policy == pynvml.NVML_PERF_POLICY_TOTAL_APP_CLOCKS:
            return self._power_violation.total(t) + self._thermal_ns(t)
        if policy == pynvml.NVML_PERF_POLICY_TOTAL_BASE_CLOCKS:
            return self._thermal_ns(t)
        return 0  # sync boost, board limit, reliability: never on these boards

    def _thermal_ns(self, t: float) -> int:
        seconds = 0.0
        for event in self.ctx.events:
            if event.kind == "overheat":
                seconds += _time_in_windows(event, self.ctx.epoch, t)
        return round(seconds * NS_PER_S)

    def _rare_events(self, t: float, kind: str) -> int:
        per_hour, one_in = _ERROR_RATES[kind]
        ctx = self.ctx
        if stable_hash(ctx.seed, ctx.node, ctx.gpu.index, kind) % one_in or t <= ctx.epoch:
            return 0
        return math.floor((t - ctx.epoch) / _HOUR_S * per_hour)

    # -- fabric --------------------------------------------------------------------------------

    def fabric_state(self, t: float) -> int:
        if t < self.ctx.epoch + FABRIC_REGISTRATION_S:
            return int(pynvml.NVML_GPU_FABRIC_STATE_IN_PROGRESS)
        return int(pynvml.NVML_GPU_FABRIC_STATE_COMPLETED)

    def fabric_cluster_uuid(self) -> bytes:
        return bytes.fromhex(stable_uuid(self.ctx.seed, self.ctx.node, "fabric").replace("-", ""))

    def fabric_clique_id(self) -> int:
        return stable_hash(self.ctx.seed, self.ctx.node, "clique") % 32767


def _time_in_windows(event: EventSpec, epoch: float, t: float) -> float:
    """Seconds of [epoch, t] inside the event's [start, start + duration) windows."""
    seconds = windows_ended_upto(event, epoch, t) * event.duration_seconds
    if window_active(event, epoch, t):
        start = occurrence_time(event, epoch, occurrences_upto(event, epoch, t) - 1)
        seconds += t - start
    return seconds


class NodeCounters:
    """Lazily built :class:`GpuCounters` for the GPUs of one :class:`NodeState` (thread-safe)."""

    def __init__(self, state: NodeState) -> None:
        self.state = state
        self._gpus: dict[int, GpuCounters] = {}
        self._lock = threading.Lock()

    def gpu(self, index: int) -> GpuCounters:
        counters = self._gpus.get(index)
        if counters is None:
            with self._lock:
                counters = self._gpus.get(index)
                if counters is None:
                    state = self.state
                    counters = GpuCounters(state.contexts[index], state.energy_meter(index))
                    self._gpus[index] = counters
        return counters


def field_value(
    counters: GpuCounters, field_id: int, scope_id: int, t: float, gpu_temperature: int
) -> tuple[int, int, float | int]:
    """(nvmlReturn, value type, value) of one nvmlDeviceGetFieldValues entry."""
    gpu = counters.ctx.gpu
    uint, ull = pynvml.NVML_VALUE_TYPE_UNSIGNED_INT, pynvml.NVML_VALUE_TYPE_UNSIGNED_LONG_LONG
    not_supported = (pynvml.NVML_ERROR_NOT_SUPPORTED, uint, 0)
    if field_id == pynvml.NVML_FI_DEV_MEMORY_TEMP:
        if not has_memory_sensor(gpu):
            return not_supported
        return (pynvml.NVML_SUCCESS, uint, counters.memory_temperature_celsius(gpu_temperature))
    if field_id == pynvml.NVML_FI_DEV_PCIE_REPLAY_COUNTER:
        return (pynvml.NVML_SUCCESS, ull, counters.pcie_replays(t))
    nvlink_fields = (
        pynvml.NVML_FI_DEV_NVLINK_LINK_COUNT,
        pynvml.NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_TX,
        pynvml.NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_RX,
        *NVLINK_ERROR_FIELDS,
    )
    if field_id not in nvlink_fields or counters.links == 0:
        return not_supported
    if field_id == pynvml.NVML_FI_DEV_NVLINK_LINK_COUNT:
        return (pynvml.NVML_SUCCESS, uint, counters.links)
    if field_id in NVLINK_ERROR_FIELDS:
        return (pynvml.NVML_SUCCESS, ull, counters.nvlink_errors(t, NVLINK_ERROR_FIELDS[field_id]))
    receive = field_id == pynvml.NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_RX
    if scope_id == _ALL_LINKS:
        return (pynvml.NVML_SUCCESS, ull, counters.nvlink_kib(t, receive))
    if not 0 <= scope_id < counters.links:
        return (pynvml.NVML_ERROR_INVALID_ARGUMENT, ull, 0)
    return (pynvml.NVML_SUCCESS, ull, counters.nvlink_link_kib(t, scope_id, receive))
