"""``FakeNvml``: one simulated node's GPUs behind pynvml's own API, constants and errors.

An instance stands in for the ``pynvml`` module: the exporter calls ``lib.nvmlDeviceGetX(...)``
and catches ``lib.NVMLError`` on either. Constants, exception classes and result structures are
pynvml's own objects (nvidia-ml-py is imported here, and only for that), so error subclasses
and ``isinstance`` checks behave as on a real driver. pynvml functions this fake does not
implement raise ``NVMLError_FunctionNotFound``, as an older driver lacking the symbol would.
"""

from __future__ import annotations

import math
import threading
import time
import types
from typing import Any

import pynvml

from simulator.clock import Clock
from simulator.counters import (
    GpuCounters,
    NodeCounters,
    field_value,
    has_fabric,
    has_violation_counters,
)
from simulator.fleet import GpuSpec, MigInstanceSpec
from simulator.gpm import FakeGpm
from simulator.state import DRIVER_RESERVE_BYTES, NO_ECC_MODELS, GpuValues, NodeState

# Driver sampling: GPU utilisation every 1/6 s, the last 100 samples kept.
SAMPLES_PER_SECOND = 6
SAMPLE_BUFFER = 100
_NOT_AVAILABLE_UINT = 0xFFFFFFFF

_ARCHITECTURE = {
    "Ampere": pynvml.NVML_DEVICE_ARCH_AMPERE,
    "Ada Lovelace": pynvml.NVML_DEVICE_ARCH_ADA,
    "Hopper": pynvml.NVML_DEVICE_ARCH_HOPPER,
}
_COMPUTE_CAPABILITY = {"Ampere": (8, 0), "Ada Lovelace": (8, 9), "Hopper": (9, 0)}
_SM_COUNT = {
    "A100_40GB": 108,
    "A100_80GB": 108,
    "H100_80GB": 132,
    "H200_141GB": 132,
    "A30_24GB": 56,
    "L4": 58,
    "RTX4090": 128,
}
_SM_PER_MIG_SLICE = {"A100_40GB": 14, "A100_80GB": 14, "A30_24GB": 14}  # others: 16
_PCI_DEVICE_ID = {
    "A100_40GB": 0x20B010DE,
    "A100_80GB": 0x20B210DE,
    "H100_80GB": 0x233010DE,
    "H200_141GB": 0x233510DE,
    "A30_24GB": 0x20B710DE,
    "L4": 0x27B810DE,
    "RTX4090": 0x268410DE,
}
# Module attributes of pynvml that are its machinery, not its API.
_NOT_COPIED = frozenset({"nvmlLib", "libLoadLock", "cdll", "pydll", "pythonapi"})


def _error(code: int) -> Exception:
    # pynvml maps the code to its subclass (NVMLError_GpuIsLost, ...).
    error: Exception = pynvml.NVMLError(code)
    return error


class _GpuHandle:
    """Opaque device handle; the same object for the life of a FakeNvml."""

    __slots__ = ("_owner", "index")

    def __init__(self, owner: object, index: int) -> None:
        self._owner = owner
        self.index = index

    def __repr__(self) -> str:
        return f"<simulated GPU handle {self.index}>"


class _MigHandle:
    __slots__ = ("_owner", "parent", "slot")

    def __init__(self, owner: object, parent: _GpuHandle, slot: int) -> None:
        self._owner = owner
        self.parent = parent
        self.slot = slot

    def __repr__(self) -> str:
        return f"<simulated MIG handle {self.parent.index}/{self.slot}>"


class _EventSet:
    __slots__ = ("cursor", "devices", "freed", "lock")

    def __init__(self, created_at: float) -> None:
        # Occurrences at or before creation are history, not news.
        self.cursor: tuple[float, int, int] = (created_at, 1 << 30, 1 << 30)
        self.devices: set[int] = set()
        self.freed = False
        self.lock = threading.Lock()


class _EventData(pynvml.c_nvmlEventData_t):  # type: ignore[misc]
    """pynvml's event structure whose ``device`` is the simulator's handle object."""

    @property
    def device(self) -> Any:
        return self._handle


class FakeNvml:
    """pynvml for one simulated node. Thread-safe; every call reads the injected clock."""

    def __init__(self, state: NodeState, clock: Clock) -> None:
        self._state = state
        self._clock = clock
        self._gpus = state.node.gpus
        self._token = object()
        self._handles = tuple(_GpuHandle(self._token, g.index) for g in self._gpus)
        self._mig_handles = tuple(
            tuple(_MigHandle(self._token, h, i.slot) for i in g.mig_instances)
            for h, g in zip(self._handles, self._gpus, strict=True)
        )
        self._lock = threading.Lock()
        self._init_count = 0
        self._latency_s = 0.0
        self._not_supported: set[tuple[str, int | None]] = set()
        self.gpm = FakeGpm()  # GPM profiling (issue 20): buffers and call counts

    def reload(self, state: NodeState) -> None:
        """Answer from ``state`` from now on (a MIG reconfiguration): GPU handles stay valid,
        MIG device handles are those of the new layout (old ones answer INVALID_ARGUMENT)."""
        gpus = state.node.gpus
        mig_handles = tuple(
            tuple(_MigHandle(self._token, h, i.slot) for i in g.mig_instances)
            for h, g in zip(self._handles, gpus, strict=True)
        )
        with self._lock:
            self._state, self._gpus, self._mig_handles = state, gpus, mig_handles

    # -- test hooks ----------------------------------------------------------------------------

    def set_call_latency(self, seconds: float) -> None:
        """Make every NVML call sleep ``seconds`` first (a slow or hung driver)."""
        self._latency_s = max(0.0, float(seconds))

    def set_not_supported(self, function_name: str, gpu_index: int | None = None) -> None:
        """Make ``function_name`` raise NotSupported on one GPU (and its MIG devices) or all."""
        if not (function_name.startswith("nvml") and hasattr(type(self), function_name)):
            raise ValueError(f"{function_name!r} is not a function this FakeNvml implements")
        self._not_supported.add((function_name, gpu_index))

    def clear_not_supported(self) -> None:
        self._not_supported.clear()

    # -- plumbing ------------------------------------------------------------------------------

    def __getattr__(self, name: str) -> Any:
        # Only reached for names not found normally: pynvml functions we do not simulate.
        if name.startswith("nvml") and isinstance(getattr(pynvml, name, None), types.FunctionType):

            def not_simulated(*_args: Any, **_kwargs: Any) -> Any:
                self._enter()
                raise _error(pynvml.NVML_ERROR_FUNCTION_NOT_FOUND)

            not_simulated.__name__ = name
            return not_simulated
        raise AttributeError(f"{type(self).__name__!s} has no attribute {name!r}")

    def _enter(self) -> float:
        if self._latency_s:
            time.sleep(self._latency_s)
        if self._init_count <= 0:
            raise _error(pynvml.NVML_ERROR_UNINITIALIZED)
        return self._clock.now()

    def _resolve(self, handle: object) -> tuple[int, int | None]:
        if isinstance(handle, _GpuHandle) and handle._owner is self._token:
            return handle.index, None
        if (
            isinstance(handle, _MigHandle)
            and handle._owner is self._token
            and handle in self._mig_handles[handle.parent.index]
        ):
            return handle.parent.index, handle.slot
        raise _error(pynvml.NVML_ERROR_INVALID_ARGUMENT)

    def _device(
        self, handle: object, function: str, *, mig_ok: bool = False
    ) -> tuple[int, int | None, float]:
        """(GPU index, MIG slot or None, now), raising as the driver would for this call."""
        now = self._enter()
        index, slot = self._resolve(handle)
        self._check(index, function, now)
        if slot is not None and not mig_ok:
            raise _error(pynvml.NVML_ERROR_NOT_SUPPORTED)
        return index, slot, now

    def _check(self, index: int, function: str, now: float) -> None:
        hang = self._state.hang_remaining(index, now)
        if hang > 0:
            # A wedged driver: the call returns only when the window ends (real seconds).
            time.sleep(hang)
        if self._state.is_lost(index, now):
            raise _error(pynvml.NVML_ERROR_GPU_IS_LOST)
        hooks = self._not_supported
        if hooks and ((function, index) in hooks or (function, None) in hooks):
            raise _error(pynvml.NVML_ERROR_NOT_SUPPORTED)

    def _gpu_values(self, handle: object, function: str) -> tuple[GpuSpec, GpuValues]:
        index, _slot, now = self._device(handle, function)
        # The driver refreshes its readings every 1/6 s or so; readings within one tenth of a
        # second share one computed state, so a sampling cycle does not recompute it per call.
        return self._gpus[index], self._state.gpu_values(index, math.floor(now * 10) / 10)

    def _whole_gpu_values(self, handle: object, function: str) -> tuple[GpuSpec, GpuValues]:
        # Utilisation is not reported per MIG device, nor for a parent in MIG mode.
        gpu, values = self._gpu_values(handle, function)
        if gpu.mig_enabled:
            raise _error(pynvml.NVML_ERROR_NOT_SUPPORTED)
        return gpu, values

    def _mig(self, index: int, slot: int) -> MigInstanceSpec:
        return self._gpus[index].mig_instances[slot]

    # -- library -------------------------------------------------------------------------------

    def nvmlInit(self) -> None:
        self.nvmlInitWithFlags(0)

    def nvmlInitWithFlags(self, flags: int) -> None:
        if self._latency_s:
            time.sleep(self._latency_s)
        with self._lock:
            self._init_count += 1

    def nvmlShutdown(self) -> None:
        if self._latency_s:
            time.sleep(self._latency_s)
        with self._lock:
            if self._init_count <= 0:
                raise _error(pynvml.NVML_ERROR_UNINITIALIZED)
            self._init_count -= 1

    def nvmlSystemGetDriverVersion(self) -> str:
        self._enter()
        return self._state.node.driver_version

    def nvmlSystemGetNVMLVersion(self) -> str:
        self._enter()
        return f"{self._state.node.cuda_version.split('.')[0]}.{self._state.node.driver_version}"

    def nvmlSystemGetCudaDriverVersion(self) -> int:
        self._enter()
        return self._state.node.cuda_driver_version

    def nvmlSystemGetCudaDriverVersion_v2(self) -> int:
        return self.nvmlSystemGetCudaDriverVersion()

    def nvmlDeviceGetCount(self) -> int:
        self._enter()
        return len(self._gpus)

    # -- handles -------------------------------------------------------------------------------

    def nvmlDeviceGetHandleByIndex(self, index: int) -> Any:
        now = self._enter()
        if not isinstance(index, int) or not 0 <= index < len(self._gpus):
            raise _error(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        self._check(index, "nvmlDeviceGetHandleByIndex", now)
        return self._handles[index]

    def nvmlDeviceGetHandleByUUID(self, uuid: str | bytes) -> Any:
        now = self._enter()
        text = uuid.decode() if isinstance(uuid, bytes) else str(uuid)
        for gpu, handle, migs in zip(self._gpus, self._handles, self._mig_handles, strict=True):
            found: Any = None
            if gpu.uuid == text:
                found = handle
            for instance, mig in zip(gpu.mig_instances, migs, strict=True):
                if instance.uuid == text:
                    found = mig
            if found is not None:
                self._check(gpu.index, "nvmlDeviceGetHandleByUUID", now)
                return found
        raise _error(pynvml.NVML_ERROR_NOT_FOUND)

    def nvmlDeviceGetIndex(self, handle: object) -> int:
        index, _slot, _now = self._device(handle, "nvmlDeviceGetIndex")
        return index

    def nvmlDeviceIsMigDeviceHandle(self, device: object) -> bool:
        self._enter()
        return self._resolve(device)[1] is not None

    # -- identity ------------------------------------------------------------------------------

    def nvmlDeviceGetName(self, handle: object) -> str:
        index, slot, _now = self._device(handle, "nvmlDeviceGetName", mig_ok=True)
        name = self._gpus[index].product_name
        return name if slot is None else f"{name} MIG {self._mig(index, slot).profile.name}"

    def nvmlDeviceGetUUID(self, handle: object) -> str:
        index, slot, _now = self._device(handle, "nvmlDeviceGetUUID", mig_ok=True)
        return self._gpus[index].uuid if slot is None else self._mig(index, slot).uuid

    def nvmlDeviceGetSerial(self, handle: object) -> str:
        index, _slot, _now = self._device(handle, "nvmlDeviceGetSerial")
        return self._gpus[index].serial

    def nvmlDeviceGetPciInfo(self, handle: object) -> Any:
        index, _slot, _now = self._device(handle, "nvmlDeviceGetPciInfo")
        gpu = self._gpus[index]
        domain_text, bus_text, rest = gpu.pci_bus_id.split(":")
        domain, bus, device = int(domain_text, 16), int(bus_text, 16), int(rest.split(".")[0], 16)
        info = pynvml.nvmlPciInfo_t()
        info.busIdLegacy = pynvml.NVML_DEVICE_PCI_BUS_ID_LEGACY_FMT % (domain, bus, device)
        info.domain = domain
        info.bus = bus
        info.device = device
        info.pciDeviceId = _PCI_DEVICE_ID.get(gpu.model.model_id, 0x000010DE)
        info.pciSubSystemId = 0x10DE | (0x1400 + index) << 16
        info.busId = gpu.pci_bus_id
        return info

    def nvmlDeviceGetPciInfo_v3(self, handle: object) -> Any:
        return self.nvmlDeviceGetPciInfo(handle)

    def nvmlDeviceGetVbiosVersion(self, handle: object) -> str:
        index, _slot, _now = self._device(handle, "nvmlDeviceGetVbiosVersion")
        return self._gpus[index].vbios_version

    def nvmlDeviceGetArchitecture(self, device: object) -> int:
        index, _slot, _now = self._device(device, "nvmlDeviceGetArchitecture", mig_ok=True)
        architecture: int = _ARCHITECTURE.get(
            self._gpus[index].model.architecture, pynvml.NVML_DEVICE_ARCH_UNKNOWN
        )
        return architecture

    def nvmlDeviceGetCudaComputeCapability(self, handle: object) -> tuple[int, int]:
        index, _slot, _now = self._device(handle, "nvmlDeviceGetCudaComputeCapability", mig_ok=True)
        return _COMPUTE_CAPABILITY.get(self._gpus[index].model.architecture, (0, 0))

    def nvmlDeviceGetMinorNumber(self, handle: object) -> int:
        index, _slot, _now = self._device(handle, "nvmlDeviceGetMinorNumber")
        return self._gpus[index].minor_number

    def nvmlDeviceGetAttributes(self, device: object) -> Any:
        index, slot, _now = self._device(device, "nvmlDeviceGetAttributes", mig_ok=True)
        gpu = self._gpus[index]
        attributes = pynvml.c_nvmlDeviceAttributes()
        if slot is None:
            attributes.multiprocessorCount = _SM_COUNT.get(gpu.model.model_id, 0)
            attributes.gpuInstanceSliceCount = 7 if gpu.model.mig_capable else 0
            attributes.computeInstanceSliceCount = 7 if gpu.model.mig_capable else 0
            attributes.memorySizeMB = gpu.memory_bytes // 1024**2
        else:
            profile = self._mig(index, slot).profile
            per_slice = _SM_PER_MIG_SLICE.get(gpu.model.model_id, 16)
            attributes.multiprocessorCount = per_slice * profile.compute_slices
            attributes.gpuInstanceSliceCount = profile.compute_slices
            attributes.computeInstanceSliceCount = profile.compute_slices
            attributes.memorySizeMB = self._mig(index, slot).memory_bytes // 1024**2
        return attributes

    def nvmlDeviceGetAttributes_v2(self, device: object) -> Any:
        return self.nvmlDeviceGetAttributes(device)

    # -- utilisation ---------------------------------------------------------------------------

    def nvmlDeviceGetUtilizationRates(self, handle: object) -> Any:
        _gpu, values = self._whole_gpu_values(handle, "nvmlDeviceGetUtilizationRates")
        rates = pynvml.c_nvmlUtilization_t()
        rates.gpu = round(values.utilization_ratio * 100)
        rates.memory = round(values.memory_utilization_ratio * 100)
        return rates

    def nvmlDeviceGetSamples(self, device: object, sampling_type: int, timeStamp: int) -> Any:
        index, _slot, now = self._device(device, "nvmlDeviceGetSamples")
        if self._gpus[index].mig_enabled or sampling_type not in (
            pynvml.NVML_GPU_UTILIZATION_SAMPLES,
            pynvml.NVML_MEMORY_UTILIZATION_SAMPLES,
        ):
            raise _error(pynvml.NVML_ERROR_NOT_SUPPORTED)
        latest = math.floor(now * SAMPLES_PER_SECOND)
        first = max(latest - SAMPLE_BUFFER + 1, _first_sample_after(int(timeStamp)))
        if first > latest:
            raise _error(pynvml.NVML_ERROR_NOT_FOUND)
        samples = []
        memory = sampling_type == pynvml.NVML_MEMORY_UTILIZATION_SAMPLES
        for k in range(first, latest + 1):
            load = self._state.minute_load(index, k / SAMPLES_PER_SECOND)
            sample = pynvml.c_nvmlSample_t()
            sample.timeStamp = _sample_timestamp_us(k)
            sample.sampleValue.uiVal = round(
                (load.memory_utilization if memory else load.utilization) * 100
            )
            samples.append(sample)
        return (pynvml.NVML_VALUE_TYPE_UNSIGNED_INT, samples)

    def nvmlDeviceGetProcessUtilization(self, handle: object, timeStamp: int) -> Any:
        _gpu, values = self._whole_gpu_values(handle, "nvmlDeviceGetProcessUtilization")
        latest_us = _sample_timestamp_us(math.floor(values.t * SAMPLES_PER_SECOND))
        if not values.processes or latest_us <= int(timeStamp):
            raise _error(pynvml.NVML_ERROR_NOT_FOUND)
        samples = []
        for process in values.processes:
            sample = pynvml.c_nvmlProcessUtilizationSample_t()
            sample.pid = process.pid
            sample.timeStamp = latest_us
            sample.smUtil = round(process.sm_utilization_ratio * 100)
            sample.memUtil = round(process.memory_utilization_ratio * 100)
            samples.append(sample)
        return samples

    def nvmlDeviceGetComputeRunningProcesses(self, handle: object) -> list[Any]:
        index, slot, now = self._device(handle, "nvmlDeviceGetComputeRunningProcesses", mig_ok=True)
        gpu = self._gpus[index]
        processes = []
        for process in self._state.gpu_values(index, now).processes:
            if slot is not None and process.mig_slot != slot:
                continue
            info = pynvml.c_nvmlProcessInfo_v3_t()
            info.pid = process.pid
            info.usedGpuMemory = process.used_memory_bytes
            if process.mig_slot is None:
                info.gpuInstanceId = _NOT_AVAILABLE_UINT
                info.computeInstanceId = _NOT_AVAILABLE_UINT
            else:
                instance = gpu.mig_instances[process.mig_slot]
                info.gpuInstanceId = instance.gpu_instance_id
                info.computeInstanceId = instance.compute_instance_id
            processes.append(pynvml.nvmlStructToFriendlyObject(info))
        return processes

    def nvmlDeviceGetComputeRunningProcesses_v3(self, handle: object) -> list[Any]:
        return self.nvmlDeviceGetComputeRunningProcesses(handle)

    # -- memory, thermals, power, clocks -------------------------------------------------------

    def nvmlDeviceGetMemoryInfo(self, handle: object, version: int | None = None) -> Any:
        index, slot, now = self._device(handle, "nvmlDeviceGetMemoryInfo", mig_ok=True)
        values = self._state.gpu_values(index, now)
        if slot is None:
            total, used = values.memory_total_bytes, values.memory_used_bytes
            reserved = DRIVER_RESERVE_BYTES
        else:
            mig = values.mig[slot]
            total, used, reserved = mig.memory_total_bytes, mig.memory_used_bytes, 0
        if not version:
            memory = pynvml.c_nvmlMemory_t()
        else:
            memory = pynvml.c_nvmlMemory_v2_t()
            memory.version = version
            memory.reserved = reserved
            used -= reserved
        memory.total = total
        memory.used = used
        memory.free = total - used - (reserved if version else 0)
        return memory

    def nvmlDeviceGetTemperature(self, handle: object, sensor: int) -> int:
        _gpu, values = self._gpu_values(handle, "nvmlDeviceGetTemperature")
        if sensor != pynvml.NVML_TEMPERATURE_GPU:
            raise _error(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        return values.temperature_celsius

    def nvmlDeviceGetPowerUsage(self, handle: object) -> int:
        _gpu, values = self._gpu_values(handle, "nvmlDeviceGetPowerUsage")
        return round(values.power_watts * 1000)

    def nvmlDeviceGetEnforcedPowerLimit(self, handle: object) -> int:
        _gpu, values = self._gpu_values(handle, "nvmlDeviceGetEnforcedPowerLimit")
        return round(values.power_limit_watts * 1000)

    def nvmlDeviceGetPowerManagementLimit(self, handle: object) -> int:
        _gpu, values = self._gpu_values(handle, "nvmlDeviceGetPowerManagementLimit")
        return round(values.power_limit_watts * 1000)

    def nvmlDeviceGetTotalEnergyConsumption(self, handle: object) -> int:
        _gpu, values = self._gpu_values(handle, "nvmlDeviceGetTotalEnergyConsumption")
        return values.energy_millijoules

    def nvmlDeviceGetClockInfo(self, handle: object, type: int) -> int:
        _gpu, values = self._gpu_values(handle, "nvmlDeviceGetClockInfo")
        clocks = {
            pynvml.NVML_CLOCK_GRAPHICS: values.clock_graphics_mhz,
            pynvml.NVML_CLOCK_SM: values.clock_sm_mhz,
            pynvml.NVML_CLOCK_MEM: values.clock_memory_mhz,
            pynvml.NVML_CLOCK_VIDEO: values.clock_video_mhz,
        }
        if type not in clocks:
            raise _error(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        return clocks[type]

    def nvmlDeviceGetMaxClockInfo(self, handle: object, type: int) -> int:
        gpu, _values = self._gpu_values(handle, "nvmlDeviceGetMaxClockInfo")
        clocks = {
            pynvml.NVML_CLOCK_GRAPHICS: gpu.model.max_clock_sm_mhz,
            pynvml.NVML_CLOCK_SM: gpu.model.max_clock_sm_mhz,
            pynvml.NVML_CLOCK_MEM: gpu.model.max_clock_mem_mhz,
            pynvml.NVML_CLOCK_VIDEO: round(gpu.model.max_clock_sm_mhz * 0.85),
        }
        if type not in clocks:
            raise _error(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        return clocks[type]

    def nvmlDeviceGetPerformanceState(self, handle: object) -> int:
        _gpu, values = self._gpu_values(handle, "nvmlDeviceGetPerformanceState")
        return values.performance_state

    def nvmlDeviceGetCurrentClocksEventReasons(self, handle: object) -> int:
        _gpu, values = self._gpu_values(handle, "nvmlDeviceGetCurrentClocksEventReasons")
        return values.clock_event_reasons

    def nvmlDeviceGetCurrentClocksThrottleReasons(self, handle: object) -> int:
        _gpu, values = self._gpu_values(handle, "nvmlDeviceGetCurrentClocksThrottleReasons")
        return values.clock_event_reasons

    # -- errors --------------------------------------------------------------------------------

    def nvmlDeviceGetTotalEccErrors(self, handle: object, errorType: int, counterType: int) -> int:
        gpu, values = self._gpu_values(handle, "nvmlDeviceGetTotalEccErrors")
        if gpu.model.model_id in NO_ECC_MODELS:
            raise _error(pynvml.NVML_ERROR_NOT_SUPPORTED)
        counts = {
            (pynvml.NVML_MEMORY_ERROR_TYPE_CORRECTED, pynvml.NVML_VOLATILE_ECC): (
                values.ecc_corrected_volatile
            ),
            (pynvml.NVML_MEMORY_ERROR_TYPE_UNCORRECTED, pynvml.NVML_VOLATILE_ECC): (
                values.ecc_uncorrected_volatile
            ),
            (pynvml.NVML_MEMORY_ERROR_TYPE_CORRECTED, pynvml.NVML_AGGREGATE_ECC): (
                values.ecc_corrected_aggregate
            ),
            (pynvml.NVML_MEMORY_ERROR_TYPE_UNCORRECTED, pynvml.NVML_AGGREGATE_ECC): (
                values.ecc_uncorrected_aggregate
            ),
        }
        if (errorType, counterType) not in counts:
            raise _error(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        return counts[(errorType, counterType)]

    def nvmlDeviceGetRemappedRows(self, device: object) -> tuple[int, int, int, int]:
        gpu, values = self._gpu_values(device, "nvmlDeviceGetRemappedRows")
        if gpu.model.model_id in NO_ECC_MODELS:
            raise _error(pynvml.NVML_ERROR_NOT_SUPPORTED)
        return (
            values.remapped_rows_correctable,
            values.remapped_rows_uncorrectable,
            int(values.row_remap_pending),
            int(values.row_remap_failure),
        )

    # -- dcgm-exporter default counters (issue 20): values from simulator.counters --------------

    _node_counters: NodeCounters | None = None

    def _counters(self, index: int) -> GpuCounters:
        node_counters = self._node_counters
        if node_counters is None or node_counters.state is not self._state:
            node_counters = NodeCounters(self._state)  # first use, or reloaded
            self._node_counters = node_counters
        return node_counters.gpu(index)

    def nvmlDeviceGetFieldValues(self, handle: object, fieldIds: list[Any]) -> Any:
        index, _slot, now = self._device(handle, "nvmlDeviceGetFieldValues")
        counters = self._counters(index)
        temperature = self._state.gpu_values(index, math.floor(now * 10) / 10).temperature_celsius
        values = (pynvml.c_nvmlFieldValue_t * len(fieldIds))()
        for entry, field in zip(values, fieldIds, strict=True):
            # pynvml's own convention: a (fieldId, scopeId) pair, or a bare id with scope 0.
            field_id, scope_id = field if isinstance(field, tuple | list) else (field, 0)
            entry.fieldId, entry.scopeId = field_id, scope_id
            entry.timestamp = round(now * 1e6)
            code, value_type, value = field_value(counters, field_id, scope_id, now, temperature)
            entry.nvmlReturn, entry.valueType = code, value_type
            if value_type == pynvml.NVML_VALUE_TYPE_UNSIGNED_LONG_LONG:
                entry.value.ullVal = int(value)
            else:
                entry.value.uiVal = int(value)
        return values

    def nvmlDeviceGetPcieReplayCounter(self, handle: object) -> int:
        index, _slot, now = self._device(handle, "nvmlDeviceGetPcieReplayCounter")
        return self._counters(index).pcie_replays(now)

    def nvmlDeviceGetPcieThroughput(self, device: object, counter: int) -> int:
        index, _slot, now = self._device(device, "nvmlDeviceGetPcieThroughput")
        if counter not in (pynvml.NVML_PCIE_UTIL_TX_BYTES, pynvml.NVML_PCIE_UTIL_RX_BYTES):
            raise _error(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        receive = counter == pynvml.NVML_PCIE_UTIL_RX_BYTES
        return self._counters(index).pcie_kbps(now, self._state.minute_load(index, now), receive)

    def nvmlDeviceGetEncoderUtilization(self, handle: object) -> list[int]:
        self._whole_gpu_values(handle, "nvmlDeviceGetEncoderUtilization")
        return [0, 1_000_000 // SAMPLES_PER_SECOND]  # no video workloads: NVENC idles

    def nvmlDeviceGetDecoderUtilization(self, handle: object) -> list[int]:
        _gpu, values = self._whole_gpu_values(handle, "nvmlDeviceGetDecoderUtilization")
        index = self._resolve(handle)[0]
        load = self._state.minute_load(index, values.t)
        return [self._counters(index).decoder_percent(load), 1_000_000 // SAMPLES_PER_SECOND]

    def nvmlDeviceGetViolationStatus(self, device: object, perfPolicyType: int) -> Any:
        index, _slot, now = self._device(device, "nvmlDeviceGetViolationStatus")
        if not has_violation_counters(self._gpus[index]):
            raise _error(pynvml.NVML_ERROR_NOT_SUPPORTED)
        if not 0 <= perfPolicyType < pynvml.NVML_PERF_POLICY_COUNT:
            raise _error(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        status = pynvml.c_nvmlViolationTime_t()
        status.referenceTime = round(now * 1e6)
        status.violationTime = self._counters(index).violation_ns(now, perfPolicyType)
        return status

    def nvmlDeviceGetGpuFabricInfo(self, device: object, gpuFabricInfo: Any) -> int:
        return self._fabric_info(device, gpuFabricInfo, "nvmlDeviceGetGpuFabricInfo")

    def nvmlDeviceGetGpuFabricInfoV(self, device: object, gpuFabricInfo: Any) -> int:
        return self._fabric_info(device, gpuFabricInfo, "nvmlDeviceGetGpuFabricInfoV")

    def _fabric_info(self, device: object, info_ref: Any, function: str) -> int:
        index, _slot, now = self._device(device, function)
        if not has_fabric(self._gpus[index]):
            raise _error(pynvml.NVML_ERROR_NOT_SUPPORTED)
        info = getattr(info_ref, "_obj", info_ref)  # ctypes.byref(struct) or the struct
        versioned = function.endswith("V")
        known = (pynvml.nvmlGpuFabricInfo_v2, pynvml.nvmlGpuFabricInfo_v3)
        if versioned and getattr(info, "version", None) not in known:
            raise _error(pynvml.NVML_ERROR_ARGUMENT_VERSION_MISMATCH)
        counters = self._counters(index)
        info.clusterUuid[:] = list(counters.fabric_cluster_uuid())
        info.status = pynvml.NVML_SUCCESS
        info.cliqueId = counters.fabric_clique_id()
        info.state = counters.fabric_state(now)
        if versioned:
            info.healthMask = 0
        return int(pynvml.NVML_SUCCESS)

    def nvmlDeviceGetTemperatureV(self, handle: object, sensor: int, version: int = 0) -> int:
        return self.nvmlDeviceGetTemperature(handle, sensor)

    # -- MIG -----------------------------------------------------------------------------------

    def nvmlDeviceGetMigMode(self, device: object) -> list[int]:
        index, _slot, _now = self._device(device, "nvmlDeviceGetMigMode")
        gpu = self._gpus[index]
        if not gpu.model.mig_capable:
            raise _error(pynvml.NVML_ERROR_NOT_SUPPORTED)
        mode = pynvml.NVML_DEVICE_MIG_ENABLE if gpu.mig_enabled else pynvml.NVML_DEVICE_MIG_DISABLE
        return [mode, mode]

    def nvmlDeviceGetMaxMigDeviceCount(self, device: object) -> int:
        index, _slot, _now = self._device(device, "nvmlDeviceGetMaxMigDeviceCount")
        gpu = self._gpus[index]
        if not gpu.model.mig_capable:
            raise _error(pynvml.NVML_ERROR_NOT_SUPPORTED)
        return _max_mig_devices(gpu)

    def nvmlDeviceGetMigDeviceHandleByIndex(self, device: object, index: int) -> Any:
        gpu_index, _slot, _now = self._device(device, "nvmlDeviceGetMigDeviceHandleByIndex")
        gpu = self._gpus[gpu_index]
        if not gpu.model.mig_capable:
            raise _error(pynvml.NVML_ERROR_NOT_SUPPORTED)
        if not 0 <= index < _max_mig_devices(gpu):
            raise _error(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        if index >= len(gpu.mig_instances):
            raise _error(pynvml.NVML_ERROR_NOT_FOUND)
        return self._mig_handles[gpu_index][index]

    def nvmlDeviceGetGpuInstanceId(self, device: object) -> int:
        index, slot, _now = self._device(device, "nvmlDeviceGetGpuInstanceId", mig_ok=True)
        if slot is None:
            raise _error(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        return self._mig(index, slot).gpu_instance_id

    def nvmlDeviceGetComputeInstanceId(self, device: object) -> int:
        index, slot, _now = self._device(device, "nvmlDeviceGetComputeInstanceId", mig_ok=True)
        if slot is None:
            raise _error(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        return self._mig(index, slot).compute_instance_id

    def nvmlDeviceGetDeviceHandleFromMigDeviceHandle(self, migDevice: object) -> Any:
        index, slot, _now = self._device(
            migDevice, "nvmlDeviceGetDeviceHandleFromMigDeviceHandle", mig_ok=True
        )
        if slot is None:
            raise _error(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        return self._handles[index]

    # -- events --------------------------------------------------------------------------------

    def nvmlDeviceGetSupportedEventTypes(self, handle: object) -> int:
        index, _slot, _now = self._device(handle, "nvmlDeviceGetSupportedEventTypes")
        return _supported_events(self._gpus[index])

    def nvmlEventSetCreate(self) -> Any:
        return _EventSet(self._enter())

    def nvmlDeviceRegisterEvents(self, handle: object, eventTypes: int, eventSet: object) -> None:
        index, _slot, _now = self._device(handle, "nvmlDeviceRegisterEvents")
        event_set = self._event_set(eventSet)
        if int(eventTypes) & ~_supported_events(self._gpus[index]):
            raise _error(pynvml.NVML_ERROR_NOT_SUPPORTED)
        if int(eventTypes) & pynvml.nvmlEventTypeXidCriticalError:
            with event_set.lock:
                event_set.devices.add(index)

    def nvmlEventSetWait(self, eventSet: object, timeoutms: int) -> Any:
        """The next XID since the last one delivered, in clock order; Timeout when none came.

        Waits in real time, reading the (possibly manual) clock every 50 ms at most.
        """
        self._enter()
        event_set = self._event_set(eventSet)
        deadline = time.monotonic() + max(0, int(timeoutms)) / 1000.0
        while True:
            now = self._clock.now()
            with event_set.lock:
                occurrence = self._state.next_xid(sorted(event_set.devices), event_set.cursor)
                if occurrence is not None and occurrence.t <= now:
                    event_set.cursor = occurrence.cursor
                    data = _EventData()
                    data._handle = self._handles[occurrence.gpu_index]
                    data.eventType = pynvml.nvmlEventTypeXidCriticalError
                    data.eventData = occurrence.xid
                    data.gpuInstanceId = _NOT_AVAILABLE_UINT
                    data.computeInstanceId = _NOT_AVAILABLE_UINT
                    return data
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _error(pynvml.NVML_ERROR_TIMEOUT)
            time.sleep(min(0.05, remaining))

    def nvmlEventSetWait_v2(self, eventSet: object, timeoutms: int) -> Any:
        return self.nvmlEventSetWait(eventSet, timeoutms)

    def nvmlEventSetFree(self, eventSet: object) -> None:
        self._enter()
        self._event_set(eventSet).freed = True

    def _event_set(self, event_set: object) -> _EventSet:
        if not isinstance(event_set, _EventSet) or event_set.freed:
            raise _error(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        return event_set

    # -- GPM profiling (issue 20; the model is simulator.gpm's) --------------------------------

    def nvmlGpmQueryDeviceSupport(self, device: object) -> Any:
        index, _slot, _now = self._device(device, "nvmlGpmQueryDeviceSupport")
        return self.gpm.query_support(self._gpus[index])

    def nvmlGpmSampleAlloc(self) -> Any:
        self._enter()
        return self.gpm.alloc()

    def nvmlGpmSampleFree(self, gpmSample: object) -> None:
        self._enter()
        self.gpm.free(gpmSample)

    def nvmlGpmSampleGet(self, device: object, gpmSample: object) -> Any:
        index, _slot, now = self._device(device, "nvmlGpmSampleGet")
        return self.gpm.take(gpmSample, self._gpus[index], index, now)

    def nvmlGpmMigSampleGet(self, device: object, gpuInstanceId: int, gpmSample: object) -> Any:
        index, _slot, now = self._device(device, "nvmlGpmMigSampleGet")
        return self.gpm.take_mig(gpmSample, self._gpus[index], index, int(gpuInstanceId), now)

    def nvmlGpmMetricsGet(self, metricsGet: Any) -> Any:
        now = self._enter()
        return self.gpm.metrics(
            metricsGet, self._state, lambda index: self._check(index, "nvmlGpmMetricsGet", now)
        )


def _max_mig_devices(gpu: GpuSpec) -> int:
    if not gpu.mig_enabled:
        return 0
    return 4 if gpu.model.model_id == "A30_24GB" else 7


def _supported_events(gpu: GpuSpec) -> int:
    events: int = (
        pynvml.nvmlEventTypeXidCriticalError
        | pynvml.nvmlEventTypePState
        | pynvml.nvmlEventTypeClock
    )
    if gpu.model.model_id not in NO_ECC_MODELS:
        events |= pynvml.nvmlEventTypeSingleBitEccError | pynvml.nvmlEventTypeDoubleBitEccError
    return events


def _sample_timestamp_us(k: int) -> int:
    return k * 1_000_000 // SAMPLES_PER_SECOND


def _first_sample_after(timestamp_us: int) -> int:
    k = timestamp_us * SAMPLES_PER_SECOND // 1_000_000
    while _sample_timestamp_us(k) <= timestamp_us:
        k += 1
    return k


def _copy_pynvml_api() -> None:
    """Give FakeNvml every pynvml constant, exception class and structure type."""
    for name, value in vars(pynvml).items():
        if name.startswith("_") or name in _NOT_COPIED or hasattr(FakeNvml, name):
            continue
        if isinstance(value, types.FunctionType | types.BuiltinFunctionType | types.ModuleType):
            continue
        setattr(FakeNvml, name, value)


_copy_pynvml_api()

# The pynvml functions FakeNvml simulates (the rest raise NVMLError_FunctionNotFound).
SIMULATED_FUNCTIONS: tuple[str, ...] = tuple(
    sorted(
        n
        for n, v in vars(FakeNvml).items()
        if n.startswith("nvml") and isinstance(v, types.FunctionType)
    )
)
