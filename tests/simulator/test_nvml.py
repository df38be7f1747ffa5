"""FakeNvml against pynvml's API: names, signatures, constants, errors, structures, behaviour."""

from __future__ import annotations

import inspect
import itertools
import threading
import time
import types
from typing import Any

import pynvml
import pytest

from simulator import FakeNvml, ManualClock, SimulatedFleet, SimulatedNode
from simulator.nvml import SIMULATED_FUNCTIONS

from .conftest import DEMO, EPOCH

GIB = 1024**3

# Every function the exporter may call (the brief's list).
REQUIRED = [
    "nvmlInit",
    "nvmlShutdown",
    "nvmlSystemGetDriverVersion",
    "nvmlSystemGetCudaDriverVersion",
    "nvmlDeviceGetCount",
    "nvmlDeviceGetHandleByIndex",
    "nvmlDeviceGetName",
    "nvmlDeviceGetUUID",
    "nvmlDeviceGetSerial",
    "nvmlDeviceGetPciInfo",
    "nvmlDeviceGetVbiosVersion",
    "nvmlDeviceGetArchitecture",
    "nvmlDeviceGetMinorNumber",
    "nvmlDeviceGetUtilizationRates",
    "nvmlDeviceGetSamples",
    "nvmlDeviceGetMemoryInfo",
    "nvmlDeviceGetTemperature",
    "nvmlDeviceGetPowerUsage",
    "nvmlDeviceGetEnforcedPowerLimit",
    "nvmlDeviceGetTotalEnergyConsumption",
    "nvmlDeviceGetClockInfo",
    "nvmlDeviceGetTotalEccErrors",
    "nvmlDeviceGetRemappedRows",
    "nvmlDeviceGetCurrentClocksEventReasons",
    "nvmlDeviceGetCurrentClocksThrottleReasons",
    "nvmlDeviceGetPerformanceState",
    "nvmlDeviceGetMigMode",
    "nvmlDeviceGetMaxMigDeviceCount",
    "nvmlDeviceGetMigDeviceHandleByIndex",
    "nvmlDeviceGetGpuInstanceId",
    "nvmlDeviceGetComputeInstanceId",
    "nvmlDeviceGetDeviceHandleFromMigDeviceHandle",
    "nvmlDeviceGetAttributes",
    "nvmlDeviceGetComputeRunningProcesses",
    "nvmlDeviceGetProcessUtilization",
    "nvmlEventSetCreate",
    "nvmlDeviceRegisterEvents",
    "nvmlDeviceGetSupportedEventTypes",
    "nvmlEventSetWait",
    "nvmlEventSetFree",
]

# Per-device functions and the arguments after the handle.
PER_DEVICE: dict[str, tuple[Any, ...]] = {
    "nvmlDeviceGetName": (),
    "nvmlDeviceGetUUID": (),
    "nvmlDeviceGetSerial": (),
    "nvmlDeviceGetPciInfo": (),
    "nvmlDeviceGetVbiosVersion": (),
    "nvmlDeviceGetArchitecture": (),
    "nvmlDeviceGetMinorNumber": (),
    "nvmlDeviceGetUtilizationRates": (),
    "nvmlDeviceGetSamples": (pynvml.NVML_GPU_UTILIZATION_SAMPLES, 0),
    "nvmlDeviceGetMemoryInfo": (),
    "nvmlDeviceGetTemperature": (pynvml.NVML_TEMPERATURE_GPU,),
    "nvmlDeviceGetPowerUsage": (),
    "nvmlDeviceGetEnforcedPowerLimit": (),
    "nvmlDeviceGetTotalEnergyConsumption": (),
    "nvmlDeviceGetClockInfo": (pynvml.NVML_CLOCK_SM,),
    "nvmlDeviceGetTotalEccErrors": (
        pynvml.NVML_MEMORY_ERROR_TYPE_CORRECTED,
        pynvml.NVML_VOLATILE_ECC,
    ),
    "nvmlDeviceGetRemappedRows": (),
    "nvmlDeviceGetCurrentClocksEventReasons": (),
    "nvmlDeviceGetCurrentClocksThrottleReasons": (),
    "nvmlDeviceGetPerformanceState": (),
    "nvmlDeviceGetMigMode": (),
    "nvmlDeviceGetMaxMigDeviceCount": (),
    "nvmlDeviceGetAttributes": (),
    "nvmlDeviceGetComputeRunningProcesses": (),
    "nvmlDeviceGetProcessUtilization": (0,),
    "nvmlDeviceGetSupportedEventTypes": (),
}


def raises(code: int, call: Any, *args: Any) -> None:
    with pytest.raises(pynvml.NVMLError) as error:
        call(*args)
    assert error.value.value == code
    assert type(error.value) is pynvml.nvmlExceptionClass(code)


class TestApiSurface:
    def test_required_functions_are_simulated(self) -> None:
        assert set(REQUIRED) <= set(SIMULATED_FUNCTIONS)

    @pytest.mark.parametrize("name", SIMULATED_FUNCTIONS)
    def test_each_function_exists_in_pynvml_with_the_same_parameters(self, name: str) -> None:
        real = getattr(pynvml, name)
        assert isinstance(real, types.FunctionType)
        ours = list(inspect.signature(getattr(FakeNvml, name)).parameters)[1:]
        assert ours == list(inspect.signature(real).parameters)

    def test_constants_and_errors_are_pynvmls_own(self, nvml: FakeNvml) -> None:
        for name, value in vars(pynvml).items():
            if name.startswith(("NVML_", "nvmlEventType", "nvmlClocks")) and isinstance(value, int):
                assert getattr(nvml, name) == value, name
        assert nvml.NVMLError is pynvml.NVMLError
        assert nvml.NVMLError_GpuIsLost is pynvml.NVMLError_GpuIsLost
        assert nvml.c_nvmlUtilization_t is pynvml.c_nvmlUtilization_t

    def test_unsimulated_functions_are_not_found(self, nvml: FakeNvml) -> None:
        raises(pynvml.NVML_ERROR_FUNCTION_NOT_FOUND, nvml.nvmlDeviceGetFanSpeed, None)
        with pytest.raises(AttributeError):
            _ = nvml.nvmlNoSuchFunction

    def test_calls_before_init_are_uninitialized(self, small_node: SimulatedNode) -> None:
        lib = small_node.nvml
        raises(pynvml.NVML_ERROR_UNINITIALIZED, lib.nvmlDeviceGetCount)
        lib.nvmlInit()
        lib.nvmlInit()
        lib.nvmlShutdown()
        assert lib.nvmlDeviceGetCount() == 3
        lib.nvmlShutdown()
        raises(pynvml.NVML_ERROR_UNINITIALIZED, lib.nvmlDeviceGetCount)
        raises(pynvml.NVML_ERROR_UNINITIALIZED, lib.nvmlShutdown)


class TestDevices:
    def test_system(self, nvml: FakeNvml) -> None:
        assert nvml.nvmlSystemGetDriverVersion() == "550.127.05"
        assert nvml.nvmlSystemGetCudaDriverVersion() == 12040
        assert nvml.nvmlDeviceGetCount() == 3

    def test_identity_is_text_and_stable(self, nvml: FakeNvml, small_node: SimulatedNode) -> None:
        handle = nvml.nvmlDeviceGetHandleByIndex(1)
        assert handle is nvml.nvmlDeviceGetHandleByIndex(1)
        gpu = small_node.spec.gpus[1]
        assert nvml.nvmlDeviceGetName(handle) == "NVIDIA H100 80GB HBM3"
        assert nvml.nvmlDeviceGetUUID(handle) == gpu.uuid
        assert nvml.nvmlDeviceGetSerial(handle) == gpu.serial
        assert nvml.nvmlDeviceGetVbiosVersion(handle) == gpu.vbios_version
        assert nvml.nvmlDeviceGetArchitecture(handle) == pynvml.NVML_DEVICE_ARCH_HOPPER
        assert nvml.nvmlDeviceGetMinorNumber(handle) == 1
        pci = nvml.nvmlDeviceGetPciInfo(handle)
        assert isinstance(pci, pynvml.nvmlPciInfo_t)
        assert pci.busId == "00000000:2A:00.0" and pci.bus == 0x2A
        raises(pynvml.NVML_ERROR_INVALID_ARGUMENT, nvml.nvmlDeviceGetHandleByIndex, 3)
        raises(pynvml.NVML_ERROR_INVALID_ARGUMENT, nvml.nvmlDeviceGetName, object())

    def test_readings_use_nvml_units_and_structures(
        self, nvml: FakeNvml, clock: ManualClock
    ) -> None:
        handle = nvml.nvmlDeviceGetHandleByIndex(1)
        util = nvml.nvmlDeviceGetUtilizationRates(handle)
        assert isinstance(util, pynvml.c_nvmlUtilization_t) and 0 <= util.gpu <= 100
        memory = nvml.nvmlDeviceGetMemoryInfo(handle)
        assert isinstance(memory, pynvml.c_nvmlMemory_t)
        assert memory.total == 80 * GIB and memory.used + memory.free == memory.total
        assert memory.used > 72 * GIB
        assert 100_000 < nvml.nvmlDeviceGetPowerUsage(handle) <= 700_000
        assert nvml.nvmlDeviceGetEnforcedPowerLimit(handle) == 700_000
        assert 30 < nvml.nvmlDeviceGetTemperature(handle, pynvml.NVML_TEMPERATURE_GPU) < 90
        assert nvml.nvmlDeviceGetClockInfo(handle, pynvml.NVML_CLOCK_MEM) == 2619
        assert nvml.nvmlDeviceGetPerformanceState(handle) == pynvml.NVML_PSTATE_0
        energy = nvml.nvmlDeviceGetTotalEnergyConsumption(handle)
        clock.advance(10)
        assert nvml.nvmlDeviceGetTotalEnergyConsumption(handle) - energy >= 70 * 10 * 1000
        assert nvml.nvmlDeviceGetRemappedRows(handle) == (0, 0, 0, 0)
        corrected = nvml.nvmlDeviceGetTotalEccErrors(
            handle, pynvml.NVML_MEMORY_ERROR_TYPE_CORRECTED, pynvml.NVML_AGGREGATE_ECC
        )
        assert isinstance(corrected, int)

    def test_consumer_card_has_no_ecc_and_no_mig(self, nvml: FakeNvml) -> None:
        handle = nvml.nvmlDeviceGetHandleByIndex(2)
        for name in (
            "nvmlDeviceGetRemappedRows",
            "nvmlDeviceGetMigMode",
            "nvmlDeviceGetTotalEccErrors",
        ):
            raises(pynvml.NVML_ERROR_NOT_SUPPORTED, getattr(nvml, name), handle, *PER_DEVICE[name])

    def test_samples_are_the_drivers_buffer(self, nvml: FakeNvml, clock: ManualClock) -> None:
        handle = nvml.nvmlDeviceGetHandleByIndex(1)
        kind = pynvml.NVML_GPU_UTILIZATION_SAMPLES
        value_type, samples = nvml.nvmlDeviceGetSamples(handle, kind, 0)
        assert value_type == pynvml.NVML_VALUE_TYPE_UNSIGNED_INT
        assert len(samples) == 100 and all(isinstance(s, pynvml.c_nvmlSample_t) for s in samples)
        stamps = [s.timeStamp for s in samples]
        assert {b - a for a, b in itertools.pairwise(stamps)} <= {166666, 166667}
        assert stamps[-1] <= clock.now() * 1e6 < stamps[-1] + 166667
        rate = nvml.nvmlDeviceGetUtilizationRates(handle).gpu
        assert samples[-1].sampleValue.uiVal == rate
        raises(pynvml.NVML_ERROR_NOT_FOUND, nvml.nvmlDeviceGetSamples, handle, kind, stamps[-1])
        clock.advance(1.0)
        _type, newer = nvml.nvmlDeviceGetSamples(handle, kind, stamps[-1])
        assert len(newer) == 6 and newer[0].timeStamp > stamps[-1]

    def test_processes_and_their_utilization(self, nvml: FakeNvml) -> None:
        handle = nvml.nvmlDeviceGetHandleByIndex(1)
        (process,) = nvml.nvmlDeviceGetComputeRunningProcesses(handle)
        assert (process.pid, process.usedGpuMemory) == (20000, 72 * GIB)
        (sample,) = nvml.nvmlDeviceGetProcessUtilization(handle, 0)
        assert isinstance(sample, pynvml.c_nvmlProcessUtilizationSample_t)
        assert sample.pid == 20000
        assert sample.smUtil == nvml.nvmlDeviceGetUtilizationRates(handle).gpu
        raises(
            pynvml.NVML_ERROR_NOT_FOUND,
            nvml.nvmlDeviceGetProcessUtilization,
            handle,
            sample.timeStamp,
        )
        shared = nvml.nvmlDeviceGetHandleByIndex(2)
        pids = [p.pid for p in nvml.nvmlDeviceGetComputeRunningProcesses(shared)]
        assert pids == [20003, 20004]


class TestMig:
    def test_mig_devices(self, nvml: FakeNvml, small_node: SimulatedNode) -> None:
        parent = nvml.nvmlDeviceGetHandleByIndex(0)
        assert nvml.nvmlDeviceGetMigMode(parent) == [1, 1]
        assert nvml.nvmlDeviceGetMigMode(nvml.nvmlDeviceGetHandleByIndex(1)) == [0, 0]
        assert nvml.nvmlDeviceGetMaxMigDeviceCount(parent) == 7
        migs = [nvml.nvmlDeviceGetMigDeviceHandleByIndex(parent, i) for i in range(3)]
        for index in range(3, 7):
            raises(
                pynvml.NVML_ERROR_NOT_FOUND, nvml.nvmlDeviceGetMigDeviceHandleByIndex, parent, index
            )
        raises(
            pynvml.NVML_ERROR_INVALID_ARGUMENT, nvml.nvmlDeviceGetMigDeviceHandleByIndex, parent, 7
        )
        assert [nvml.nvmlDeviceGetName(m) for m in migs] == [
            f"NVIDIA A100-SXM4-80GB MIG {p}" for p in ("1g.10gb", "2g.20gb", "4g.40gb")
        ]
        instances = small_node.spec.gpus[0].mig_instances
        assert [nvml.nvmlDeviceGetUUID(m) for m in migs] == [i.uuid for i in instances]
        assert [nvml.nvmlDeviceGetGpuInstanceId(m) for m in migs] == [13, 5, 1]
        assert [nvml.nvmlDeviceGetComputeInstanceId(m) for m in migs] == [0, 0, 0]
        assert all(nvml.nvmlDeviceGetDeviceHandleFromMigDeviceHandle(m) is parent for m in migs)
        attributes = nvml.nvmlDeviceGetAttributes(migs[2])
        assert isinstance(attributes, pynvml.c_nvmlDeviceAttributes)
        assert (attributes.gpuInstanceSliceCount, attributes.memorySizeMB) == (4, 40 * 1024)
        memory = nvml.nvmlDeviceGetMemoryInfo(migs[2])
        assert memory.total == 40 * GIB and 30 * GIB < memory.used < 31 * GIB

    def test_utilization_is_not_reported_under_mig(self, nvml: FakeNvml) -> None:
        parent = nvml.nvmlDeviceGetHandleByIndex(0)
        mig = nvml.nvmlDeviceGetMigDeviceHandleByIndex(parent, 0)
        for handle in (parent, mig):
            raises(pynvml.NVML_ERROR_NOT_SUPPORTED, nvml.nvmlDeviceGetUtilizationRates, handle)
        raises(pynvml.NVML_ERROR_NOT_SUPPORTED, nvml.nvmlDeviceGetPowerUsage, mig)

    def test_processes_per_mig_device(self, nvml: FakeNvml) -> None:
        parent = nvml.nvmlDeviceGetHandleByIndex(0)
        everything = nvml.nvmlDeviceGetComputeRunningProcesses(parent)
        assert [(p.pid, p.gpuInstanceId) for p in everything] == [(20001, 13), (20002, 1)]
        mig = nvml.nvmlDeviceGetMigDeviceHandleByIndex(parent, 2)
        assert [p.pid for p in nvml.nvmlDeviceGetComputeRunningProcesses(mig)] == [20002]


class TestFailures:
    def test_lost_gpu_fails_every_device_call(self, nvml: FakeNvml, clock: ManualClock) -> None:
        handle = nvml.nvmlDeviceGetHandleByIndex(2)
        healthy = nvml.nvmlDeviceGetHandleByIndex(1)
        clock.set(EPOCH + 2 * 3600 + 1)
        lost = pynvml.NVML_ERROR_GPU_IS_LOST
        raises(lost, nvml.nvmlDeviceGetHandleByIndex, 2)
        for name, args in PER_DEVICE.items():
            raises(lost, getattr(nvml, name), handle, *args)
        raises(lost, nvml.nvmlDeviceRegisterEvents, handle, 8, nvml.nvmlEventSetCreate())
        assert nvml.nvmlDeviceGetPowerUsage(healthy) > 0
        assert nvml.nvmlDeviceGetCount() == 3
        clock.set(EPOCH + 2 * 3600 + 600)
        assert nvml.nvmlDeviceGetHandleByIndex(2) is handle

    def test_not_supported_hook(self, nvml: FakeNvml) -> None:
        nvml.set_not_supported("nvmlDeviceGetPowerUsage", 1)
        raises(
            pynvml.NVML_ERROR_NOT_SUPPORTED,
            nvml.nvmlDeviceGetPowerUsage,
            nvml.nvmlDeviceGetHandleByIndex(1),
        )
        assert nvml.nvmlDeviceGetPowerUsage(nvml.nvmlDeviceGetHandleByIndex(2)) > 0
        with pytest.raises(ValueError, match="not a function"):
            nvml.set_not_supported("nvmlDeviceGetWhatever", 0)

    def test_call_latency_hook(self, nvml: FakeNvml) -> None:
        nvml.set_call_latency(0.05)
        began = time.monotonic()
        nvml.nvmlDeviceGetCount()
        assert time.monotonic() - began >= 0.05


class TestXidEvents:
    def register(self, nvml: FakeNvml) -> Any:
        event_set = nvml.nvmlEventSetCreate()
        for index in range(nvml.nvmlDeviceGetCount()):
            handle = nvml.nvmlDeviceGetHandleByIndex(index)
            assert (
                nvml.nvmlDeviceGetSupportedEventTypes(handle) & pynvml.nvmlEventTypeXidCriticalError
            )
            nvml.nvmlDeviceRegisterEvents(handle, pynvml.nvmlEventTypeXidCriticalError, event_set)
        return event_set

    def test_xids_arrive_in_clock_order_once(self, nvml: FakeNvml, clock: ManualClock) -> None:
        clock.set(EPOCH)
        event_set = self.register(nvml)
        raises(pynvml.NVML_ERROR_TIMEOUT, nvml.nvmlEventSetWait, event_set, 0)
        clock.set(EPOCH + 3 * 3600)  # past the XID 13 at +1h and the loss of GPU 2 at +2h
        first = nvml.nvmlEventSetWait(event_set, 0)
        second = nvml.nvmlEventSetWait(event_set, 0)
        assert isinstance(first, pynvml.c_nvmlEventData_t)
        assert first.eventType == pynvml.nvmlEventTypeXidCriticalError
        assert (first.eventData, second.eventData) == (13, 79)
        assert first.device is nvml.nvmlDeviceGetHandleByIndex(1)
        assert nvml.nvmlDeviceGetUUID(first.device) == nvml.nvmlDeviceGetUUID(
            nvml.nvmlDeviceGetHandleByIndex(1)
        )
        raises(pynvml.NVML_ERROR_TIMEOUT, nvml.nvmlEventSetWait, event_set, 0)
        nvml.nvmlEventSetFree(event_set)
        raises(pynvml.NVML_ERROR_INVALID_ARGUMENT, nvml.nvmlEventSetWait, event_set, 0)

    def test_history_before_the_set_is_not_delivered(
        self, nvml: FakeNvml, clock: ManualClock
    ) -> None:
        clock.set(EPOCH + 3 * 3600)
        event_set = self.register(nvml)
        raises(pynvml.NVML_ERROR_TIMEOUT, nvml.nvmlEventSetWait, event_set, 0)

    def test_wait_wakes_when_the_clock_moves(self, nvml: FakeNvml, clock: ManualClock) -> None:
        clock.set(EPOCH + 3599)
        event_set = self.register(nvml)
        timer = threading.Timer(0.1, clock.advance, args=(2,))
        timer.start()
        began = time.monotonic()
        data = nvml.nvmlEventSetWait(event_set, 5000)
        timer.join()
        assert data.eventData == 13
        assert time.monotonic() - began < 1.0

    def test_wait_times_out_in_real_time(self, nvml: FakeNvml) -> None:
        event_set = self.register(nvml)
        began = time.monotonic()
        raises(pynvml.NVML_ERROR_TIMEOUT, nvml.nvmlEventSetWait, event_set, 120)
        assert 0.1 <= time.monotonic() - began < 1.0


def test_the_exporters_reader_runs_on_the_fake(
    small_node: SimulatedNode, clock: ManualClock
) -> None:
    from exporter.nvml import NvmlReader

    reader = NvmlReader(small_node.nvml, clock=clock.now)
    devices = reader.read_devices()
    assert [d.up for d in devices] == [True, True, True]
    assert [d.identity.uuid for d in devices] == [g.uuid for g in small_node.spec.gpus]
    assert [m.gpu_instance_id for m in devices[0].mig_instances] == [13, 5, 1]
    assert devices[2].ecc_corrected_total is None  # RTX 4090
    pids = sorted(p.pid for p in reader.read_processes(devices))
    assert pids == [20000, 20001, 20002, 20003, 20004]
    clock.set(EPOCH + 2 * 3600 + 60)
    assert [d.up for d in reader.read_devices()] == [True, True, False]


def test_repeating_xids_after_a_long_jump_arrive_one_by_one() -> None:
    clock = ManualClock(EPOCH)
    node = SimulatedFleet.from_file(DEMO, clock).node("gpu-worker-4")
    lib = node.nvml
    lib.nvmlInit()
    event_set = lib.nvmlEventSetCreate()
    lib.nvmlDeviceRegisterEvents(
        lib.nvmlDeviceGetHandleByIndex(7), pynvml.nvmlEventTypeXidCriticalError, event_set
    )
    clock.set(EPOCH + 3 * 86400)
    assert [lib.nvmlEventSetWait(event_set, 0).eventData for _ in range(3)] == [79, 79, 79]
    raises(pynvml.NVML_ERROR_TIMEOUT, lib.nvmlEventSetWait, event_set, 0)


def test_ten_thousand_calls_are_cheap(nvml: FakeNvml, clock: ManualClock) -> None:
    handles = [nvml.nvmlDeviceGetHandleByIndex(i) for i in range(3)]
    began = time.perf_counter()
    for i in range(10_000):
        clock.advance(0.001)  # a new instant every call: no cache hits on values
        nvml.nvmlDeviceGetPowerUsage(handles[i % 3])
    assert time.perf_counter() - began < 2.0
