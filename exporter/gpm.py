"""GPM profiling: NVML's GPU Performance Monitoring metrics per GPU and per MIG GPU instance.

GPM (Hopper and newer, driver 525.60 or later) gives what DCGM exports as its profiling fields
(``DCGM_FI_PROF_SM_ACTIVE``, ``..._PIPE_TENSOR_ACTIVE``, ``..._DRAM_ACTIVE``, ...) straight
from NVML. This module owns that part of the NVML boundary; :mod:`exporter.nvml` owns the rest
and initialises the library this one calls. The library is the same constructor argument: the
real ``pynvml`` (nvidia-ml-py) or the simulator's ``FakeNvml``.

Sampling (the GPM functions of https://docs.nvidia.com/deploy/nvml-api/): a GPM metric is
computed between two samples. Each GPU and each MIG GPU instance gets two sample buffers,
allocated once (``nvmlGpmSampleAlloc``); every cycle fills one (``nvmlGpmSampleGet``, or
``nvmlGpmMigSampleGet(device, gpuInstanceId, sample)`` for an instance) and computes the metrics
against the other, which holds the previous cycle's sample (``nvmlGpmMetricsGet``). So each
value is the mean over one sampling interval, a cycle costs one sample and one metrics call per
target, and the first cycle only sets the baseline. Buffers are freed when the GPU is lost, its
MIG instance goes away, or the reader closes.

Units (nvml.h, ``nvmlGpmMetricId_t``): utilisations are percent 0-100 (exported as ratios 0-1);
PCIe and NVLink rates are MiB/s (exported as bytes per second). Per-engine metrics (NVDEC 0-7,
NVJPG 0-7, NVOFA 0-1) are averaged over the engines whose value NVML returned.

Failure policy: a GPU that does not support GPM (``isSupportedDevice`` 0: Ampere and older, or
NVML answering NotSupported) is asked once and exports only ``gpu_prof_support_info`` with the
reason; a lost GPU's buffers are freed and it starts over when it returns; when NVML needs
re-initialising every buffer is forgotten (the library's own state went with it).

Turned off (``--gpm=false``, for nodes where another profiler owns the counters: DCGM's
profiling module, Nsight Compute or Nsight Systems' GPU metrics), the reader calls nothing in
NVML and every GPU exports ``gpu_prof_support_info{supported="false",reason="disabled"}``.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from exporter.snapshot import DeviceSample, ProfilingSample, ProfilingSupport

log = logging.getLogger(__name__)

# gpu_prof_support_info's reason label.
REASON_SUPPORTED = "supported"
REASON_DEVICE = "device_not_supported"  # isSupportedDevice = 0: the GPU has no GPM (pre-Hopper)
REASON_DRIVER = "driver_not_supported"  # NVML_ERROR_NOT_SUPPORTED (driver, vGPU, ...)
REASON_LIBRARY = "function_not_found"  # the driver or nvidia-ml-py has no GPM functions
REASON_PERMISSION = "no_permission"  # NVML_ERROR_NO_PERMISSION
REASON_QUERY_FAILED = "query_failed"  # any other error; asked again next cycle
REASON_DISABLED = "disabled"  # --gpm=false: NVML is not asked
REASONS = (
    REASON_SUPPORTED,
    REASON_DEVICE,
    REASON_DRIVER,
    REASON_LIBRARY,
    REASON_PERMISSION,
    REASON_QUERY_FAILED,
    REASON_DISABLED,
)

_PERCENT = 0.01
_MIB = 1024.0 * 1024.0

# (ProfilingSample field, pynvml metric id constant, factor to the exported unit)
SINGLE_METRICS: tuple[tuple[str, str, float], ...] = (
    ("sm_active_ratio", "NVML_GPM_METRIC_SM_UTIL", _PERCENT),
    ("sm_occupancy_ratio", "NVML_GPM_METRIC_SM_OCCUPANCY", _PERCENT),
    ("tensor_active_ratio", "NVML_GPM_METRIC_ANY_TENSOR_UTIL", _PERCENT),
    ("tensor_hmma_active_ratio", "NVML_GPM_METRIC_HMMA_TENSOR_UTIL", _PERCENT),
    ("tensor_imma_active_ratio", "NVML_GPM_METRIC_IMMA_TENSOR_UTIL", _PERCENT),
    ("tensor_dfma_active_ratio", "NVML_GPM_METRIC_DFMA_TENSOR_UTIL", _PERCENT),
    ("fp64_active_ratio", "NVML_GPM_METRIC_FP64_UTIL", _PERCENT),
    ("fp32_active_ratio", "NVML_GPM_METRIC_FP32_UTIL", _PERCENT),
    ("fp16_active_ratio", "NVML_GPM_METRIC_FP16_UTIL", _PERCENT),
    ("dram_bandwidth_utilization_ratio", "NVML_GPM_METRIC_DRAM_BW_UTIL", _PERCENT),
    ("pcie_transmit_bytes_per_second", "NVML_GPM_METRIC_PCIE_TX_PER_SEC", _MIB),
    ("pcie_receive_bytes_per_second", "NVML_GPM_METRIC_PCIE_RX_PER_SEC", _MIB),
    ("nvlink_transmit_bytes_per_second", "NVML_GPM_METRIC_NVLINK_TOTAL_TX_PER_SEC", _MIB),
    ("nvlink_receive_bytes_per_second", "NVML_GPM_METRIC_NVLINK_TOTAL_RX_PER_SEC", _MIB),
)
# (ProfilingSample field, pynvml constant pattern, engines): the mean over engines, as a ratio.
ENGINE_METRICS: tuple[tuple[str, str, int], ...] = (
    ("nvdec_utilization_ratio", "NVML_GPM_METRIC_NVDEC_{}_UTIL", 8),
    ("nvjpg_utilization_ratio", "NVML_GPM_METRIC_NVJPG_{}_UTIL", 8),
    ("nvofa_utilization_ratio", "NVML_GPM_METRIC_NVOFA_{}_UTIL", 2),
)


@dataclass(frozen=True)
class GpmReadings:
    """One cycle's profiling samples and the support verdict of every GPU seen."""

    samples: tuple[ProfilingSample, ...] = ()
    support: tuple[ProfilingSupport, ...] = ()


@dataclass
class _Target:
    """A GPU (``gpu_instance_id`` None) or MIG GPU instance with its two sample buffers."""

    gpu_uuid: str
    mig_uuid: str | None
    gpu_instance_id: int | None
    buffers: tuple[Any, Any]
    latest: int = -1  # the buffer holding the previous cycle's sample; -1: none yet


@dataclass
class _Plan:
    """Which metric ids one nvmlGpmMetricsGet asks for, and where each value goes."""

    ids: tuple[int, ...]
    single: tuple[tuple[str, int, float], ...]  # (field, metric id, factor)
    engines: tuple[tuple[str, tuple[int, ...]], ...]  # (field, metric ids)


def _plan(lib: Any) -> _Plan:
    # Metric ids a given nvidia-ml-py does not define are not asked for.
    single = tuple(
        (name, int(getattr(lib, constant)), factor)
        for name, constant, factor in SINGLE_METRICS
        if hasattr(lib, constant)
    )
    engines = tuple(
        (
            name,
            tuple(
                int(getattr(lib, pattern.format(n)))
                for n in range(count)
                if hasattr(lib, pattern.format(n))
            ),
        )
        for name, pattern, count in ENGINE_METRICS
    )
    ids = tuple(dict.fromkeys([i for _n, i, _f in single] + [i for _n, e in engines for i in e]))
    return _Plan(ids=ids, single=single, engines=engines)


def _disabled(devices: Sequence[DeviceSample]) -> tuple[ProfilingSupport, ...]:
    return tuple(
        ProfilingSupport(d.identity.index, d.identity.uuid, False, REASON_DISABLED)
        for d in devices
        if d.identity.uuid
    )


class GpmReader:
    """Samples GPM on every supporting GPU and MIG instance. Thread-safe; one sampler stage
    calls :meth:`read`, and :meth:`close` may come from another thread."""

    def __init__(
        self, lib: Any, *, enabled: bool = True, on_error: Callable[[str], None] | None = None
    ) -> None:
        self._lib = lib
        self._enabled = enabled
        self._on_error = on_error or (lambda _op: None)
        self._lock = threading.Lock()
        self._closed = False
        self._plan = _plan(lib)
        self._request: Any = None  # one c_nvmlGpmMetricsGet_t, reused
        self._support: dict[str, ProfilingSupport] = {}  # by GPU uuid
        self._targets: dict[tuple[int, int | None], _Target] = {}
        self._unsupported_targets: set[tuple[str, int | None]] = set()

    # -- public --------------------------------------------------------------------------
    def read(self, devices: Sequence[DeviceSample]) -> GpmReadings:
        """Sample every target once and return the metrics since the previous call."""
        with self._lock:
            if self._closed:
                return GpmReadings()
            if not self._enabled:
                return GpmReadings(support=_disabled(devices))
            samples: list[ProfilingSample] = []
            support: list[ProfilingSupport] = []
            seen: set[tuple[int, int | None]] = set()
            for device in devices:
                ident = device.identity
                if not ident.uuid:
                    continue
                if not device.up:
                    self._drop_gpu(ident.index, free=True)
                    cached = self._support.get(ident.uuid)
                    if cached is not None:
                        support.append(cached)
                    continue
                try:
                    samples.extend(self._read_gpu(device, support, seen))
                except _Lost:
                    self._drop_gpu(ident.index, free=True)
                except _Reinit:
                    self._forget_all()
                    break
            for key in [k for k in self._targets if k not in seen]:
                self._free(self._targets.pop(key))
            if self._closed:  # closed while this read waited on NVML
                self._free_all()
                return GpmReadings()
            return GpmReadings(tuple(samples), tuple(support))

    def close(self, timeout: float = 1.0) -> None:
        """Free every sample buffer; later reads return nothing. A read stuck in a wedged
        driver is not waited for past ``timeout`` s: it frees the buffers when it returns."""
        self._closed = True
        if not self._lock.acquire(timeout=timeout):
            log.warning("GPM sampling is stuck in NVML; its buffers are freed when it returns")
            return
        try:
            self._free_all()
        finally:
            self._lock.release()

    @property
    def buffers_held(self) -> int:
        """Sample buffers currently allocated (two per sampled GPU or MIG instance)."""
        with self._lock:
            return 2 * len(self._targets)

    # -- per GPU -------------------------------------------------------------------------
    def _read_gpu(
        self,
        device: DeviceSample,
        support: list[ProfilingSupport],
        seen: set[tuple[int, int | None]],
    ) -> list[ProfilingSample]:
        lib = self._lib
        ident = device.identity
        index = ident.index
        try:
            handle = lib.nvmlDeviceGetHandleByIndex(index)
            verdict = self._support_of(index, ident.uuid, handle)
        except lib.NVMLError as exc:
            cached = self._support.get(ident.uuid)
            if cached is not None:
                support.append(cached)
            self._device_error(index, "nvmlGpmQueryDeviceSupport", exc)
            return []
        support.append(verdict)
        if not verdict.supported:
            return []
        wanted: list[tuple[int | None, str | None]] = [(None, None)]
        instances: dict[int, str] = {}
        for mig in device.mig_instances:
            # Several compute instances may share a GPU instance: GPM samples the GPU instance.
            if mig.gpu_instance_id >= 0:
                instances.setdefault(mig.gpu_instance_id, mig.mig_uuid)
        wanted.extend(sorted(instances.items()))
        out: list[ProfilingSample] = []
        for gpu_instance_id, mig_uuid in wanted:
            if (ident.uuid, gpu_instance_id) in self._unsupported_targets:
                continue
            key = (index, gpu_instance_id)
            target = self._targets.get(key)
            if target is not None and (target.gpu_uuid, target.mig_uuid) != (ident.uuid, mig_uuid):
                self._free(self._targets.pop(key))  # another GPU or a new MIG instance
                target = None
            if target is None:
                target = self._allocate(ident.uuid, mig_uuid, gpu_instance_id)
                if target is None:
                    continue
                self._targets[key] = target
            seen.add(key)
            sample = self._sample(index, handle, target)
            if sample is not None:
                out.append(sample)
        return out

    def _support_of(self, index: int, uuid: str, handle: Any) -> ProfilingSupport:
        cached = self._support.get(uuid)
        if cached is not None:
            return cached
        lib = self._lib
        try:
            result = lib.nvmlGpmQueryDeviceSupport(handle)
        except AttributeError:
            reason = REASON_LIBRARY  # an nvidia-ml-py older than GPM
        except lib.NVMLError as exc:
            code = getattr(exc, "value", None)
            if code == lib.NVML_ERROR_NOT_SUPPORTED:
                reason = REASON_DRIVER
            elif code == lib.NVML_ERROR_FUNCTION_NOT_FOUND:
                reason = REASON_LIBRARY
            elif code == lib.NVML_ERROR_NO_PERMISSION:
                reason = REASON_PERMISSION
            elif code in _device_codes(lib):
                raise
            else:
                self._on_error("nvmlGpmQueryDeviceSupport")
                log.debug("GPU %d: nvmlGpmQueryDeviceSupport failed: %s", index, exc)
                return ProfilingSupport(index, uuid, False, REASON_QUERY_FAILED)  # not cached
        else:
            reason = REASON_SUPPORTED if int(result.isSupportedDevice) else REASON_DEVICE
        verdict = ProfilingSupport(index, uuid, reason == REASON_SUPPORTED, reason)
        self._support[uuid] = verdict
        log.info(
            "GPU %d: GPM profiling %s (%s)", index, "on" if verdict.supported else "off", reason
        )
        return verdict

    # -- samples -------------------------------------------------------------------------
    def _allocate(
        self, gpu_uuid: str, mig_uuid: str | None, gpu_instance_id: int | None
    ) -> _Target | None:
        lib = self._lib
        buffers: list[Any] = []
        try:
            for _ in range(2):
                buffers.append(lib.nvmlGpmSampleAlloc())
        except lib.NVMLError as exc:
            for buffer in buffers:
                with contextlib.suppress(lib.NVMLError):
                    lib.nvmlGpmSampleFree(buffer)
            if getattr(exc, "value", None) in _reinit_codes(lib):
                raise _Reinit from exc
            self._on_error("nvmlGpmSampleAlloc")
            return None
        return _Target(gpu_uuid, mig_uuid, gpu_instance_id, (buffers[0], buffers[1]))

    def _sample(self, index: int, handle: Any, target: _Target) -> ProfilingSample | None:
        lib = self._lib
        slot = 1 if target.latest == 0 else 0
        buffer = target.buffers[slot]
        try:
            if target.gpu_instance_id is None:
                lib.nvmlGpmSampleGet(handle, buffer)
            else:
                lib.nvmlGpmMigSampleGet(handle, target.gpu_instance_id, buffer)
        except lib.NVMLError as exc:
            code = getattr(exc, "value", None)
            if code in (lib.NVML_ERROR_NOT_SUPPORTED, lib.NVML_ERROR_FUNCTION_NOT_FOUND):
                # E.g. the whole GPU of a MIG-mode GPU where only its instances can be sampled.
                log.info(
                    "GPU %d: GPM sampling %s is not supported; not asking again",
                    index,
                    "the whole GPU"
                    if target.gpu_instance_id is None
                    else f"GPU instance {target.gpu_instance_id}",
                )
                self._unsupported_targets.add((target.gpu_uuid, target.gpu_instance_id))
                self._targets.pop((index, target.gpu_instance_id), None)
                self._free(target)
                return None
            self._device_error(index, "nvmlGpmSampleGet", exc)
            return None
        previous = target.latest
        target.latest = slot
        if previous < 0:
            return None  # the baseline: metrics come from the next cycle on
        values = self._metrics(target.buffers[previous], buffer)
        if values is None:
            return None
        return ProfilingSample(
            gpu_index=index,
            gpu_uuid=target.gpu_uuid,
            mig_uuid=target.mig_uuid,
            gpu_instance_id=target.gpu_instance_id,
            **values,
        )

    def _metrics(self, first: Any, second: Any) -> dict[str, float | None] | None:
        lib = self._lib
        plan = self._plan
        if self._request is None:
            self._request = lib.c_nvmlGpmMetricsGet_t()
        request = self._request
        request.version = lib.NVML_GPM_METRICS_GET_VERSION
        request.numMetrics = len(plan.ids)
        request.sample1 = first
        request.sample2 = second
        for i, metric_id in enumerate(plan.ids):
            request.metrics[i].metricId = metric_id
            request.metrics[i].nvmlReturn = lib.NVML_SUCCESS
            request.metrics[i].value = 0.0
        try:
            lib.nvmlGpmMetricsGet(request)
        except lib.NVMLError as exc:
            if getattr(exc, "value", None) in _reinit_codes(lib):
                raise _Reinit from exc
            self._on_error("nvmlGpmMetricsGet")
            log.debug("nvmlGpmMetricsGet failed: %s", exc)
            return None
        got: dict[int, float] = {}
        for i in range(len(plan.ids)):
            metric = request.metrics[i]
            if int(metric.nvmlReturn) == lib.NVML_SUCCESS:
                got[int(metric.metricId)] = float(metric.value)
        values: dict[str, float | None] = {}
        for name, metric_id, factor in plan.single:
            value = got.get(metric_id)
            values[name] = value * factor if value is not None else None
        for name, ids in plan.engines:
            engine_values = [got[i] for i in ids if i in got]
            values[name] = (
                sum(engine_values) / len(engine_values) * _PERCENT if engine_values else None
            )
        return values

    # -- failures ------------------------------------------------------------------------
    def _device_error(self, index: int, op: str, exc: Exception) -> None:
        code = getattr(exc, "value", None)
        self._on_error(op)
        if code in _reinit_codes(self._lib):
            raise _Reinit from exc
        if code == self._lib.NVML_ERROR_GPU_IS_LOST:
            raise _Lost from exc
        log.debug("GPU %d: %s failed: %s", index, op, exc)

    def _drop_gpu(self, index: int, *, free: bool) -> None:
        for key in [k for k in self._targets if k[0] == index]:
            target = self._targets.pop(key)
            if free:
                self._free(target)

    def _free_all(self) -> None:
        for target in self._targets.values():
            self._free(target)
        self._targets.clear()

    def _forget_all(self) -> None:
        # NVML is being re-initialised: its samples went with the old session.
        self._targets.clear()

    def _free(self, target: _Target) -> None:
        lib = self._lib
        for buffer in target.buffers:
            with contextlib.suppress(lib.NVMLError):
                lib.nvmlGpmSampleFree(buffer)


class _Lost(Exception):
    """Internal: the GPU was lost while sampling it."""


class _Reinit(Exception):
    """Internal: NVML must be re-initialised; every buffer is void."""


def _reinit_codes(lib: Any) -> tuple[int, ...]:
    return (lib.NVML_ERROR_UNINITIALIZED, lib.NVML_ERROR_DRIVER_NOT_LOADED)


def _device_codes(lib: Any) -> tuple[int, ...]:
    return (lib.NVML_ERROR_GPU_IS_LOST, *_reinit_codes(lib))
