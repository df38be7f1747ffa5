"""Simulated readings: deterministic, monotonic counters, shapes and events as described."""

from __future__ import annotations

import time

import pynvml
import pytest

from simulator import ManualClock, SimulatedFleet, SimulatedNode
from simulator.state import DRIVER_RESERVE_BYTES, workload_utilization

from .conftest import DEMO, EPOCH

HOUR = 3600.0
DAY = 86400.0
THERMAL = (
    pynvml.nvmlClocksEventReasonSwThermalSlowdown | pynvml.nvmlClocksEventReasonHwThermalSlowdown
)


def demo_node(name: str) -> SimulatedNode:
    return SimulatedFleet.from_file(DEMO, ManualClock(EPOCH)).node(name)


@pytest.fixture(scope="module")
def worker3() -> SimulatedNode:
    return demo_node("gpu-worker-3")


@pytest.fixture(scope="module")
def worker4() -> SimulatedNode:
    return demo_node("gpu-worker-4")


# Irregular instants over three days, crossing midnights and minute boundaries.
INSTANTS = [EPOCH + 7.3 * k**1.7 for k in range(0, 400)]


class TestDeterminism:
    def test_two_fleets_give_identical_values(self) -> None:
        first = SimulatedFleet.from_file(DEMO, ManualClock(0))
        second = SimulatedFleet.from_file(DEMO, ManualClock(0))
        for name in first.nodes:
            a, b = first.node(name), second.node(name)
            for t in INSTANTS[::37]:
                for gpu in a.spec.gpus:
                    assert a.gpu_values(gpu.index, t) == b.gpu_values(gpu.index, t)

    def test_values_do_not_depend_on_the_order_of_questions(self, worker3: SimulatedNode) -> None:
        fresh = demo_node("gpu-worker-3")
        forwards = [worker3.gpu_values(0, t) for t in INSTANTS[:50]]
        backwards = [fresh.gpu_values(0, t) for t in reversed(INSTANTS[:50])]
        assert forwards == list(reversed(backwards))


class TestCounters:
    @pytest.mark.parametrize("node", ["gpu-worker-1", "gpu-worker-3", "gpu-worker-4"])
    def test_counters_never_decrease(self, node: str) -> None:
        sim = demo_node(node)
        for gpu in sim.spec.gpus:
            previous = sim.gpu_values(gpu.index, INSTANTS[0])
            for t in INSTANTS[1:]:
                now = sim.gpu_values(gpu.index, t)
                assert now.energy_millijoules >= previous.energy_millijoules
                assert now.ecc_corrected_volatile >= previous.ecc_corrected_volatile
                assert now.ecc_corrected_aggregate >= previous.ecc_corrected_aggregate
                assert now.remapped_rows_uncorrectable >= previous.remapped_rows_uncorrectable
                counts = dict(now.xid_counts)
                assert all(counts.get(x, 0) >= n for x, n in previous.xid_counts)
                previous = now

    def test_energy_of_an_idle_gpu_is_idle_power_times_time(self, worker4: SimulatedNode) -> None:
        # GPU 7 holds nothing (GPU 6 runs a weekday job): 25 W, exactly, since the epoch.
        assert worker4.gpu_values(7, EPOCH).energy_millijoules == 0
        assert worker4.gpu_values(7, EPOCH + DAY).energy_millijoules == 25 * 86400 * 1000
        assert worker4.gpu_values(7, EPOCH + 90.5).energy_millijoules == 25 * 90_500

    def test_energy_is_the_integral_of_noise_free_power(self, worker3: SimulatedNode) -> None:
        power_mw, _prefix = worker3.state.power_table(4)
        start = EPOCH + 13 * HOUR  # a minute boundary
        minute = int(start // 60) % 1440
        delta = (
            worker3.gpu_values(4, start + 60).energy_millijoules
            - worker3.gpu_values(4, start).energy_millijoules
        )
        assert delta == power_mw[minute] * 60
        # Served power carries the noise; the integral follows the clean curve closely.
        served = worker3.gpu_values(4, start + 30).power_watts
        assert abs(served - power_mw[minute] / 1000) < 0.1 * served

    def test_energy_far_in_the_future_is_constant_time(self, worker3: SimulatedNode) -> None:
        began = time.perf_counter()
        year = worker3.gpu_values(0, EPOCH + 365 * DAY).energy_millijoules
        day_before = worker3.gpu_values(0, EPOCH + 364 * DAY).energy_millijoules
        assert time.perf_counter() - began < 0.5
        assert year - day_before == worker3.state.power_table(0)[1][-1]


class TestShapes:
    MINUTES = range(0, 1440 * 2, 7)

    def test_training_is_steady_and_high(self) -> None:
        values = [workload_utilization("training", 1234, m) for m in self.MINUTES]
        assert min(values) >= 0.9 and max(values) <= 0.97

    def test_notebooks_mostly_idle(self) -> None:
        values = [workload_utilization("notebook", 99, m) for m in self.MINUTES]
        assert max(values) <= 0.05

    def test_inference_peaks_in_the_afternoon(self) -> None:
        def mean(hours: range) -> float:
            minutes = [h * 60 + m for h in hours for m in range(0, 60, 5)]
            return sum(workload_utilization("inference", 5, m) for m in minutes) / len(minutes)

        assert mean(range(13, 17)) > mean(range(1, 5)) + 0.4

    def test_batch_switches_on_and_off(self) -> None:
        values = [workload_utilization("batch", 77, m) for m in range(240)]
        assert min(values) == 0.0 and max(values) > 0.7
        assert sum(v > 0 for v in values) == 150  # 75 minutes of every 2 hours

    def test_power_follows_utilization(self, worker3: SimulatedNode) -> None:
        values = worker3.gpu_values(0, EPOCH + 10 * HOUR)
        expected = 70 + (700 - 70) * values.utilization_ratio**0.9
        assert values.power_watts == pytest.approx(expected)
        assert values.performance_state == pynvml.NVML_PSTATE_0
        assert values.power_limit_watts == 700

    def test_idle_gpu_reports_idle(self, worker3: SimulatedNode) -> None:
        values = worker3.gpu_values(7, EPOCH + 10 * HOUR)
        assert values.utilization_ratio == 0
        assert values.clock_event_reasons == pynvml.nvmlClocksEventReasonGpuIdle
        assert values.performance_state == pynvml.NVML_PSTATE_8
        assert values.memory_used_bytes == DRIVER_RESERVE_BYTES
        assert 30 <= values.temperature_celsius <= 40

    def test_mig_parent_utilization_is_weighted_by_compute(self) -> None:
        node = demo_node("gpu-worker-1")
        values = node.gpu_values(4, EPOCH + 15 * HOUR)
        slices = [i.profile.compute_slices for i in node.spec.gpus[4].mig_instances]
        weighted = sum(m.utilization_ratio * c for m, c in zip(values.mig, slices, strict=True))
        assert values.utilization_ratio == pytest.approx(weighted / 7)
        assert values.memory_used_bytes == DRIVER_RESERVE_BYTES + sum(
            m.memory_used_bytes for m in values.mig
        )

    def test_time_sliced_pods_share_one_gpu(self, worker4: SimulatedNode) -> None:
        values = worker4.gpu_values(0, EPOCH + 15 * HOUR)
        assert [p.pid for p in values.processes] == [20000, 20001]
        shares = sum(p.sm_utilization_ratio for p in values.processes)
        assert shares == pytest.approx(values.utilization_ratio)


class TestEvents:
    def test_daily_overheat_window(self, worker3: SimulatedNode) -> None:
        for day in (0, 1, 5):
            inside = worker3.gpu_values(1, EPOCH + day * DAY + 14 * HOUR + 600)
            outside = worker3.gpu_values(1, EPOCH + day * DAY + 15 * HOUR)
            assert inside.clock_event_reasons & THERMAL == THERMAL
            assert not outside.clock_event_reasons & THERMAL
            assert inside.temperature_celsius >= 87  # H100's overheat threshold
            assert inside.clock_sm_mhz < outside.clock_sm_mhz

    def test_ecc_counts_step_at_each_occurrence(self, worker3: SimulatedNode) -> None:
        before = worker3.gpu_values(2, EPOCH + 9 * HOUR - 1)
        after = worker3.gpu_values(2, EPOCH + 9 * HOUR)
        later = worker3.gpu_values(2, EPOCH + 2 * DAY + 9 * HOUR)
        assert (before.ecc_corrected_volatile, after.ecc_corrected_volatile) == (0, 120)
        assert later.ecc_corrected_volatile == 240
        assert after.ecc_corrected_aggregate - after.ecc_corrected_volatile >= 0
        assert after.ecc_uncorrected_volatile == 0

    def test_row_remap_pending_then_remapped(self) -> None:
        node = demo_node("gpu-worker-1")
        during = node.gpu_values(1, EPOCH + 31 * HOUR)
        after = node.gpu_values(1, EPOCH + 37 * HOUR)
        assert during.row_remap_pending and during.remapped_rows_uncorrectable == 0
        assert not after.row_remap_pending and after.remapped_rows_uncorrectable == 1

    def test_xid_counts(self, worker3: SimulatedNode) -> None:
        assert worker3.gpu_values(5, EPOCH + 30 * HOUR - 1).xid_counts == ()
        assert worker3.gpu_values(5, EPOCH + 30 * HOUR).xid_counts == ((48, 1),)

    def test_gpu_lost_window_repeats_daily_with_xid_79(self, worker4: SimulatedNode) -> None:
        for day in range(3):
            start = EPOCH + day * DAY + 4 * HOUR
            assert not worker4.is_lost(7, start - 1)
            assert worker4.is_lost(7, start)
            assert worker4.is_lost(7, start + 599)
            assert not worker4.is_lost(7, start + 600)
            assert worker4.gpu_values(7, start).xid_counts == ((79, day + 1),)
        occurrences = worker4.xid_occurrences(7, EPOCH, EPOCH + 3 * DAY)
        assert [(o.t - EPOCH, o.xid) for o in occurrences] == [
            (4 * HOUR + d * DAY, 79) for d in range(3)
        ]
