"""GPM (GPU Performance Monitoring) for the fake NVML: sample buffers, samples of a GPU or MIG
GPU instance, and the metrics between two samples, following each GPU's workloads.

``FakeNvml`` delegates pynvml's ``nvmlGpm*`` functions here. Samples are real pynvml
``c_nvmlGpmSample_t`` pointers (to a small buffer this module keeps alive), so the exporter
places them in a real ``c_nvmlGpmMetricsGet_t`` as it does with libnvidia-ml, and
:meth:`FakeGpm.metrics` reads that structure and fills each ``metrics[i].value`` and
``metrics[i].nvmlReturn``.

Model (units as nvml.h's ``nvmlGpmMetricId_t``: percent 0-100, MiB/s):

* GPM exists on Hopper and newer (``isSupportedDevice`` 1); other GPUs answer 0 and their
  samples NotSupported, as the driver does.
* Each container on a GPU (or MIG instance) has an activity: its share of the device's
  utilisation in :func:`simulator.state.minute_load` (constant per UTC minute, noise included).
  Every metric is the sum over the target's containers of activity times its workload's
  :class:`WorkloadProfile` (inference decode is memory-bound with tensor work; training is
  tensor- and SM-heavy with NVLink all-reduce; a notebook is mostly idle FP32; batch jobs use
  the media engines), capped at 100 %. NVLink traffic needs a container spread over several
  GPUs; MIG instances have none. Rates of a MIG instance scale with its compute slices.
* A whole GPU in MIG mode reports its instances' percentages weighted by compute slices and the
  sum of their rates.
* The metrics between two samples are the time-weighted mean of the per-minute values between
  their times (at most the last hour); two samples at one instant give that minute's values.
* Media engines: NVDEC and NVJPG 7 each and one NVOFA on a whole Hopper GPU; a MIG instance has
  one NVDEC and NVJPG per compute slice and an NVOFA only as ``+me`` or the full 7g profile.
  Metric ids of engines a target lacks, per-link NVLink and C2C ids answer NotSupported in their
  ``nvmlReturn``. Busy engines are uneven (engine k carries a share falling with k).
"""

from __future__ import annotations

import ctypes
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pynvml

from gpucatalog.mig import total_slices
from simulator.fleet import GpuSpec
from simulator.state import MINUTE_S, NodeState

GPM_ARCHITECTURES = frozenset({"Hopper", "Blackwell"})
MAX_WINDOW_S = 3600.0
_IDLE_PCIE_TX_MIB_S = 0.2  # driver housekeeping on an idle GPU
_IDLE_PCIE_RX_MIB_S = 0.3
_WHOLE_GPU_ENGINES = (7, 7, 1)  # NVDEC, NVJPG, NVOFA on H100 / H200


@dataclass(frozen=True)
class WorkloadProfile:
    """Per unit of a container's activity: percentages as fractions, rates in MiB/s."""

    sm: float
    occupancy: float
    tensor: float
    hmma: float
    imma: float
    dfma: float
    fp64: float
    fp32: float
    fp16: float
    dram: float
    pcie_tx_mib_s: float
    pcie_rx_mib_s: float
    nvlink_mib_s: float  # each direction, only for a container on several GPUs
    nvdec: float
    nvjpg: float
    nvofa: float


PROFILES: dict[str, WorkloadProfile] = {
    # LLM serving: decode streams weights and KV cache (high DRAM), prefill is tensor work;
    # tensor parallelism moves activations over NVLink.
    "inference": WorkloadProfile(
        sm=0.80,
        occupancy=0.30,
        tensor=0.55,
        hmma=0.50,
        imma=0.04,
        dfma=0.0,
        fp64=0.0,
        fp32=0.12,
        fp16=0.20,
        dram=0.90,
        pcie_tx_mib_s=300.0,
        pcie_rx_mib_s=600.0,
        nvlink_mib_s=40_000.0,
        nvdec=0.0,
        nvjpg=0.0,
        nvofa=0.0,
    ),
    # Data-parallel training: tensor cores and SMs busy, gradients all-reduced over NVLink,
    # batches arrive over PCIe.
    "training": WorkloadProfile(
        sm=0.92,
        occupancy=0.55,
        tensor=0.68,
        hmma=0.65,
        imma=0.0,
        dfma=0.0,
        fp64=0.01,
        fp32=0.20,
        fp16=0.10,
        dram=0.55,
        pcie_tx_mib_s=500.0,
        pcie_rx_mib_s=3_000.0,
        nvlink_mib_s=120_000.0,
        nvdec=0.0,
        nvjpg=0.05,
        nvofa=0.0,
    ),
    "notebook": WorkloadProfile(
        sm=0.60,
        occupancy=0.20,
        tensor=0.10,
        hmma=0.08,
        imma=0.0,
        dfma=0.0,
        fp64=0.02,
        fp32=0.35,
        fp16=0.05,
        dram=0.35,
        pcie_tx_mib_s=100.0,
        pcie_rx_mib_s=200.0,
        nvlink_mib_s=0.0,
        nvdec=0.02,
        nvjpg=0.02,
        nvofa=0.0,
    ),
    # Preprocessing and batch jobs: decode video and images, some FP64.
    "batch": WorkloadProfile(
        sm=0.85,
        occupancy=0.45,
        tensor=0.30,
        hmma=0.25,
        imma=0.05,
        dfma=0.02,
        fp64=0.05,
        fp32=0.40,
        fp16=0.10,
        dram=0.45,
        pcie_tx_mib_s=800.0,
        pcie_rx_mib_s=2_500.0,
        nvlink_mib_s=20_000.0,
        nvdec=0.35,
        nvjpg=0.40,
        nvofa=0.15,
    ),
}

_RATIO_FIELDS = (
    "graphics",
    "sm",
    "occupancy",
    "integer",
    "tensor",
    "dfma",
    "hmma",
    "imma",
    "dram",
    "fp64",
    "fp32",
    "fp16",
    "nvdec",
    "nvjpg",
    "nvofa",
)
_RATE_FIELDS = ("pcie_tx", "pcie_rx", "nvlink_tx", "nvlink_rx")


def _error(code: int) -> Exception:
    error: Exception = pynvml.NVMLError(code)
    return error


def gpm_supported(gpu: GpuSpec) -> bool:
    return gpu.model.architecture in GPM_ARCHITECTURES


@dataclass(frozen=True)
class _Sample:
    gpu_index: int
    mig_slot: int | None
    gpu_instance_id: int | None
    t: float


@dataclass
class _Buffer:
    memory: Any  # the ctypes buffer the sample pointer points to, kept alive here
    sample: _Sample | None = None


@dataclass(frozen=True)
class _Target:
    """Activity per unit and rate scale of one GPU or MIG instance, for one minute."""

    values: dict[str, float]  # ratios 0..1 and rates in MiB/s
    engines: tuple[int, int, int]  # NVDEC, NVJPG, NVOFA


class FakeGpm:
    """The GPM half of one FakeNvml: its sample buffers and call counts. Thread-safe."""

    _MAX_CACHED = 4096

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buffers: dict[int, _Buffer] = {}
        self._minutes: dict[tuple[int, int, int | None, int], _Target] = {}
        self.samples_taken = 0
        self.metrics_calls = 0

    @property
    def buffers_allocated(self) -> int:
        with self._lock:
            return len(self._buffers)

    # -- the pynvml functions (FakeNvml resolves handles and checks the GPU first) ----------

    def query_support(self, gpu: GpuSpec) -> Any:
        support = pynvml.c_nvmlGpmSupport_t()
        support.version = pynvml.NVML_GPM_SUPPORT_VERSION
        support.isSupportedDevice = 1 if gpm_supported(gpu) else 0
        return support

    def alloc(self) -> Any:
        memory = ctypes.create_string_buffer(16)
        with self._lock:
            self._buffers[ctypes.addressof(memory)] = _Buffer(memory)
        return ctypes.cast(memory, pynvml.c_nvmlGpmSample_t)

    def free(self, sample: object) -> None:
        with self._lock:
            if self._buffers.pop(_address(sample), None) is None:
                raise _error(pynvml.NVML_ERROR_INVALID_ARGUMENT)

    def take(self, sample: object, gpu: GpuSpec, index: int, t: float) -> Any:
        if not gpm_supported(gpu):
            raise _error(pynvml.NVML_ERROR_NOT_SUPPORTED)
        self._record(sample, _Sample(index, None, None, t))
        return sample

    def take_mig(
        self, sample: object, gpu: GpuSpec, index: int, gpu_instance_id: int, t: float
    ) -> Any:
        if not gpm_supported(gpu):
            raise _error(pynvml.NVML_ERROR_NOT_SUPPORTED)
        if not gpu.mig_enabled:
            raise _error(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        slot = next(
            (i.slot for i in gpu.mig_instances if i.gpu_instance_id == gpu_instance_id), None
        )
        if slot is None:
            raise _error(pynvml.NVML_ERROR_NOT_FOUND)
        self._record(sample, _Sample(index, slot, gpu_instance_id, t))
        return sample

    def metrics(self, request: Any, state: NodeState, check: Callable[[int], None]) -> Any:
        """Fill ``request`` (a pynvml ``c_nvmlGpmMetricsGet_t``) as nvmlGpmMetricsGet does."""
        if not isinstance(request, pynvml.c_nvmlGpmMetricsGet_t):
            raise _error(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        if request.version != pynvml.NVML_GPM_METRICS_GET_VERSION:
            raise _error(pynvml.NVML_ERROR_ARGUMENT_VERSION_MISMATCH)
        count = int(request.numMetrics)
        if not 0 < count <= pynvml.NVML_GPM_METRIC_MAX:
            raise _error(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        with self._lock:
            self.metrics_calls += 1
            first = self._filled(request.sample1)
            second = self._filled(request.sample2)
        if (first.gpu_index, first.mig_slot, first.gpu_instance_id) != (
            second.gpu_index,
            second.mig_slot,
            second.gpu_instance_id,
        ) or second.t < first.t:
            raise _error(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        index = first.gpu_index
        check(index)
        gpu = state.node.gpus[index]
        slot = first.mig_slot
        if slot is not None and (
            slot >= len(gpu.mig_instances)
            or gpu.mig_instances[slot].gpu_instance_id != first.gpu_instance_id
        ):
            raise _error(pynvml.NVML_ERROR_INVALID_ARGUMENT)  # the instance is gone
        target = self._mean(state, index, slot, first.t, second.t)
        for i in range(count):
            metric = request.metrics[i]
            value = _metric_value(target, int(metric.metricId))
            if value is None:
                metric.nvmlReturn = pynvml.NVML_ERROR_NOT_SUPPORTED
                metric.value = 0.0
            else:
                metric.nvmlReturn = pynvml.NVML_SUCCESS
                metric.value = value
        return request

    # -- internals -------------------------------------------------------------------------

    def _record(self, sample: object, record: _Sample) -> None:
        with self._lock:
            buffer = self._buffers.get(_address(sample))
            if buffer is None:
                raise _error(pynvml.NVML_ERROR_INVALID_ARGUMENT)
            buffer.sample = record
            self.samples_taken += 1

    def _filled(self, sample: object) -> _Sample:
        buffer = self._buffers.get(_address(sample))
        if buffer is None or buffer.sample is None:
            raise _error(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        return buffer.sample

    def _mean(
        self, state: NodeState, index: int, slot: int | None, t1: float, t2: float
    ) -> _Target:
        t1 = max(t1, t2 - MAX_WINDOW_S)
        if t2 <= t1:
            return self._minute(state, index, slot, math.floor(t2 / MINUTE_S))
        sums: dict[str, float] = {}
        engines = (0, 0, 0)
        minute = math.floor(t1 / MINUTE_S)
        while minute * MINUTE_S < t2:
            start, end = max(t1, minute * MINUTE_S), min(t2, (minute + 1) * MINUTE_S)
            weight = (end - start) / (t2 - t1)
            target = self._minute(state, index, slot, minute)
            engines = target.engines
            for name, value in target.values.items():
                sums[name] = sums.get(name, 0.0) + value * weight
            minute += 1
        return _Target(sums, engines)

    def _minute(self, state: NodeState, index: int, slot: int | None, minute: int) -> _Target:
        key = (id(state), index, slot, minute)
        cached = self._minutes.get(key)
        if cached is None:
            if len(self._minutes) >= self._MAX_CACHED:
                self._minutes.clear()
            cached = minute_target(state, index, slot, minute)
            self._minutes[key] = cached
        return cached


def minute_target(state: NodeState, index: int, slot: int | None, minute: int) -> _Target:
    """GPM values of GPU ``index`` (``slot`` None) or its MIG instance ``slot`` in ``minute``."""
    ctx = state.contexts[index]
    gpu = ctx.gpu
    load = state.minute_load(index, minute * MINUTE_S)
    spread = _gpus_per_container(state)
    total_compute, _ = total_slices(gpu.model.model_id)

    def one(mig_slot: int | None) -> dict[str, float]:
        # A MIG instance's rates scale with its share of the GPU's compute slices.
        scale = 1.0
        if mig_slot is not None:
            scale = gpu.mig_instances[mig_slot].profile.compute_slices / total_compute
        values = dict.fromkeys(_RATIO_FIELDS + _RATE_FIELDS, 0.0)
        for consumer, activity in zip(ctx.consumers, load.consumer_utilization, strict=True):
            if consumer.mig_slot != mig_slot or activity <= 0.0:
                continue
            profile = PROFILES[consumer.workload]
            values["graphics"] += activity
            values["sm"] += activity * profile.sm
            values["integer"] += activity * profile.sm * 0.1
            for name in ("occupancy", "tensor", "hmma", "imma", "dfma", "fp64", "fp32", "fp16"):
                values[name] += activity * getattr(profile, name)
            values["dram"] += activity * profile.dram
            for name in ("nvdec", "nvjpg", "nvofa"):
                values[name] += activity * getattr(profile, name)
            values["pcie_tx"] += activity * profile.pcie_tx_mib_s * scale
            values["pcie_rx"] += activity * profile.pcie_rx_mib_s * scale
            if mig_slot is None and spread.get((consumer.namespace, consumer.pod), 1) > 1:
                values["nvlink_tx"] += activity * profile.nvlink_mib_s
                values["nvlink_rx"] += activity * profile.nvlink_mib_s
        for name in _RATIO_FIELDS:
            values[name] = min(1.0, values[name])
        values["pcie_tx"] += _IDLE_PCIE_TX_MIB_S * scale
        values["pcie_rx"] += _IDLE_PCIE_RX_MIB_S * scale
        return values

    if slot is not None:
        return _Target(one(slot), _mig_engines(gpu, slot, total_compute))
    if not gpu.mig_enabled:
        return _Target(one(None), _WHOLE_GPU_ENGINES)
    whole = dict.fromkeys(_RATIO_FIELDS + _RATE_FIELDS, 0.0)
    for instance in gpu.mig_instances:
        weight = instance.profile.compute_slices / total_compute
        for name, value in one(instance.slot).items():
            whole[name] += value * (weight if name in _RATIO_FIELDS else 1.0)
    return _Target(whole, _WHOLE_GPU_ENGINES)


def _mig_engines(gpu: GpuSpec, slot: int, total_compute: int) -> tuple[int, int, int]:
    profile = gpu.mig_instances[slot].profile
    full = profile.compute_slices >= total_compute
    media = min(profile.compute_slices, _WHOLE_GPU_ENGINES[0])
    ofa = 1 if full or profile.name.endswith("+me") else 0
    return (media, media, ofa)


def _gpus_per_container(state: NodeState) -> dict[tuple[str, str], int]:
    # GPUs each pod's containers hold (NVLink traffic needs more than one).
    return {
        (pod.namespace, pod.name): len(
            {ref.gpu_index for container in pod.containers for ref in container.devices}
        )
        for pod in state.node.pods
    }


_ENGINE_IDS: tuple[tuple[int, int, int], ...] = (
    # (first metric id, engines in the id range, index into _Target.engines)
    (pynvml.NVML_GPM_METRIC_NVDEC_0_UTIL, 8, 0),
    (pynvml.NVML_GPM_METRIC_NVJPG_0_UTIL, 8, 1),
    (pynvml.NVML_GPM_METRIC_NVOFA_0_UTIL, 2, 2),
)
_RATIO_IDS: dict[int, str] = {
    pynvml.NVML_GPM_METRIC_GRAPHICS_UTIL: "graphics",
    pynvml.NVML_GPM_METRIC_SM_UTIL: "sm",
    pynvml.NVML_GPM_METRIC_SM_OCCUPANCY: "occupancy",
    pynvml.NVML_GPM_METRIC_INTEGER_UTIL: "integer",
    pynvml.NVML_GPM_METRIC_ANY_TENSOR_UTIL: "tensor",
    pynvml.NVML_GPM_METRIC_DFMA_TENSOR_UTIL: "dfma",
    pynvml.NVML_GPM_METRIC_HMMA_TENSOR_UTIL: "hmma",
    pynvml.NVML_GPM_METRIC_DMMA_TENSOR_UTIL: "dfma",
    pynvml.NVML_GPM_METRIC_IMMA_TENSOR_UTIL: "imma",
    pynvml.NVML_GPM_METRIC_DRAM_BW_UTIL: "dram",
    pynvml.NVML_GPM_METRIC_FP64_UTIL: "fp64",
    pynvml.NVML_GPM_METRIC_FP32_UTIL: "fp32",
    pynvml.NVML_GPM_METRIC_FP16_UTIL: "fp16",
}
_RATE_IDS: dict[int, str] = {
    pynvml.NVML_GPM_METRIC_PCIE_TX_PER_SEC: "pcie_tx",
    pynvml.NVML_GPM_METRIC_PCIE_RX_PER_SEC: "pcie_rx",
    pynvml.NVML_GPM_METRIC_NVLINK_TOTAL_TX_PER_SEC: "nvlink_tx",
    pynvml.NVML_GPM_METRIC_NVLINK_TOTAL_RX_PER_SEC: "nvlink_rx",
}
_ENGINE_FIELDS = ("nvdec", "nvjpg", "nvofa")


def _metric_value(target: _Target, metric_id: int) -> float | None:
    """NVML's value for one metric id (percent or MiB/s); None: not supported here."""
    if metric_id in _RATIO_IDS:
        return target.values[_RATIO_IDS[metric_id]] * 100.0
    if metric_id in _RATE_IDS:
        return target.values[_RATE_IDS[metric_id]]
    for first, span, which in _ENGINE_IDS:
        if first <= metric_id < first + span:
            engine, engines = metric_id - first, target.engines[which]
            if engine >= engines:
                return None
            # Uneven engines whose mean is the target's value (before the 100 % cap).
            share = 2.0 * (engines - engine) / (engines + 1)
            return min(1.0, target.values[_ENGINE_FIELDS[which]] * share) * 100.0
    return None


def _address(sample: object) -> int:
    try:
        address = ctypes.cast(sample, ctypes.c_void_p).value  # type: ignore[arg-type]
    except (ctypes.ArgumentError, TypeError):
        address = None
    if not address:
        raise _error(pynvml.NVML_ERROR_INVALID_ARGUMENT)
    return int(address)
