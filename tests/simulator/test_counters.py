"""FakeNvml's answers behind dcgm-exporter's default counters, called as pynvml is called.

test-small.yaml's GPUs: 0 an A100 SXM in MIG mode, 1 an H100 SXM serving vLLM, 2 a GeForce
RTX 4090 time-sliced between a trainer and a notebook.
"""

from __future__ import annotations

import ctypes
import itertools

import pynvml
import pytest

from simulator import FakeNvml, ManualClock, SimulatedFleet, SimulatedNode
from simulator.counters import PowerIntegral

from .conftest import EPOCH, SMALL
from .test_nvml import raises

ALL_LINKS = 0xFFFFFFFF
TX, RX = pynvml.NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_TX, pynvml.NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_RX


def handle(nvml: FakeNvml, index: int) -> object:
    return nvml.nvmlDeviceGetHandleByIndex(index)


class TestFieldValues:
    def test_answers_each_field_for_itself(self, nvml: FakeNvml) -> None:
        fields = [
            pynvml.NVML_FI_DEV_MEMORY_TEMP,
            pynvml.NVML_FI_DEV_NVLINK_LINK_COUNT,
            (TX, ALL_LINKS),
            (TX, 17),
            (TX, 18),  # no link 18 on an 18-link board
            pynvml.NVML_FI_DEV_PCIE_COUNT_TX_BYTES,  # a field this fake does not simulate
        ]
        values = nvml.nvmlDeviceGetFieldValues(handle(nvml, 1), fields)
        assert isinstance(values[0], pynvml.c_nvmlFieldValue_t)
        codes = [v.nvmlReturn for v in values]
        assert codes == [
            pynvml.NVML_SUCCESS,
            pynvml.NVML_SUCCESS,
            pynvml.NVML_SUCCESS,
            pynvml.NVML_SUCCESS,
            pynvml.NVML_ERROR_INVALID_ARGUMENT,
            pynvml.NVML_ERROR_NOT_SUPPORTED,
        ]
        assert values[1].value.uiVal == 18
        assert (values[2].fieldId, values[2].scopeId) == (TX, ALL_LINKS)
        assert values[2].valueType == pynvml.NVML_VALUE_TYPE_UNSIGNED_LONG_LONG
        assert values[2].value.ullVal > values[3].value.ullVal > 0
        temperature = nvml.nvmlDeviceGetTemperature(handle(nvml, 1), pynvml.NVML_TEMPERATURE_GPU)
        assert abs(values[0].value.uiVal - temperature) <= 5

    def test_all_links_is_the_sum_of_the_links(self, nvml: FakeNvml) -> None:
        for field in (TX, RX):
            per_link = [(field, link) for link in range(18)]
            values = nvml.nvmlDeviceGetFieldValues(handle(nvml, 1), [(field, ALL_LINKS), *per_link])
            assert values[0].value.ullVal == sum(v.value.ullVal for v in values[1:])

    def test_boards_without_nvlink_or_hbm_answer_not_supported(self, nvml: FakeNvml) -> None:
        rtx = nvml.nvmlDeviceGetFieldValues(
            handle(nvml, 2),
            [pynvml.NVML_FI_DEV_MEMORY_TEMP, pynvml.NVML_FI_DEV_NVLINK_LINK_COUNT, (TX, 0)],
        )
        assert {v.nvmlReturn for v in rtx} == {pynvml.NVML_ERROR_NOT_SUPPORTED}

    def test_mig_devices_and_lost_gpus_fail_the_call(self, nvml: FakeNvml) -> None:
        mig = nvml.nvmlDeviceGetMigDeviceHandleByIndex(handle(nvml, 0), 0)
        raises(pynvml.NVML_ERROR_NOT_SUPPORTED, nvml.nvmlDeviceGetFieldValues, mig, [TX])

    def test_gpu_lost_window_fails_every_counter_call(self, clock: ManualClock) -> None:
        node = SimulatedFleet.from_file(SMALL, clock).node("sim-node-1")
        nvml = node.nvml
        nvml.nvmlInit()
        rtx = handle(nvml, 2)
        clock.set(EPOCH + 2 * 3600 + 60)  # test-small: GPU 2 falls off the bus at 2 h for 10 min
        lost = pynvml.NVML_ERROR_GPU_IS_LOST
        raises(lost, nvml.nvmlDeviceGetFieldValues, rtx, [TX])
        raises(lost, nvml.nvmlDeviceGetPcieReplayCounter, rtx)
        raises(lost, nvml.nvmlDeviceGetPcieThroughput, rtx, pynvml.NVML_PCIE_UTIL_TX_BYTES)
        raises(lost, nvml.nvmlDeviceGetViolationStatus, rtx, pynvml.NVML_PERF_POLICY_POWER)


class TestViolationsAndFabric:
    def test_violation_status_is_a_pynvml_structure_in_nanoseconds(self, nvml: FakeNvml) -> None:
        status = nvml.nvmlDeviceGetViolationStatus(handle(nvml, 1), pynvml.NVML_PERF_POLICY_POWER)
        assert isinstance(status, pynvml.c_nvmlViolationTime_t)
        assert 0 <= status.violationTime <= 15 * 3600 * 1e9  # 15 h after the epoch
        raises(
            pynvml.NVML_ERROR_INVALID_ARGUMENT,
            nvml.nvmlDeviceGetViolationStatus,
            handle(nvml, 1),
            pynvml.NVML_PERF_POLICY_COUNT,
        )
        raises(
            pynvml.NVML_ERROR_NOT_SUPPORTED,
            nvml.nvmlDeviceGetViolationStatus,
            handle(nvml, 2),
            pynvml.NVML_PERF_POLICY_POWER,
        )

    def test_fabric_info_fills_the_callers_structure(self, nvml: FakeNvml) -> None:
        info = pynvml.c_nvmlGpuFabricInfoV_t()
        assert nvml.nvmlDeviceGetGpuFabricInfoV(handle(nvml, 1), ctypes.byref(info)) == 0
        assert info.state == pynvml.NVML_GPU_FABRIC_STATE_COMPLETED
        assert info.status == pynvml.NVML_SUCCESS
        assert any(info.clusterUuid)
        legacy = pynvml.c_nvmlGpuFabricInfo_t()
        nvml.nvmlDeviceGetGpuFabricInfo(handle(nvml, 1), ctypes.byref(legacy))
        assert bytes(legacy.clusterUuid) == bytes(info.clusterUuid)
        unversioned = pynvml.c_nvmlGpuFabricInfoV_t()
        unversioned.version = 0
        raises(
            pynvml.NVML_ERROR_ARGUMENT_VERSION_MISMATCH,
            nvml.nvmlDeviceGetGpuFabricInfoV,
            handle(nvml, 1),
            ctypes.byref(unversioned),
        )
        for index in (0, 2):  # an A100 (no fabric before Hopper) and a GeForce board
            raises(
                pynvml.NVML_ERROR_NOT_SUPPORTED,
                nvml.nvmlDeviceGetGpuFabricInfoV,
                handle(nvml, index),
                ctypes.byref(pynvml.c_nvmlGpuFabricInfoV_t()),
            )


class TestCountersOverTime:
    def test_counters_are_monotonic_at_any_instant(
        self, nvml: FakeNvml, clock: ManualClock
    ) -> None:
        h100 = handle(nvml, 1)
        previous: list[int] = []
        # Fractions of a second, minute and day boundaries, across a week.
        instants = sorted(
            EPOCH + day * 86400 + offset
            for day, offset in itertools.product(
                range(7), (0.0, 0.04, 0.5, 59.99, 60.0, 60.01, 43199.7, 86399.99)
            )
        )
        for t in instants:
            clock.set(t)
            fields = nvml.nvmlDeviceGetFieldValues(
                h100, [(TX, ALL_LINKS), (RX, ALL_LINKS), (TX, 3), (RX, 11)]
            )
            now = [v.value.ullVal for v in fields] + [
                nvml.nvmlDeviceGetViolationStatus(h100, policy).violationTime for policy in range(6)
            ]
            now.append(nvml.nvmlDeviceGetPcieReplayCounter(h100))
            if previous:
                assert all(b >= a for a, b in zip(previous, now, strict=True)), t
            previous = now

    def test_integral_equals_the_sum_of_its_minutes(self, small_node: SimulatedNode) -> None:
        state = small_node.state
        meter = PowerIntegral(state.energy_meter(1), lambda power_mw: power_mw // 1000)
        start = EPOCH + 3 * 86400
        power_mw, _ = meter.table(tuple(c.schedule is None for c in state.contexts[1].consumers))
        minute_of_day = int(start % 86400) // 60
        expected = sum(power_mw[(minute_of_day + m) % 1440] * 60 for m in range(90))
        assert meter.total(start + 90 * 60) - meter.total(start) == expected

    def test_nvlink_traffic_follows_the_load(self, nvml: FakeNvml, clock: ManualClock) -> None:
        # The H100 serves inference: more traffic at the 15:00 UTC peak than at 03:00.
        h100 = handle(nvml, 1)

        def kib_in_an_hour(hour: int) -> int:
            readings = []
            for t in (EPOCH + 86400 + hour * 3600, EPOCH + 86400 + (hour + 1) * 3600):
                clock.set(t)
                readings.append(nvml.nvmlDeviceGetFieldValues(h100, [(TX, ALL_LINKS)])[0])
            return int(readings[1].value.ullVal - readings[0].value.ullVal)

        assert kib_in_an_hour(14) > 2 * kib_in_an_hour(3) > 0

    @pytest.mark.parametrize(
        "counter", [pynvml.NVML_PCIE_UTIL_TX_BYTES, pynvml.NVML_PCIE_UTIL_RX_BYTES]
    )
    def test_pcie_throughput_is_a_20ms_sample(self, nvml: FakeNvml, counter: int) -> None:
        h100 = handle(nvml, 1)
        first = nvml.nvmlDeviceGetPcieThroughput(h100, counter)
        assert first == nvml.nvmlDeviceGetPcieThroughput(h100, counter)  # the same sample
        assert 0 < first < 64_000_000  # KB/s below a PCIe Gen5 x16 link
        raises(pynvml.NVML_ERROR_INVALID_ARGUMENT, nvml.nvmlDeviceGetPcieThroughput, h100, 2)


def test_counters_stay_monotonic_across_scheduled_pods_windows() -> None:
    # GPU 3 holds a weekday training job 08:00-18:00: its NVLink traffic and power violation
    # grow only inside the windows, and never go back at an edge.
    schedules = SMALL.parent / "test-schedules.yaml"
    clock = ManualClock(EPOCH)
    node = SimulatedFleet.from_file(schedules, clock).node("sched-node-1")
    nvml = node.nvml
    nvml.nvmlInit()
    trainer = handle(nvml, 3)
    readings = []
    for step in range(2 * 24 * 6 + 1):  # Monday and Tuesday, every 10 minutes
        clock.set(EPOCH + 4 * 86400 + step * 600)  # 2026-01-05 was a Monday
        nvlink = nvml.nvmlDeviceGetFieldValues(trainer, [(TX, ALL_LINKS)])[0].value.ullVal
        power = nvml.nvmlDeviceGetViolationStatus(trainer, pynvml.NVML_PERF_POLICY_POWER)
        readings.append((step * 10 % 1440, nvlink, power.violationTime))
    for (_minute, *before), (minute, *after) in itertools.pairwise(readings):
        assert all(a >= b for a, b in zip(after, before, strict=True))
        # The 10 minutes up to `minute` overlap the window [08:00, 18:00) or not.
        assert (after[0] > before[0]) == (8 * 60 < minute <= 18 * 60), minute
