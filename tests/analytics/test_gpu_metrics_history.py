"""GPU metric endpoints against the shared stack (test-small, 7 days of history, real
Prometheus, gunicorn): every number equals the simulator's ground truth (gpu_truth.Truth),
within 1% for averages and exactly for counts and states."""

from __future__ import annotations

import math
import time
from typing import Any

import pytest
import requests

from devstack.stack import Stack
from gpucatalog import model_by_id
from tests.analytics.gpu_truth import HOUR, Truth
from tests.stack_fixtures import history_stack

# Architectures without GPM: their utilisation is always NVML's utilization.gpu.
PRE_GPM = {"Volta", "Turing", "Ampere", "Ada Lovelace"}

# Each test on Prometheus and on VictoriaMetrics (tests/stack_fixtures.py).
pytestmark = [pytest.mark.usefixtures("history_stack"), pytest.mark.metrics_backends]
__all__ = ["history_stack"]


def get(stack: Stack, path: str, **params: Any) -> requests.Response:
    return requests.get(stack.analytics_url + path, params=params, timeout=30)


def data(response: requests.Response) -> Any:
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "success"
    return body["data"]


@pytest.fixture(scope="module")
def synced(history_stack: Stack) -> dict[str, Any]:
    response = requests.post(
        history_stack.analytics_url + "/gpu/metrics/collect",
        headers={"X-API-Key": history_stack.admin_api_key},
        timeout=30,
    )
    return dict(data(response))


@pytest.fixture(scope="module")
def truth(history_stack: Stack) -> Truth:
    return Truth(history_stack.fleet_path)


def close(actual: float | None, expected: float | None, relative: float = 0.01) -> bool:
    if actual is None or expected is None:
        return actual is None and expected is None
    return math.isclose(actual, expected, rel_tol=relative, abs_tol=1e-9)


def test_the_sync_registers_every_reported_gpu_with_its_identity(
    history_stack: Stack, synced: dict[str, Any], truth: Truth
) -> None:
    assert synced["status"] == "OK"
    devices = {d["deviceId"]: d for d in data(get(history_stack, "/gpu/devices"))}
    expected = {truth.device_id(node, index): (node, index) for node, index in truth.gpus()}
    assert set(devices) == set(expected)
    for device_id, (node, index) in expected.items():
        gpu = truth.spec.node(node).gpus[index]
        device = devices[device_id]
        assert device["modelId"] == gpu.model.model_id
        assert device["gpuUuid"] == gpu.uuid
        assert device["serialNumber"] == gpu.serial
        assert device["pciAddress"] == gpu.pci_bus_id
        assert device["firmwareVersion"] == gpu.vbios_version
        assert device["productName"] == gpu.product_name
        assert device["presence"] == "REPORTED"
        assert device["deviceStatus"] == ("MIG_ENABLED" if gpu.mig_enabled else "ACTIVE")


def test_the_observed_mig_layout_is_recorded(
    history_stack: Stack, synced: dict[str, Any], truth: Truth
) -> None:
    for node, index in truth.gpus():
        gpu = truth.spec.node(node).gpus[index]
        if not gpu.mig_enabled:
            continue
        layout = data(get(history_stack, f"/gpu/mig/devices/{truth.device_id(node, index)}"))
        observed = sorted(
            (i["profile"], i["startSlice"], i["migUuid"], i["state"]) for i in layout["instances"]
        )
        assert observed == sorted(
            (m.profile.name, m.start_slice, m.uuid, "UNMANAGED") for m in gpu.mig_instances
        )
        assert layout["observedLayout"] == [
            f"{m.profile.name}@{m.start_slice}"
            for m in sorted(gpu.mig_instances, key=lambda m: m.start_slice)
        ]


def test_live_fields_are_the_latest_readings(
    history_stack: Stack, synced: dict[str, Any], truth: Truth
) -> None:
    checked = time.time()
    devices = data(get(history_stack, "/gpu/devices"))
    for device in devices:
        node, index = device["nodeName"], device["deviceIndex"]
        # The newest scrape is at most a few seconds old and may read the previous minute.
        candidates = [truth.reading(node, index, checked - lag) for lag in (0, 3, 6)]
        assert any(
            c is not None
            and device["currentTempC"] == c["temperature"]
            and close(device["currentPowerW"], round(c["power"], 1), 0.002)
            and (
                device["currentUtilization"] is None
                if c["utilization"] is None
                else close(device["currentUtilization"], c["utilization"] * 100)
            )
            for c in candidates
        ), (device, candidates)


@pytest.mark.parametrize("hours", [24, 168])
def test_usage_statistics_over_the_hourly_rules(
    history_stack: Stack, synced: dict[str, Any], truth: Truth, hours: int
) -> None:
    response = get(history_stack, "/gpu/metrics/usage-statistics", hours=hours)
    stats = data(response)
    assert stats["source"] == "recording-rules"
    assert stats["timeRange"] == f"{hours} hours"
    end = _timestamp(stats["windowEnd"])
    assert _timestamp(stats["windowStart"]) == end - hours * HOUR
    if end % HOUR == 0:
        # The newest rule sample is the history's last hour boundary (backfilled).
        _check_usage(
            stats, truth, lambda node, index: truth.hourly_rule_window(node, index, end, hours)
        )
    else:
        # The live Prometheus evaluated the hourly group meanwhile, at its own offset in the
        # hour (a hash of the group's name and file): that sample averages the live scrapes
        # (every 2 s) with the backfilled minutes, which the simulator's minute readings do
        # not model. The window still ends at that newest sample, after the history.
        assert end > history_stack.history_end, (end, history_stack.history_end)
        assert set(stats["deviceStatistics"]) == {truth.device_id(n, i) for n, i in truth.gpus()}
        for device in stats["deviceStatistics"].values():
            assert device["avgGpuUtilization"] is None or 0 <= device["avgGpuUtilization"] <= 100
    # Aggregated in Prometheus: a few samples per GPU (a part per statistic, SM activity's
    # included), whatever the window.
    gpus = len(list(truth.gpus()))
    assert int(response.headers["X-Prometheus-Samples"]) <= 5 * gpus + 1


def test_usage_statistics_over_the_raw_series(
    history_stack: Stack, synced: dict[str, Any], truth: Truth
) -> None:
    stats = data(get(history_stack, "/gpu/metrics/usage-statistics", hours=1))
    assert stats["source"] == "raw"
    end = _timestamp(stats["windowEnd"])
    _check_usage(
        stats,
        truth,
        lambda node, index: truth.minute_window(node, index, end, 1, history_stack.history_end),
    )


def _check_usage(stats: dict[str, Any], truth: Truth, expected_for: Any) -> None:
    per_model: dict[str, list[dict[str, float | None]]] = {}
    assert set(stats["deviceStatistics"]) == {truth.device_id(n, i) for n, i in truth.gpus()}
    for node, index in truth.gpus():
        expected = expected_for(node, index)
        actual = stats["deviceStatistics"][truth.device_id(node, index)]
        model_id = truth.model_id(node, index)
        assert actual["modelName"] == model_by_id(model_id).display_name
        utilization = expected["utilization"]
        if actual["utilizationSource"] == "SM_ACTIVE":
            # SM activity (GPM), preferred where the GPU reports it: Hopper and newer only.
            assert model_by_id(model_id).architecture not in PRE_GPM, (node, index, actual)
            assert 0 <= actual["avgGpuUtilization"] <= 100
        else:
            assert close(
                actual["avgGpuUtilization"], None if utilization is None else utilization * 100
            ), (node, index, actual, expected)
            expected_source = None if utilization is None else "GPU_UTILIZATION"
            assert actual["utilizationSource"] == expected_source, (node, index, actual)
        assert close(actual["avgMemoryUtilization"], expected["memory_ratio"] * 100), (
            node,
            index,
        )
        assert close(actual["avgTemperature"], expected["temperature"]), (node, index)
        per_model.setdefault(model_id, []).append(actual)
    assert set(stats["modelStatistics"]) == set(per_model)
    for model_id, devices in per_model.items():
        model = stats["modelStatistics"][model_id]
        assert model["deviceCount"] == len(devices)
        temperatures = [d["avgTemperature"] for d in devices]
        assert close(model["avgTemperature"], sum(temperatures) / len(temperatures))


def test_overview_counts_and_current_values(
    history_stack: Stack, synced: dict[str, Any], truth: Truth
) -> None:
    checked = time.time()
    overview = data(get(history_stack, "/gpu/overview"))
    gpus = list(truth.gpus())
    models = [truth.model_id(n, i) for n, i in gpus]
    assert overview["totalGpuDevices"] == len(gpus)
    assert overview["totalNodes"] == len(truth.spec.nodes)
    assert overview["devicesByModel"] == {m: models.count(m) for m in sorted(set(models))}
    assert overview["totalMigInstances"] == sum(
        len(truth.spec.node(n).gpus[i].mig_instances) for n, i in gpus
    )
    hourly = sum(model_by_id(m).default_price_per_hour or 0.0 for m in models)
    assert overview["totalHourlyCost"] == pytest.approx(hourly, abs=0.01)
    assert overview["totalMonthlyCost"] == pytest.approx(hourly * 730, abs=0.01)
    # Now-values: the latest scrape (this minute or the last).
    matches = []
    for lag in (0, 3, 6):
        readings = [truth.reading(n, i, checked - lag) for n, i in gpus]
        present = [r for r in readings if r is not None]
        utilization = [r["utilization"] for r in present if r["utilization"] is not None]
        temperature = sum(r["temperature"] for r in present) / len(present)
        matches.append(
            close(overview["overallGpuUtilization"], 100 * sum(utilization) / len(utilization))
            and close(overview["overallTemperature"], temperature)
        )
    assert any(matches), overview
    assert overview["totalAlerts"] == overview["criticalAlerts"] + overview["warningAlerts"]


def test_health_of_a_quiet_fleet(
    history_stack: Stack, synced: dict[str, Any], truth: Truth
) -> None:
    from analytics.services.gpu.health import assess

    now = time.time()
    health = data(get(history_stack, "/gpu/health"))
    expected = {
        truth.device_id(n, i): assess(truth.signals(n, i, now), truth.threshold(n, i), True)
        for n, i in truth.gpus()
    }
    statuses = [v.status for v in expected.values()]
    assert health["totalDevices"] == len(expected)
    assert health["healthyDevices"] == statuses.count("HEALTHY")
    assert health["warningDevices"] == statuses.count("WARNING")
    assert health["criticalDevices"] == statuses.count("CRITICAL")
    for device_id, verdict in expected.items():
        one = data(get(history_stack, f"/gpu/devices/{device_id}/health"))
        assert one["status"] == verdict.status
        assert sorted(r["code"] for r in one["reasons"]) == sorted(f.code for f in verdict.findings)


def test_collection_status_sees_every_exporter(
    history_stack: Stack, synced: dict[str, Any], truth: Truth
) -> None:
    status = data(get(history_stack, "/gpu/metrics/collection-status"))
    assert status["prometheus"]["reachable"] is True
    assert status["lastSync"]["status"] == "OK"
    exporters = {e["nodeName"]: e for e in status["exporters"]}
    assert set(exporters) == {n.name for n in truth.spec.nodes}
    for node in truth.spec.nodes:
        assert exporters[node.name]["devicesExpected"] == len(node.gpus)
        assert exporters[node.name]["freshnessSeconds"] < 30
    targets = [t for t in status["targets"] if t["job"] == "gpu-exporter"]
    assert {t["nodeName"] for t in targets} == {n.name for n in truth.spec.nodes}
    assert all(t["health"] == "up" for t in targets)


def _timestamp(text: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
