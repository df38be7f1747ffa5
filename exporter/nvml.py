"""Devices, MIG instances, processes and XID events from NVML (GPM profiling: exporter.gpm).

The NVML library is a constructor argument: the real ``pynvml`` module (nvidia-ml-py) in
production, the simulator's ``FakeNvml`` in the demo and tests. Both expose pynvml's function
names, constants and ``NVMLError`` classes, so everything here runs unchanged on either.

Failure policy, by NVML's return codes (``nvmlReturn_t``, https://docs.nvidia.com/deploy/nvml-api/):
``NotSupported`` means the field is absent on this GPU — logged once, remembered, never asked
again; ``GpuIsLost`` marks the device down for this cycle and it is retried on the next;
``Uninitialized``/``DriverNotLoaded`` re-initialise NVML on the next cycle. One bad GPU never
fails the reading of the others.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from exporter.errors import ExporterError
from exporter.snapshot import (
    DeviceCounters,
    DeviceIdentity,
    DeviceSample,
    MigInstanceSample,
    NvLinkSample,
    ProcessSample,
    XidCount,
)

log = logging.getLogger(__name__)

_ARCHITECTURES = {
    2: "kepler",
    3: "maxwell",
    4: "pascal",
    5: "volta",
    6: "turing",
    7: "ampere",
    8: "ada",
    9: "hopper",
    10: "blackwell",
}

_MHZ = 1_000_000.0

# dcgm-exporter default counters from NVML (issue 20): units and cadence.
# NVML reports PCIe throughput in KB/s and NVLink data in KiB; both are 1024 bytes.
_KIB = 1024
# nvmlFieldValue_t.scopeId that sums an NVLink throughput field over every link.
_ALL_LINKS = 0xFFFFFFFF
# How often the slow counters (PCIe throughput, violation times, reserved memory, fabric) are
# read; between reads the last values are published again. Reads fall in wall-clock slots of
# this length (the first cycle of each), so every exporter of a fleet reads them alike.
SLOW_COUNTERS_REFRESH_SECONDS = 10.0
# nvmlGpuFabricState_t values (NVML_GPU_FABRIC_STATE_*) as label values; NOT_SUPPORTED is absent.
_FABRIC_STATES = {1: "not_started", 2: "in_progress", 3: "completed"}


class NvmlUnavailable(ExporterError):
    """NVML cannot be loaded or initialised on this machine."""


class _DeviceDown(Exception):
    """Internal: this device cannot be read this cycle (lost, or NVML needs re-init)."""

    def __init__(self, reason: str, reinit: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.reinit = reinit


def load_system_nvml() -> Any:
    """Import nvidia-ml-py and initialise NVML, or raise NvmlUnavailable with one clear line."""
    try:
        import pynvml
    except ImportError as exc:
        raise NvmlUnavailable(
            "the Python package nvidia-ml-py is not installed (pip install 'k8s-gpu-management[exporter]')"
        ) from exc
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as exc:
        raise NvmlUnavailable(
            f"NVML could not be initialised ({exc}): libnvidia-ml.so.1 from the NVIDIA driver is "
            "missing or unusable here; run on a GPU node, or on the simulator "
            "(python -m simulator.exporter --simulated-fleet FILE)"
        ) from exc
    pynvml.nvmlShutdown()
    return pynvml


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


@dataclass
class _MigHandle:
    handle: Any
    sample: MigInstanceSample


@dataclass
class _BusyCounter:
    """Turns NVML's utilisation samples into a monotonic busy-seconds counter."""

    last_sample_us: int = 0
    busy_seconds: float = 0.0
    last_wall: float | None = None


class NvmlReader:
    """Reads every GPU of this node into immutable samples. Not thread-safe: one sampler owns it."""

    def __init__(
        self,
        lib: Any,
        *,
        clock: Callable[[], float] = time.time,
        mig_refresh_seconds: float = 60.0,
        on_error: Callable[[str], None] | None = None,
        slow_counters_refresh_seconds: float = SLOW_COUNTERS_REFRESH_SECONDS,
        nvlink_per_link: bool = False,
    ) -> None:
        self._lib = lib
        # Publish each link's counters (--nvlink-per-link); they are read anyway where the
        # driver cannot sum the links itself.
        self._nvlink_per_link = nvlink_per_link
        self._clock = clock
        self._mig_refresh_seconds = mig_refresh_seconds
        self._slow_counters_refresh_seconds = slow_counters_refresh_seconds
        self._field_plans: dict[int, _FieldPlan] = {}
        self._slow_counters: dict[int, tuple[float, _SlowCounters]] = {}
        self._on_error = on_error or (lambda _op: None)
        self._initialised = False
        self._identities: dict[int, DeviceIdentity] = {}
        self._unsupported: set[tuple[int, str]] = set()
        self._mig_cache: dict[int, tuple[float, list[_MigHandle]]] = {}
        self._busy: dict[int, _BusyCounter] = {}
        self._proc_util_seen: dict[tuple[int, str | None], int] = {}
        self._max_count_seen = 0
        self.driver_version: str | None = None
        self.cuda_driver_version: str | None = None

    # -- lifecycle -----------------------------------------------------------------------
    def ensure_initialised(self) -> None:
        if self._initialised:
            return
        try:
            self._lib.nvmlInit()
        except self._lib.NVMLError as exc:
            self._on_error("init")
            raise NvmlUnavailable(f"nvmlInit failed: {exc}") from exc
        self._initialised = True
        self._mig_cache.clear()
        self.driver_version = self._system_call("nvmlSystemGetDriverVersion", _text)
        cuda = self._system_call("nvmlSystemGetCudaDriverVersion", int)
        if cuda is not None:
            self.cuda_driver_version = f"{cuda // 1000}.{(cuda % 1000) // 10}"

    def shutdown(self) -> None:
        if self._initialised:
            with contextlib.suppress(self._lib.NVMLError):
                self._lib.nvmlShutdown()
            self._initialised = False

    @property
    def max_device_count_seen(self) -> int:
        return self._max_count_seen

    def _system_call(self, name: str, convert: Callable[[Any], Any]) -> Any:
        try:
            return convert(getattr(self._lib, name)())
        except (self._lib.NVMLError, AttributeError):
            return None

    # -- error handling ------------------------------------------------------------------
    def _call(self, index: int, op: str, *args: Any, key_suffix: str = "") -> Any:
        """Call one per-device NVML function; None when this GPU does not support it.

        ``key_suffix`` remembers "not supported" per argument (one violation policy, the v2
        memory struct) rather than for the whole function."""
        key = (index, op + key_suffix)
        if key in self._unsupported:
            return None
        lib = self._lib
        try:
            return getattr(lib, op)(*args)
        except lib.NVMLError as exc:
            code = getattr(exc, "value", None)
            if code in (lib.NVML_ERROR_NOT_SUPPORTED, lib.NVML_ERROR_FUNCTION_NOT_FOUND):
                self._unsupported.add(key)
                log.info("GPU %d: %s is not supported; not asking again", index, key[1])
                return None
            if code == lib.NVML_ERROR_GPU_IS_LOST:
                self._on_error(op)
                raise _DeviceDown("gpu lost", reinit=False) from exc
            if code in (lib.NVML_ERROR_UNINITIALIZED, lib.NVML_ERROR_DRIVER_NOT_LOADED):
                self._on_error(op)
                raise _DeviceDown("nvml uninitialised", reinit=True) from exc
            self._on_error(op)
            log.debug("GPU %d: %s failed: %s", index, op, exc)
            return None
        except AttributeError:
            # An older nvidia-ml-py without this function: treat as not supported.
            self._unsupported.add(key)
            return None

    # -- devices -------------------------------------------------------------------------
    def read_devices(self) -> list[DeviceSample]:
        """One sample per GPU index; GPUs that cannot be read come back with ``up=False``."""
        self.ensure_initialised()
        lib = self._lib
        try:
            count = int(lib.nvmlDeviceGetCount())
        except lib.NVMLError as exc:
            self._on_error("nvmlDeviceGetCount")
            self._initialised = False
            raise NvmlUnavailable(f"nvmlDeviceGetCount failed: {exc}") from exc
        self._max_count_seen = max(self._max_count_seen, count)
        samples: list[DeviceSample] = []
        reinit = False
        for index in range(max(count, len(self._identities))):
            try:
                samples.append(self._read_device(index))
            except _DeviceDown as down:
                reinit = reinit or down.reinit
                samples.append(self._down_sample(index))
        if reinit:
            self._initialised = False
            self.shutdown()
        return samples

    def _down_sample(self, index: int) -> DeviceSample:
        identity = self._identities.get(index) or DeviceIdentity(
            index=index,
            uuid="",
            name="",
            serial="",
            pci_bus_id="",
            vbios_version="",
            architecture="unknown",
        )
        self._mig_cache.pop(index, None)
        self._slow_counters.pop(index, None)
        return DeviceSample(identity=identity, up=False)

    def _handle(self, index: int) -> Any:
        handle = self._call(index, "nvmlDeviceGetHandleByIndex", index)
        if handle is None:
            raise _DeviceDown("no handle", reinit=False)
        return handle

    def _identity(self, index: int, handle: Any) -> DeviceIdentity:
        cached = self._identities.get(index)
        if cached is not None:
            return cached
        pci = self._call(index, "nvmlDeviceGetPciInfo", handle)
        arch = self._call(index, "nvmlDeviceGetArchitecture", handle)
        minor = self._call(index, "nvmlDeviceGetMinorNumber", handle)
        identity = DeviceIdentity(
            index=index,
            uuid=_text(self._call(index, "nvmlDeviceGetUUID", handle) or ""),
            name=_text(self._call(index, "nvmlDeviceGetName", handle) or ""),
            serial=_text(self._call(index, "nvmlDeviceGetSerial", handle) or ""),
            pci_bus_id=_text(pci.busId) if pci is not None else "",
            vbios_version=_text(self._call(index, "nvmlDeviceGetVbiosVersion", handle) or ""),
            architecture=_ARCHITECTURES.get(int(arch), "unknown")
            if arch is not None
            else "unknown",
            minor_number=int(minor) if minor is not None else None,
        )
        if identity.uuid:
            self._identities[index] = identity
        return identity

    def _read_device(self, index: int) -> DeviceSample:
        lib = self._lib
        handle = self._handle(index)
        identity = self._identity(index, handle)
        call = self._call

        util = call(index, "nvmlDeviceGetUtilizationRates", handle)
        memory = call(index, "nvmlDeviceGetMemoryInfo", handle)
        power_mw = call(index, "nvmlDeviceGetPowerUsage", handle)
        limit_mw = call(index, "nvmlDeviceGetEnforcedPowerLimit", handle)
        energy_mj = call(index, "nvmlDeviceGetTotalEnergyConsumption", handle)
        temperature = call(index, "nvmlDeviceGetTemperature", handle, lib.NVML_TEMPERATURE_GPU)
        sm_mhz = call(index, "nvmlDeviceGetClockInfo", handle, lib.NVML_CLOCK_SM)
        mem_mhz = call(index, "nvmlDeviceGetClockInfo", handle, lib.NVML_CLOCK_MEM)
        gfx_mhz = call(index, "nvmlDeviceGetClockInfo", handle, lib.NVML_CLOCK_GRAPHICS)
        pstate = call(index, "nvmlDeviceGetPerformanceState", handle)
        reasons = call(index, "nvmlDeviceGetCurrentClocksEventReasons", handle)
        if reasons is None:
            reasons = call(index, "nvmlDeviceGetCurrentClocksThrottleReasons", handle)
        ecc = self._ecc(index, handle)
        remap = call(index, "nvmlDeviceGetRemappedRows", handle)
        mig_mode = call(index, "nvmlDeviceGetMigMode", handle)
        mig_enabled = bool(mig_mode[0]) if mig_mode is not None else None
        mig_instances = self._mig_instances(index, handle) if mig_enabled else []
        if not mig_enabled:
            self._mig_cache.pop(index, None)

        utilization = util.gpu / 100.0 if util is not None else None
        return DeviceSample(
            identity=identity,
            up=True,
            utilization_ratio=utilization,
            memory_utilization_ratio=util.memory / 100.0 if util is not None else None,
            busy_seconds_total=self._busy_seconds(index, handle, utilization, mig_enabled),
            memory_used_bytes=int(memory.used) if memory is not None else None,
            memory_total_bytes=int(memory.total) if memory is not None else None,
            temperature_celsius=float(temperature) if temperature is not None else None,
            power_watts=power_mw / 1000.0 if power_mw is not None else None,
            power_limit_watts=limit_mw / 1000.0 if limit_mw is not None else None,
            energy_joules_total=energy_mj / 1000.0 if energy_mj is not None else None,
            clock_sm_hertz=sm_mhz * _MHZ if sm_mhz is not None else None,
            clock_memory_hertz=mem_mhz * _MHZ if mem_mhz is not None else None,
            clock_graphics_hertz=gfx_mhz * _MHZ if gfx_mhz is not None else None,
            performance_state=int(pstate) if pstate is not None else None,
            ecc_corrected_total=ecc[0],
            ecc_uncorrected_total=ecc[1],
            ecc_corrected_aggregate=ecc[2],
            ecc_uncorrected_aggregate=ecc[3],
            remapped_rows_correctable=int(remap[0]) if remap is not None else None,
            remapped_rows_uncorrectable=int(remap[1]) if remap is not None else None,
            row_remap_pending=bool(remap[2]) if remap is not None else None,
            row_remap_failure=bool(remap[3]) if remap is not None else None,
            clock_event_reasons=int(reasons) if reasons is not None else None,
            mig_enabled=mig_enabled,
            mig_instances=tuple(m.sample for m in mig_instances),
            counters=self._read_counters(index, handle),
        )

    def _ecc(
        self, index: int, handle: Any
    ) -> tuple[int | None, int | None, int | None, int | None]:
        lib = self._lib
        values: list[int | None] = []
        for counter in (lib.NVML_VOLATILE_ECC, lib.NVML_AGGREGATE_ECC):
            for error_type in (
                lib.NVML_MEMORY_ERROR_TYPE_CORRECTED,
                lib.NVML_MEMORY_ERROR_TYPE_UNCORRECTED,
            ):
                value = self._call(
                    index, "nvmlDeviceGetTotalEccErrors", handle, error_type, counter
                )
                values.append(int(value) if value is not None else None)
                if value is None and (index, "nvmlDeviceGetTotalEccErrors") in self._unsupported:
                    return (None, None, None, None)
        return (values[0], values[1], values[2], values[3])

    def _busy_seconds(
        self, index: int, handle: Any, utilization: float | None, mig_enabled: bool | None
    ) -> float | None:
        """Integrate the driver's utilisation samples; fall back to the rate gauge over wall time."""
        if mig_enabled:
            return None
        counter = self._busy.setdefault(index, _BusyCounter())
        now = self._clock()
        result = self._call(
            index,
            "nvmlDeviceGetSamples",
            handle,
            self._lib.NVML_GPU_UTILIZATION_SAMPLES,
            counter.last_sample_us,
        )
        if result is not None:
            _value_type, samples = result
            points = sorted((int(s.timeStamp), float(s.sampleValue.uiVal)) for s in samples)
            for ts, value in points:
                if ts <= counter.last_sample_us:
                    continue
                if counter.last_sample_us:
                    dt = (ts - counter.last_sample_us) / 1e6
                    # A gap longer than the driver's buffer: count only one sample period.
                    counter.busy_seconds += value / 100.0 * min(dt, 1.0)
                counter.last_sample_us = ts
        elif utilization is not None and counter.last_wall is not None:
            counter.busy_seconds += utilization * max(0.0, now - counter.last_wall)
        elif utilization is None:
            counter.last_wall = now
            return None
        counter.last_wall = now
        return counter.busy_seconds

    def _mig_instances(self, index: int, handle: Any) -> list[_MigHandle]:
        now = self._clock()
        cached = self._mig_cache.get(index)
        if cached is None or now - cached[0] >= self._mig_refresh_seconds:
            cached = (now, self._enumerate_mig(index, handle))
            self._mig_cache[index] = cached
        refreshed: list[_MigHandle] = []
        for mig in cached[1]:
            memory = self._call(index, "nvmlDeviceGetMemoryInfo", mig.handle)
            sample = mig.sample
            refreshed.append(
                _MigHandle(
                    mig.handle,
                    MigInstanceSample(
                        mig_uuid=sample.mig_uuid,
                        gpu_instance_id=sample.gpu_instance_id,
                        compute_instance_id=sample.compute_instance_id,
                        profile=sample.profile,
                        memory_used_bytes=int(memory.used) if memory is not None else None,
                        memory_total_bytes=int(memory.total) if memory is not None else None,
                    ),
                )
            )
        return refreshed

    def _enumerate_mig(self, index: int, handle: Any) -> list[_MigHandle]:
        lib = self._lib
        slots = self._call(index, "nvmlDeviceGetMaxMigDeviceCount", handle) or 0
        found: list[_MigHandle] = []
        for slot in range(int(slots)):
            try:
                mig = lib.nvmlDeviceGetMigDeviceHandleByIndex(handle, slot)
            except lib.NVMLError as exc:
                if getattr(exc, "value", None) == lib.NVML_ERROR_GPU_IS_LOST:
                    raise _DeviceDown("gpu lost", reinit=False) from exc
                continue  # NOT_FOUND: an empty slot
            gi = self._call(index, "nvmlDeviceGetGpuInstanceId", mig)
            ci = self._call(index, "nvmlDeviceGetComputeInstanceId", mig)
            uuid = _text(self._call(index, "nvmlDeviceGetUUID", mig) or "")
            found.append(
                _MigHandle(
                    mig,
                    MigInstanceSample(
                        mig_uuid=uuid,
                        gpu_instance_id=int(gi) if gi is not None else -1,
                        compute_instance_id=int(ci) if ci is not None else -1,
                        profile=self._mig_profile(index, mig),
                        memory_used_bytes=None,
                        memory_total_bytes=None,
                    ),
                )
            )
        return found

    def _mig_profile(self, index: int, mig: Any) -> str:
        # Drivers name MIG devices "<product> MIG 1g.10gb"; the attributes are the fallback.
        name = _text(self._call(index, "nvmlDeviceGetName", mig) or "")
        if " MIG " in name:
            return name.rsplit(" MIG ", 1)[1].strip()
        attrs = self._call(index, "nvmlDeviceGetAttributes", mig)
        if attrs is not None:
            memory_gb = round(int(attrs.memorySizeMB) / 1024)
            return f"{int(attrs.gpuInstanceSliceCount)}g.{memory_gb}gb"
        return "unknown"

    # -- dcgm-exporter default counters from NVML (issue 20) -------------------------------
    def _read_counters(self, index: int, handle: Any) -> DeviceCounters:
        """Per cycle: one field-values call (memory temperature, NVLink totals and errors), the
        PCIe replay counter and the video engines. Every ``slow_counters_refresh_seconds``: PCIe
        throughput (each read samples the bus for 20 ms), violation times, per-link NVLink
        counters, reserved memory and fabric state: they change slowly, or are counters that
        rate() reads as well at 10 s."""
        call = self._call
        fields = self._field_values(index, handle)
        replay = call(index, "nvmlDeviceGetPcieReplayCounter", handle)
        encoder = call(index, "nvmlDeviceGetEncoderUtilization", handle)
        decoder = call(index, "nvmlDeviceGetDecoderUtilization", handle)
        transmit, receive = fields.nvlink_transmit_bytes_total, fields.nvlink_receive_bytes_total
        slow = self._slow(
            index, handle, self._nvlink_per_link or (transmit is None and receive is None)
        )
        if transmit is None and receive is None and slow.nvlink_links:
            # A driver without the all-links scope: the links' sum is the same number.
            transmit = _sum_or_none(link.transmit_bytes_total for link in slow.nvlink_links)
            receive = _sum_or_none(link.receive_bytes_total for link in slow.nvlink_links)
        return DeviceCounters(
            memory_temperature_celsius=fields.memory_temperature_celsius,
            pcie_replay_errors_total=int(replay) if replay is not None else None,
            pcie_transmit_bytes_per_second=slow.pcie_transmit_bytes_per_second,
            pcie_receive_bytes_per_second=slow.pcie_receive_bytes_per_second,
            encoder_utilization_ratio=int(encoder[0]) / 100.0 if encoder is not None else None,
            decoder_utilization_ratio=int(decoder[0]) / 100.0 if decoder is not None else None,
            memory_reserved_bytes=slow.memory_reserved_bytes,
            nvlink_transmit_bytes_total=transmit,
            nvlink_receive_bytes_total=receive,
            nvlink_links=slow.nvlink_links if self._nvlink_per_link else (),
            nvlink_errors_total=fields.nvlink_errors_total,
            violation_seconds_total=slow.violation_seconds_total,
            fabric_state=slow.fabric_state,
        )

    def _field_plan(self, index: int, handle: Any) -> _FieldPlan | None:
        """Which fields this GPU answers: asked once (memory sensor, link count), then kept."""
        plan = self._field_plans.get(index)
        if plan is not None:
            return plan
        lib = self._lib
        probe = [lib.NVML_FI_DEV_MEMORY_TEMP, lib.NVML_FI_DEV_NVLINK_LINK_COUNT]
        values = self._call(index, "nvmlDeviceGetFieldValues", handle, probe)
        if values is None:
            return None
        ok = [int(v.nvmlReturn) == lib.NVML_SUCCESS for v in values]
        links = int(_field_number(values[1])) if ok[1] else 0
        every_cycle: list[tuple[int, int]] = []
        per_link: list[tuple[int, int]] = []
        if ok[0]:
            every_cycle.append((lib.NVML_FI_DEV_MEMORY_TEMP, 0))
        if links > 0:
            # scopeId UINT_MAX sums a throughput field over all links (nvml.h); a bare field id
            # would mean link 0 alone.
            for field in (
                lib.NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_TX,
                lib.NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_RX,
            ):
                every_cycle.append((field, _ALL_LINKS))
                per_link.extend((field, link) for link in range(links))
            every_cycle.extend((field_id, 0) for _name, field_id in _nvlink_error_fields(lib))
        plan = _FieldPlan(links=links, every_cycle=tuple(every_cycle), per_link=tuple(per_link))
        self._field_plans[index] = plan
        return plan

    def _ask_fields(
        self, index: int, handle: Any, requests: tuple[tuple[int, int], ...]
    ) -> tuple[dict[tuple[int, int], float], tuple[tuple[int, int], ...]]:
        """The values of ``requests`` that NVML answered, and the requests still worth asking:
        a field answering NOT_SUPPORTED (or a link that does not exist) is dropped for good."""
        if not requests:
            return {}, requests
        lib = self._lib
        values = self._call(index, "nvmlDeviceGetFieldValues", handle, list(requests))
        if values is None:
            return {}, requests
        found: dict[tuple[int, int], float] = {}
        dropped: set[tuple[int, int]] = set()
        for request, value in zip(requests, values, strict=True):
            code = int(value.nvmlReturn)
            if code == lib.NVML_SUCCESS:
                found[request] = _field_number(value)
            elif code in (lib.NVML_ERROR_NOT_SUPPORTED, lib.NVML_ERROR_INVALID_ARGUMENT):
                dropped.add(request)
        if dropped:
            log.info("GPU %d: %d NVML fields not supported; not asking again", index, len(dropped))
            requests = tuple(r for r in requests if r not in dropped)
        return found, requests

    def _field_values(self, index: int, handle: Any) -> _FieldReadings:
        """Memory temperature, NVLink totals and errors: one nvmlDeviceGetFieldValues call."""
        plan = self._field_plan(index, handle)
        if plan is None:
            return _FieldReadings()
        found, plan.every_cycle = self._ask_fields(index, handle, plan.every_cycle)
        return _field_readings(self._lib, found)

    def _nvlink_links(self, index: int, handle: Any) -> tuple[NvLinkSample, ...]:
        plan = self._field_plan(index, handle)
        if plan is None:
            return ()
        found, plan.per_link = self._ask_fields(index, handle, plan.per_link)
        return _link_samples(self._lib, plan.links, found)

    def _slow(self, index: int, handle: Any, links: bool) -> _SlowCounters:
        refresh = self._slow_counters_refresh_seconds
        # The wall-clock slot of this cycle; 0 s: every cycle is its own slot.
        slot = math.floor(self._clock() / refresh) if refresh > 0 else math.nan
        cached = self._slow_counters.get(index)
        if cached is not None and cached[0] == slot:
            return cached[1]
        lib, call = self._lib, self._call
        tx = call(index, "nvmlDeviceGetPcieThroughput", handle, lib.NVML_PCIE_UTIL_TX_BYTES)
        rx = call(index, "nvmlDeviceGetPcieThroughput", handle, lib.NVML_PCIE_UTIL_RX_BYTES)
        violations: list[tuple[str, float]] = []
        for reason, policy in _violation_policies(lib):
            status = call(
                index, "nvmlDeviceGetViolationStatus", handle, policy, key_suffix=f":{reason}"
            )
            if status is not None:
                violations.append((reason, int(status.violationTime) / 1e9))
        memory = call(
            index,
            "nvmlDeviceGetMemoryInfo",
            handle,
            lib.nvmlMemory_v2,
            key_suffix=":v2",
        )
        slow = _SlowCounters(
            pcie_transmit_bytes_per_second=tx * _KIB if tx is not None else None,
            pcie_receive_bytes_per_second=rx * _KIB if rx is not None else None,
            violation_seconds_total=tuple(violations),
            nvlink_links=self._nvlink_links(index, handle) if links else (),
            memory_reserved_bytes=int(memory.reserved) if memory is not None else None,
            fabric_state=self._fabric_state(index, handle),
        )
        self._slow_counters[index] = (slot, slow)
        return slow

    def _fabric_state(self, index: int, handle: Any) -> str | None:
        """The GPU's NVSwitch fabric state; None outside a fabric (NOT_SUPPORTED)."""
        # The versioned call first (its struct's constructor sets the version); drivers before
        # it have only the v1 call and struct.
        for op, struct_name in (
            ("nvmlDeviceGetGpuFabricInfoV", "c_nvmlGpuFabricInfoV_t"),
            ("nvmlDeviceGetGpuFabricInfo", "c_nvmlGpuFabricInfo_t"),
        ):
            struct = getattr(self._lib, struct_name, None)
            if struct is None:
                continue
            info = struct()
            # pynvml passes the pointer through, and returns NVML_SUCCESS (0), not None.
            if self._call(index, op, handle, ctypes.byref(info)) is not None:
                state = _FABRIC_STATES.get(int(info.state))
                # nvml.h, nvmlGpuFabricInfo_t: `status` is the error of a registration, to be
                # read only once the state is completed; not NVML_SUCCESS there: it failed.
                if state == "completed" and int(getattr(info, "status", 0)) != 0:
                    return "failed"
                return state
        return None

    # -- processes -----------------------------------------------------------------------
    def read_processes(self, devices: list[DeviceSample]) -> list[ProcessSample]:
        """Compute processes per GPU or MIG device, with SM utilisation where NVML splits it."""
        processes: list[ProcessSample] = []
        for device in devices:
            if not device.up or not device.identity.uuid:
                continue
            index = device.identity.index
            try:
                handle = self._handle(index)
                targets: list[tuple[Any, str | None]] = [(handle, None)]
                if device.mig_enabled:
                    targets = [
                        (m.handle, m.sample.mig_uuid) for m in self._mig_instances(index, handle)
                    ]
                for target, mig_uuid in targets:
                    processes.extend(
                        self._processes_of(index, target, device.identity.uuid, mig_uuid)
                    )
            except _DeviceDown:
                continue
        return processes

    def _processes_of(
        self, index: int, handle: Any, gpu_uuid: str, mig_uuid: str | None
    ) -> list[ProcessSample]:
        procs = self._call(index, "nvmlDeviceGetComputeRunningProcesses", handle) or []
        if not procs:
            return []
        sm_by_pid = self._process_utilization(index, handle, mig_uuid)
        return [
            ProcessSample(
                pid=int(p.pid),
                gpu_uuid=gpu_uuid,
                mig_uuid=mig_uuid,
                used_memory_bytes=int(p.usedGpuMemory) if p.usedGpuMemory is not None else None,
                sm_utilization_ratio=sm_by_pid.get(int(p.pid)),
            )
            for p in procs
        ]

    def _process_utilization(
        self, index: int, handle: Any, mig_uuid: str | None
    ) -> dict[int, float]:
        if mig_uuid is not None:
            return {}  # NVML does not split utilisation inside MIG instances
        lib = self._lib
        key = (index, mig_uuid)
        since = self._proc_util_seen.get(key, 0)
        op = "nvmlDeviceGetProcessUtilization"
        if (index, op) in self._unsupported:
            return {}
        try:
            samples = lib.nvmlDeviceGetProcessUtilization(handle, since)
        except lib.NVMLError as exc:
            code = getattr(exc, "value", None)
            if code == lib.NVML_ERROR_NOT_SUPPORTED:
                self._unsupported.add((index, op))
            elif code not in (lib.NVML_ERROR_NOT_FOUND,):
                self._on_error(op)
            return {}
        sums: dict[int, list[float]] = {}
        newest = since
        for s in samples:
            newest = max(newest, int(s.timeStamp))
            sums.setdefault(int(s.pid), []).append(float(s.smUtil) / 100.0)
        self._proc_util_seen[key] = newest
        return {pid: sum(v) / len(v) for pid, v in sums.items()}


# -- dcgm-exporter default counters from NVML (issue 20) -----------------------------------------


def _violation_policies(lib: Any) -> tuple[tuple[str, int], ...]:
    """(reason label, NVML_PERF_POLICY_*) for nvmlDeviceGetViolationStatus."""
    return (
        ("power", lib.NVML_PERF_POLICY_POWER),
        ("thermal", lib.NVML_PERF_POLICY_THERMAL),
        ("sync_boost", lib.NVML_PERF_POLICY_SYNC_BOOST),
        ("board_limit", lib.NVML_PERF_POLICY_BOARD_LIMIT),
        ("low_utilization", lib.NVML_PERF_POLICY_LOW_UTILIZATION),
        ("reliability", lib.NVML_PERF_POLICY_RELIABILITY),
        ("total_app_clocks", lib.NVML_PERF_POLICY_TOTAL_APP_CLOCKS),
        ("total_base_clocks", lib.NVML_PERF_POLICY_TOTAL_BASE_CLOCKS),
    )


def _nvlink_error_fields(lib: Any) -> tuple[tuple[str, int], ...]:
    """(error label, NVML_FI_DEV_NVLINK_*_TOTAL field): each summed over lanes and links."""
    return (
        ("crc_flit", lib.NVML_FI_DEV_NVLINK_CRC_FLIT_ERROR_COUNT_TOTAL),
        ("crc_data", lib.NVML_FI_DEV_NVLINK_CRC_DATA_ERROR_COUNT_TOTAL),
        ("replay", lib.NVML_FI_DEV_NVLINK_REPLAY_ERROR_COUNT_TOTAL),
        ("recovery", lib.NVML_FI_DEV_NVLINK_RECOVERY_ERROR_COUNT_TOTAL),
    )


# The c_nvmlValue_t member each nvmlValueType_t (NVML_VALUE_TYPE_DOUBLE = 0 ... UNSIGNED_SHORT = 6)
# is read from.
_VALUE_MEMBERS = ("dVal", "uiVal", "ulVal", "ullVal", "sllVal", "siVal", "usVal")


def _field_number(value: Any) -> float:
    """The number in an nvmlFieldValue_t, read from the union member its valueType names."""
    value_type = int(value.valueType)
    member = _VALUE_MEMBERS[value_type] if 0 <= value_type < len(_VALUE_MEMBERS) else "ullVal"
    return float(getattr(value.value, member))


@dataclass
class _FieldPlan:
    """The field requests that this GPU answers, found on its first read."""

    links: int
    every_cycle: tuple[tuple[int, int], ...]  # (field id, scope id)
    per_link: tuple[tuple[int, int], ...]  # read with the slow counters


@dataclass(frozen=True)
class _FieldReadings:
    memory_temperature_celsius: float | None = None
    nvlink_transmit_bytes_total: int | None = None
    nvlink_receive_bytes_total: int | None = None
    nvlink_errors_total: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class _SlowCounters:
    pcie_transmit_bytes_per_second: float | None = None
    pcie_receive_bytes_per_second: float | None = None
    violation_seconds_total: tuple[tuple[str, float], ...] = ()
    nvlink_links: tuple[NvLinkSample, ...] = ()
    memory_reserved_bytes: int | None = None
    fabric_state: str | None = None


def _field_readings(lib: Any, found: dict[tuple[int, int], float]) -> _FieldReadings:
    tx_field = int(lib.NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_TX)
    rx_field = int(lib.NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_RX)
    return _FieldReadings(
        memory_temperature_celsius=found.get((int(lib.NVML_FI_DEV_MEMORY_TEMP), 0)),
        nvlink_transmit_bytes_total=_kib_to_bytes(found.get((tx_field, _ALL_LINKS))),
        nvlink_receive_bytes_total=_kib_to_bytes(found.get((rx_field, _ALL_LINKS))),
        nvlink_errors_total=tuple(
            (name, int(found[(field_id, 0)]))
            for name, field_id in _nvlink_error_fields(lib)
            if (field_id, 0) in found
        ),
    )


def _link_samples(
    lib: Any, links: int, found: dict[tuple[int, int], float]
) -> tuple[NvLinkSample, ...]:
    tx_field = int(lib.NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_TX)
    rx_field = int(lib.NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_RX)
    return tuple(
        NvLinkSample(
            link=link,
            transmit_bytes_total=_kib_to_bytes(found.get((tx_field, link))),
            receive_bytes_total=_kib_to_bytes(found.get((rx_field, link))),
        )
        for link in range(links)
        if (tx_field, link) in found or (rx_field, link) in found
    )


def _sum_or_none(values: Iterable[int | None]) -> int | None:
    present = [v for v in values if v is not None]
    return sum(present) if present else None


def _kib_to_bytes(kib: float | None) -> int | None:
    return int(kib) * _KIB if kib is not None else None


# How long one nvmlEventSetWait call blocks: a stopped watcher notices within this.
XID_WAIT_MS = 500


class XidWatcher:
    """Counts XID events per (GPU, code) from NVML's event set, in a thread of its own."""

    def __init__(
        self,
        lib: Any,
        *,
        clock: Callable[[], float] = time.time,
        wait_ms: int = XID_WAIT_MS,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        self._lib = lib
        self._clock = clock
        self._wait_ms = wait_ms
        self._on_error = on_error or (lambda _op: None)
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, int], tuple[int, float]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_success: float | None = None
        self.registered = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="xid-events", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def counts(self) -> tuple[XidCount, ...]:
        with self._lock:
            return tuple(
                XidCount(gpu_uuid=uuid, xid=xid, count=count, last_seen_timestamp_seconds=seen)
                for (uuid, xid), (count, seen) in sorted(self._counts.items())
            )

    def record(self, gpu_uuid: str, xid: int) -> None:
        with self._lock:
            count, _seen = self._counts.get((gpu_uuid, xid), (0, 0.0))
            self._counts[(gpu_uuid, xid)] = (count + 1, self._clock())

    def _register(self) -> tuple[Any, dict[int, str]] | None:
        lib = self._lib
        try:
            lib.nvmlInit()
            event_set = lib.nvmlEventSetCreate()
        except lib.NVMLError:
            self._on_error("nvmlEventSetCreate")
            return None
        uuids: dict[int, str] = {}
        self.registered = 0
        try:
            count = int(lib.nvmlDeviceGetCount())
        except lib.NVMLError:
            count = 0
        for index in range(count):
            try:
                handle = lib.nvmlDeviceGetHandleByIndex(index)
                uuids[id(handle)] = _text(lib.nvmlDeviceGetUUID(handle))
                uuids[index] = uuids[id(handle)]
                lib.nvmlDeviceRegisterEvents(handle, lib.nvmlEventTypeXidCriticalError, event_set)
                self.registered += 1
            except lib.NVMLError:
                self._on_error("nvmlDeviceRegisterEvents")
        return event_set, uuids

    def _uuid_of(self, data: Any, uuids: dict[int, str]) -> str:
        lib = self._lib
        try:
            return _text(lib.nvmlDeviceGetUUID(data.device))
        except (lib.NVMLError, TypeError, ValueError):
            return uuids.get(id(data.device), "")

    def _run(self) -> None:
        lib = self._lib
        while not self._stop.is_set():
            registration = self._register()
            if registration is None:
                self._stop.wait(5.0)
                continue
            event_set, uuids = registration
            try:
                while not self._stop.is_set():
                    try:
                        data = lib.nvmlEventSetWait(event_set, self._wait_ms)
                    except lib.NVMLError as exc:
                        if getattr(exc, "value", None) == lib.NVML_ERROR_TIMEOUT:
                            self.last_success = self._clock()
                            continue
                        self._on_error("nvmlEventSetWait")
                        break  # re-register: the driver may have been reloaded
                    self.last_success = self._clock()
                    if int(data.eventType) & lib.nvmlEventTypeXidCriticalError:
                        self.record(self._uuid_of(data, uuids), int(data.eventData))
            finally:
                try:
                    lib.nvmlEventSetFree(event_set)
                    lib.nvmlShutdown()
                except lib.NVMLError:
                    pass
            self._stop.wait(1.0)
