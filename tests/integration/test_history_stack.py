"""History and live agree: backfilled samples are the simulator's values, live scrapes continue
them, info series join over past windows, and the cluster series come through Prometheus."""

from __future__ import annotations

import itertools
import math
import random
import time
from typing import Any

import pytest

from devstack.prometheus import query, query_range
from devstack.stack import Stack
from simulator import ManualClock, SimulatedFleet
from simulator.cluster import ClusterSeries
from simulator.fleet import load_fleet
from simulator.state import GpuValues
from tests.stack_fixtures import HISTORY_FLEET, SCRAPE_INTERVAL_S, history_stack

__all__ = ["history_stack"]  # the fixture, imported for pytest

FLEET = load_fleet(HISTORY_FLEET)
NODE = SimulatedFleet(FLEET, ManualClock(0)).node(FLEET.nodes[0].name)
UUIDS = {gpu.uuid: gpu.index for gpu in FLEET.nodes[0].gpus}
DEVICE_METRICS = (
    "gpu_up",
    "gpu_utilization_ratio",
    "gpu_memory_used_bytes",
    "gpu_temperature_celsius",
    "gpu_power_usage_watts",
    "gpu_energy_consumed_joules_total",
)


def exporter_value(name: str, values: GpuValues) -> float | None:
    """What the exporter publishes for ``values`` (NVML's units and rounding)."""
    if name == "gpu_up":
        return 0.0 if values.lost else 1.0
    if values.lost:
        return None
    if name == "gpu_utilization_ratio":
        return round(values.utilization_ratio * 100) / 100
    if name == "gpu_memory_used_bytes":
        return float(values.memory_used_bytes)
    if name == "gpu_temperature_celsius":
        return float(values.temperature_celsius)
    if name == "gpu_power_usage_watts":
        return round(values.power_watts * 1000) / 1000
    if name == "gpu_energy_consumed_joules_total":
        return values.energy_millijoules / 1000
    raise AssertionError(name)


def simulated(index: int, t: float) -> GpuValues:
    return NODE.state.gpu_values(index, t)


def device_samples(url: str, at: float) -> dict[tuple[str, int], float]:
    selector = "|".join(DEVICE_METRICS)
    result = query(url, f'{{__name__=~"{selector}"}}', at=at)["result"]
    return {
        (r["metric"]["__name__"], UUIDS[r["metric"]["uuid"]]): float(r["value"][1]) for r in result
    }


def raw_samples(url: str, selector: str, window_s: int, at: float) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = query(url, f"{selector}[{window_s}s]", at=at)["result"]
    return result


def wait_for_live(stack: Stack, scrapes: int) -> float:
    """Until Prometheus holds ``scrapes`` live scrapes after the history; returns now."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        now = time.time()
        rows = raw_samples(stack.prometheus_url, 'up{job="gpu-exporter"}', 120, now)
        if rows and len(rows[0]["values"]) >= scrapes:
            return now
        time.sleep(0.5)
    raise AssertionError("no live scrapes")


class TestBackfilledHistory:
    def test_samples_are_the_simulators_values(self, history_stack: Stack) -> None:
        rng = random.Random(11)
        start, end = history_stack.history_start, history_stack.history_end
        compared = 0
        for _ in range(25):
            t = start + rng.randrange(0, (end - start) // 60) * 60
            found = device_samples(history_stack.prometheus_url, t)
            for index in UUIDS.values():
                values = simulated(index, t)
                for name in DEVICE_METRICS:
                    wanted = exporter_value(name, values)
                    if name == "gpu_utilization_ratio" and FLEET.nodes[0].gpus[index].mig_enabled:
                        wanted = None  # NVML reports no utilisation for a GPU in MIG mode
                    if wanted is None:
                        assert (name, index) not in found or values.lost, (name, index, t)
                        continue
                    assert found[(name, index)] == wanted, (name, index, t)
                    compared += 1
        assert compared >= 25 * 15

    def test_cluster_series_are_the_simulators(self, history_stack: Stack) -> None:
        series = ClusterSeries(FLEET)
        t = history_stack.history_start + 86400 + 17 * 60
        url = history_stack.prometheus_url
        pods = query(url, "count(kube_pod_info)", at=t)["result"]
        assert float(pods[0]["value"][1]) == len(FLEET.nodes[0].pods)
        cpu = query(url, "container_cpu_usage_seconds_total", at=t)["result"]
        usages = {dict(u.labels)["name"]: u for u in series.usages}
        assert len(cpu) == len(usages)
        for row in cpu:
            usage = usages[row["metric"]["name"]]
            assert float(row["value"][1]) == pytest.approx(usage.cpu_seconds(t), rel=1e-12)
        capacity = query(url, 'kube_node_status_capacity{resource="nvidia_com_gpu"}', at=t)
        assert float(capacity["result"][0]["value"][1]) == 1.0

    def test_info_series_join_over_the_past_window(self, history_stack: Stack) -> None:
        url = history_stack.prometheus_url
        start, end = history_stack.history_start + 3600, history_stack.history_end
        steps = (end - start) // 3600 + 1
        joined = query_range(
            url,
            "gpu_temperature_celsius * on(uuid) group_left(model_name) gpu_info",
            start,
            start + (steps - 1) * 3600,
            3600,
        )["result"]
        assert len(joined) == len(UUIDS)
        assert all(len(row["values"]) == steps for row in joined)
        assert {row["metric"]["model_name"] for row in joined} == {
            gpu.product_name for gpu in FLEET.nodes[0].gpus
        }
        by_namespace = query_range(
            url,
            "sum by (namespace) (gpu_memory_used_bytes * on(uuid) group_right "
            'gpu_pod_allocation_info{mig_uuid=""})',
            start,
            start + 5 * 3600,
            900,
        )["result"]
        assert {row["metric"]["namespace"] for row in by_namespace} == {
            "model-serving",
            "research",
            "development",
        }

    def test_recording_rules_cover_the_history(self, history_stack: Stack) -> None:
        url = history_stack.prometheus_url
        end = history_stack.history_end
        hours = (end - history_stack.history_start) // 3600
        counted = query(url, "count_over_time(uuid:gpu_temperature_celsius:max1h[8d])", at=end)
        assert {float(r["value"][1]) for r in counted["result"]} == {float(hours)}
        assert {r["metric"]["uuid"] for r in counted["result"]} == set(UUIDS)
        assert all(set(r["metric"]) == {"node", "gpu", "uuid"} for r in counted["result"])


class TestLiveContinuesTheHistory:
    def test_counters_continue_and_gauges_are_the_simulators(self, history_stack: Stack) -> None:
        now = wait_for_live(history_stack, scrapes=3)
        url = history_stack.prometheus_url
        window = int(now - history_stack.history_end) + 300
        energy = raw_samples(url, "gpu_energy_consumed_joules_total", window, now)
        assert len(energy) == len(UUIDS)
        for row in energy:
            index = UUIDS[row["metric"]["uuid"]]
            points = [(float(t), float(v)) for t, v in row["values"]]
            assert [v for _t, v in points] == sorted(v for _t, v in points)
            history = [(t, v) for t, v in points if t <= history_stack.history_end]
            live = [(t, v) for t, v in points if t > history_stack.history_end]
            assert history and len(live) >= 2
            for t, v in history:
                assert v == exporter_value("gpu_energy_consumed_joules_total", simulated(index, t))
            for t, v in live:
                # The scrape serves the snapshot of the last NVML reading (every second).
                low = simulated(index, t - 3).energy_millijoules / 1000
                high = simulated(index, t).energy_millijoules / 1000
                assert low <= v <= high, (index, t, v, low, high)

        for name in ("gpu_temperature_celsius", "gpu_power_usage_watts", "gpu_memory_used_bytes"):
            for row in raw_samples(url, name, window, now):
                index = UUIDS[row["metric"]["uuid"]]
                for stamp, v in row["values"]:
                    t = float(stamp)
                    candidates = {
                        exporter_value(name, simulated(index, t - back)) for back in (0, 1, 2, 3)
                    }
                    assert float(v) in candidates, (name, index, t, v, candidates)

    def test_cluster_counters_continue(self, history_stack: Stack) -> None:
        now = wait_for_live(history_stack, scrapes=2)
        url = history_stack.prometheus_url
        usages = {dict(u.labels)["name"]: u for u in ClusterSeries(FLEET).usages}
        window = int(now - history_stack.history_end) + 300
        rows = raw_samples(url, "container_cpu_usage_seconds_total", window, now)
        for row in rows:
            usage = usages[row["metric"]["name"]]
            points = [(float(t), float(v)) for t, v in row["values"]]
            assert [v for _t, v in points] == sorted(v for _t, v in points)
            for t, v in points:
                # Live values are computed when the scrape arrives, a moment after its timestamp.
                assert usage.cpu_seconds(t) <= v + 1e-6
                assert v <= usage.cpu_seconds(t + 2)

    def test_busy_seconds_restart_with_the_exporter(self, history_stack: Stack) -> None:
        """A known difference: the exporter's busy counter counts from its own start, the
        history's from the history's start; Prometheus sees one counter reset."""
        now = wait_for_live(history_stack, scrapes=2)
        url = history_stack.prometheus_url
        window = int(now - history_stack.history_end) + 600
        resets = query(url, f"resets(gpu_busy_seconds_total[{window}s])", at=now)["result"]
        assert resets and all(float(r["value"][1]) == 1 for r in resets)
        # rate() over history alone is the average utilisation the driver reported.
        t = history_stack.history_end - 600
        rate = query(url, "rate(gpu_busy_seconds_total[30m])", at=t)["result"]
        for row in rate:
            index = UUIDS[row["metric"]["uuid"]]
            minutes = [
                exporter_value("gpu_utilization_ratio", simulated(index, t - 60 * k))
                for k in range(1, 31)
            ]
            mean = sum(m for m in minutes if m is not None) / 30
            assert float(row["value"][1]) == pytest.approx(mean, rel=0.05)

    def test_the_scrape_interval_is_the_fixtures(self, history_stack: Stack) -> None:
        now = wait_for_live(history_stack, scrapes=3)
        rows = raw_samples(history_stack.prometheus_url, 'up{job="gpu-exporter"}', 30, now)
        times = [float(t) for t, _v in rows[0]["values"]]
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert all(math.isclose(g, SCRAPE_INTERVAL_S, abs_tol=0.5) for g in gaps)
