"""Overheating, health and reconciliation against a real stack whose hardware events happen
inside the last day (gpu_truth.write_events_fleet: 7 days of history, live exporters,
Prometheus at 2 s, gunicorn). Expected values come from the simulator alone."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
import requests

from analytics.services.gpu.health import assess
from devstack.stack import Stack
from simulator.fleet import load_fleet
from tests.analytics.gpu_truth import EVENTS_NODE, HOUR, QUIET_NODE, Truth, write_events_fleet


@pytest.fixture(scope="module")
def events_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    base = tmp_path_factory.mktemp("events-stack")
    fleet = write_events_fleet(base, time.time())
    stack = Stack(
        fleet.path,
        days=7,
        step=60,
        end=fleet.anchor,
        scrape_interval="2s",
        evaluation_interval="2s",
        workdir=base / "stack",
        cache_dir=base / "cache",
    )
    stack.start()
    try:
        # GPU 1 of node 1 was lost before its exporter started, so the exporter cannot tell
        # its identity; like an operator would have, register it (the periodic sync may have
        # found it in the history first: then it exists already).
        lost = load_fleet(fleet.path).node(EVENTS_NODE).gpus[1]
        registered = requests.post(
            stack.analytics_url + "/gpu/devices",
            json={
                "nodeName": EVENTS_NODE,
                "deviceIndex": 1,
                "modelId": lost.model.model_id,
                "gpuUuid": lost.uuid,
                "purchaseCost": 30000.0,
            },
            headers={"X-API-Key": stack.admin_api_key},
            timeout=30,
        )
        assert registered.status_code in (201, 409), registered.text
        response = requests.post(
            stack.analytics_url + "/gpu/metrics/collect",
            headers={"X-API-Key": stack.admin_api_key},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="module")
def truth(events_stack: Stack) -> Truth:
    return Truth(events_stack.fleet_path)


def get(stack: Stack, path: str, **params: Any) -> Any:
    response = requests.get(stack.analytics_url + path, params=params, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def post(stack: Stack, path: str, body: Any = None, method: str = "POST") -> requests.Response:
    return requests.request(
        method,
        stack.analytics_url + path,
        json=body,
        headers={"X-API-Key": stack.admin_api_key},
        timeout=30,
    )


def ts(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def test_the_lost_gpu_stays_in_the_inventory_as_lost(events_stack: Stack, truth: Truth) -> None:
    devices = {d["deviceId"]: d for d in get(events_stack, "/gpu/devices")}
    assert len(devices) == len(list(truth.gpus()))
    for node, index in truth.gpus():
        device = devices[truth.device_id(node, index)]
        lost = truth.lost(node, index, time.time())
        assert device["presence"] == ("LOST" if lost else "REPORTED")
        if lost:
            assert device["currentTempC"] is None and device["currentPowerW"] is None


@pytest.mark.parametrize("hours", [1, 24, 168])
def test_overheating_windows_are_the_simulated_ones(
    events_stack: Stack, truth: Truth, hours: int
) -> None:
    result = get(events_stack, "/gpu/metrics/overheating-alerts", hours=hours)
    start, end = ts(result["windowStart"]), ts(result["windowEnd"])
    assert end - start == hours * HOUR
    expected = []
    for node, index in truth.gpus():
        for first, last, peak in truth.hot_windows(node, index, start, end):
            expected.append((truth.device_id(node, index), first, last, peak))
    assert expected, "the fleet overheats inside every window"
    alerts = result["alerts"]
    assert result["totalAlerts"] == len(alerts) == len(expected)
    assert result["affectedDevices"] == len({e[0] for e in expected})
    for alert, (device_id, first, last, peak) in zip(
        alerts, sorted(expected, key=lambda e: e[1]), strict=True
    ):
        assert alert["deviceId"] == device_id
        assert alert["threshold"] == 85.0
        ongoing = end - last < 2 * 60
        assert alert["ongoing"] is ongoing
        if first > events_stack.history_end:
            continue  # started in the live part: readings are scrapes, not minute marks
        assert ts(alert["start"]) == first
        if ongoing:
            # Still hot: the last reading is this minute's or the one before.
            assert last - 2 * 60 <= ts(alert["end"]) <= last + 60
            assert abs(alert["peakTemperature"] - peak) <= 1
        else:
            assert ts(alert["end"]) == last
            assert alert["peakTemperature"] == peak
            assert alert["durationMinutes"] == (last - first) / 60 + 1


def test_overheating_devices_now(events_stack: Stack, truth: Truth) -> None:
    now = time.time()
    hot = get(events_stack, "/gpu/devices/overheating")
    expected = set()
    for node, index in truth.gpus():
        reading = truth.reading(node, index, now)
        if reading is not None and reading["temperature"] > truth.threshold(node, index):
            expected.add(truth.device_id(node, index))
    assert expected == {f"{EVENTS_NODE}-GPU-00"}
    assert {h["deviceId"] for h in hot} == expected
    [device] = hot
    assert device["currentTempC"] > device["thresholdC"] == 85.0
    assert device["excessC"] == pytest.approx(device["currentTempC"] - 85.0)


def test_device_health_verdicts_and_reasons(events_stack: Stack, truth: Truth) -> None:
    now = time.time()
    for node, index in truth.gpus():
        device_id = truth.device_id(node, index)
        health = get(events_stack, f"/gpu/devices/{device_id}/health")
        expected = assess(truth.signals(node, index, now), truth.threshold(node, index), True)
        assert health["status"] == expected.status, (device_id, health)
        assert sorted(r["code"] for r in health["reasons"]) == sorted(
            f.code for f in expected.findings
        ), (device_id, health["reasons"])
        xids = truth.xids(node, index, now - 24 * HOUR, now)
        assert health["xidCounts"] == {str(k): v for k, v in sorted(xids.items())}
    # The scenario really has something to find.
    by_id = {
        truth.device_id(n, i): assess(truth.signals(n, i, now), truth.threshold(n, i), True)
        for n, i in truth.gpus()
    }
    assert {f.code for f in by_id[f"{EVENTS_NODE}-GPU-00"].findings} >= {
        "OVERHEATING",
        "THERMAL_THROTTLING",
    }
    assert {f.code for f in by_id[f"{EVENTS_NODE}-GPU-01"].findings} >= {
        "GPU_LOST",
        "XID_CRITICAL",
    }
    assert by_id[f"{EVENTS_NODE}-GPU-02"].status == "CRITICAL"  # XID 48
    assert {f.code for f in by_id[f"{EVENTS_NODE}-GPU-03"].findings} >= {
        "ECC_UNCORRECTABLE",
        "XID_WARNING",
    }
    assert "ROW_REMAP_PENDING" in {f.code for f in by_id[f"{EVENTS_NODE}-GPU-04"].findings}


def test_cluster_health_and_overview_alert_counts(events_stack: Stack, truth: Truth) -> None:
    now = time.time()
    verdicts = [
        assess(truth.signals(n, i, now), truth.threshold(n, i), True) for n, i in truth.gpus()
    ]
    health = get(events_stack, "/gpu/health")
    statuses = [v.status for v in verdicts]
    assert (health["healthyDevices"], health["warningDevices"], health["criticalDevices"]) == (
        statuses.count("HEALTHY"),
        statuses.count("WARNING"),
        statuses.count("CRITICAL"),
    )
    assert health["status"] == "CRITICAL"
    findings = [f.severity for v in verdicts for f in v.findings]
    overview = get(events_stack, "/gpu/overview")
    # The stack loads the alert rules of alerts/: some fire as the stack runs (their `for`
    # elapses). Each of our checks counts once; a firing Prometheus alert adds at most one more
    # (none when it names a device our check already counts at that severity).
    alerts = requests.get(events_stack.prometheus_url + "/api/v1/alerts", timeout=10).json()
    firing = [a for a in alerts["data"]["alerts"] if a["state"] == "firing"]
    severities = [str(a["labels"].get("severity", "warning")).upper() for a in firing]
    assert overview["prometheusAlerts"] == len(firing)
    for severity, field in (("CRITICAL", "criticalAlerts"), ("WARNING", "warningAlerts")):
        ours = findings.count(severity)
        assert ours <= overview[field] <= ours + severities.count(severity), (severity, firing)
    assert overview["devicesReporting"] == sum(
        1 for n, i in truth.gpus() if not truth.lost(n, i, now)
    )


def test_reconciliation_against_the_kubelet_assignments(events_stack: Stack, truth: Truth) -> None:
    held = truth.holdings()
    # Only node 1's first A100 is free to allocate whole: the trainer's GPU.
    other = f"{EVENTS_NODE}-GPU-02"
    assert post(events_stack, f"/gpu/devices/{other}/status?status=MAINTENANCE", method="PUT").ok
    try:
        trainer = post(
            events_stack,
            "/gpu/allocations",
            {
                "namespace": "research",
                "podName": "trainer-0",
                "requiredMemoryGb": 60,
                "useMig": False,
                "preferredModelId": "A100_80GB",
            },
        )
        assert trainer.status_code == 201, trainer.text
    finally:
        assert post(events_stack, f"/gpu/devices/{other}/status?status=ACTIVE", method="PUT").ok
    assert trainer.json()["data"]["allocatedResource"] == f"{EVENTS_NODE}-GPU-00"
    sglang = post(
        events_stack,
        "/gpu/allocations",
        {
            "namespace": "model-serving",
            "podName": "sglang-qwen-0",
            "requiredMemoryGb": 30,
            "useMig": True,
        },
    ).json()["data"]
    ghost = post(
        events_stack,
        "/gpu/allocations",
        {
            "namespace": "research",
            "podName": "not-running",
            "requiredMemoryGb": 10,
            "useMig": False,
            "preferredModelId": "H100_80GB",
        },
    ).json()["data"]

    result = get(events_stack, "/gpu/allocations/reconciliation")
    instance = get(events_stack, f"/gpu/mig/devices/{sglang['deviceId']}")["instances"]
    sglang_uuid = next(
        i["migUuid"] for i in instance if i["instanceId"] == sglang["allocatedResource"]
    )
    sglang_matches = sglang_uuid in held[("model-serving", "sglang-qwen-0")]
    assert result["activeAllocations"] == 3
    expected_matched = {trainer.json()["data"]["allocationId"]} | (
        {sglang["allocationId"]} if sglang_matches else set()
    )
    assert set(result["matched"]) == expected_matched
    states = {m["allocationId"]: m["state"] for m in result["mismatched"]}
    assert states[ghost["allocationId"]] == "POD_HOLDS_NO_GPU"
    if not sglang_matches:
        assert states[sglang["allocationId"]] == "HOLDS_OTHER_RESOURCE"
    allocated = {
        ("research", "trainer-0"),
        ("model-serving", "sglang-qwen-0"),
        ("research", "not-running"),
    }
    assert {(p["namespace"], p["podName"]) for p in result["unallocatedPods"]} == {
        pod for pod in held if pod not in allocated
    }
    for pod in result["unallocatedPods"]:
        uuids = {h["migUuid"] or h["gpuUuid"] for h in pod["holdings"]}
        assert uuids == held[(pod["namespace"], pod["podName"])]


def test_batch_collect_per_node(events_stack: Stack, truth: Truth) -> None:
    response = post(
        events_stack,
        "/batch/metrics/collect",
        {"nodes": [QUIET_NODE, "no-such-node"], "timeRange": "2h"},
    )
    assert response.status_code == 200, response.text
    result = response.json()["data"]
    assert result["sync"]["nodes"] == sorted([QUIET_NODE, "no-such-node"])
    quiet, missing = result["nodes"]
    assert (quiet["nodeName"], quiet["status"]) == (QUIET_NODE, "OK")
    assert (missing["nodeName"], missing["status"]) == ("no-such-node", "NOT_FOUND")
    node = truth.spec.node(QUIET_NODE)
    assert quiet["gpuMetrics"]["devicesRegistered"] == len(node.gpus)
    assert set(quiet["gpuMetrics"]["deviceStatistics"]) == {
        truth.device_id(QUIET_NODE, g.index) for g in node.gpus
    }
    assert quiet["nodeMetrics"]["cpuCoresAllocatable"] > 0
    assert 0 < quiet["nodeMetrics"]["memoryUsagePercent"] < 100
