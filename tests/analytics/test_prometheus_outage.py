"""Prometheus down, hung, and back: metric endpoints answer 503 METRICS_UNAVAILABLE within the
configured timeout, endpoints that mix the inventory with metrics answer 200 from the database
(``metricsAvailable: false`` with the reason), inventory, MIG and allocation endpoints keep
working, and the service recovers without a restart. A real exporter, a real Prometheus of our own (stopped and
frozen here, so not the shared stack) and the service under gunicorn."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from devstack.prometheus import PrometheusServer
from tests.analytics.conftest import (
    ADMIN,
    LiveServerFactory,
    node_prometheus,
    wait_for_series,
)
from tests.conftest import ExporterFactory

METRIC_PATHS = (
    "/gpu/metrics/usage-statistics?hours=1",
    "/gpu/metrics/usage-statistics?hours=24",
    "/gpu/metrics/overheating-alerts?hours=24",
    "/gpu/health",
    "/gpu/devices/overheating",
    "/gpu/devices/sim-node-1-GPU-01/health",
)
# Inventory with metrics: 200 from the database, metricsAvailable false while Prometheus is away.
PARTIAL_PATHS = (
    "/gpu/overview",
    "/gpu/devices/sim-node-1-GPU-01",
    "/gpu/mig/statistics",
    "/gpu/allocations/reconciliation",
)
WORKING_PATHS = (
    "/gpu/devices",
    "/gpu/devices/statistics",
    "/gpu/mig/devices/sim-node-1-GPU-00",
    "/gpu/allocations",
)
TIMEOUT_S = 2


@pytest.fixture
def prometheus(tmp_path: Path, exporter_process: ExporterFactory) -> Iterator[PrometheusServer]:
    with node_prometheus(tmp_path / "prometheus", exporter_process) as server:
        yield server


def timed_get(api: str, path: str) -> tuple[requests.Response, float]:
    started = time.monotonic()
    response = requests.get(api + path, timeout=30)
    return response, time.monotonic() - started


def assert_unavailable(api: str, paths: tuple[str, ...] = METRIC_PATHS) -> None:
    for path in paths:
        response, seconds = timed_get(api, path)
        assert response.status_code == 503, (path, response.text)
        body = response.json()
        assert body["status"] == "error"
        assert body["error"]["code"] == "METRICS_UNAVAILABLE"
        assert seconds < 3, (path, seconds)
    response = requests.post(api + "/gpu/metrics/collect", headers=ADMIN, timeout=30)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "METRICS_UNAVAILABLE"


def assert_partial(api: str, reason: str, paths: tuple[str, ...] = PARTIAL_PATHS) -> None:
    for path in paths:
        response, seconds = timed_get(api, path)
        assert response.status_code == 200, (path, response.text)
        data = response.json()["data"]
        assert data["metricsAvailable"] is False, (path, data)
        assert data["metricsUnavailableReason"] == reason, (path, data)
        assert seconds < 3, (path, seconds)
    overview = requests.get(api + "/gpu/overview", timeout=30).json()["data"]
    assert overview["totalGpuDevices"] == 3 and overview["overallTemperature"] is None


def assert_inventory_works(api: str) -> None:
    for path in WORKING_PATHS:
        response, seconds = timed_get(api, path)
        assert response.status_code == 200, (path, response.text)
        assert seconds < 3, (path, seconds)
    devices = requests.get(api + "/gpu/devices", timeout=30).json()["data"]
    assert all(d["currentTempC"] is None for d in devices)
    status = requests.get(api + "/gpu/metrics/collection-status", timeout=30).json()["data"]
    assert status["prometheus"]["reachable"] is False
    # The failed sync of assert_unavailable, with its reason.
    assert status["lastSync"]["status"] == "FAILED"
    assert "Prometheus" in status["lastSync"]["error"]


def assert_answers(api: str) -> None:
    for path in METRIC_PATHS:
        response = requests.get(api + path, timeout=30)
        assert response.status_code == 200, (path, response.text)
    # After a failure the mixed endpoints leave Prometheus alone for 10 s (each worker's
    # MetricsGate, so an outage does not slow them down); then the metrics come back by
    # themselves, without a restart.
    deadline = time.monotonic() + 20
    while True:
        parts = [requests.get(api + path, timeout=30).json()["data"] for path in PARTIAL_PATHS]
        devices = requests.get(api + "/gpu/devices", timeout=30).json()["data"]
        if all(p["metricsAvailable"] for p in parts) and all(
            d["currentTempC"] is not None and d["metricsAvailable"] for d in devices
        ):
            return
        assert time.monotonic() < deadline, (parts, devices)
        time.sleep(0.5)


def test_outage_hang_and_recovery(
    prometheus: PrometheusServer, live_server: LiveServerFactory
) -> None:
    server = live_server(
        workers=2,
        prometheus_url=prometheus.url,
        prometheus_timeout_seconds=str(TIMEOUT_S),
        sync_interval_seconds="0",
    )
    api = server.api
    assert requests.post(api + "/gpu/metrics/collect", headers=ADMIN, timeout=30).ok
    assert_answers(api)

    # Down: connection refused.
    prometheus.stop()
    assert_unavailable(api)
    assert_partial(api, "Prometheus is unreachable.")
    assert_inventory_works(api)

    # Back on the same address: answers again, no restart of the service.
    prometheus.start()
    wait_for_series(prometheus.url, "gpu_info")
    assert_answers(api)

    # Hung: the process is frozen, connections are accepted but never answered.
    assert prometheus.process is not None
    os.kill(prometheus.process.pid, signal.SIGSTOP)
    try:
        # Each of these waits out the whole timeout: a few make the point.
        assert_unavailable(api, ("/gpu/metrics/usage-statistics?hours=24", "/gpu/health"))
        assert_partial(
            api,
            f"Prometheus did not answer within {TIMEOUT_S} s.",
            ("/gpu/overview", "/gpu/mig/statistics"),
        )
        assert_inventory_works(api)
    finally:
        os.kill(prometheus.process.pid, signal.SIGCONT)
    assert_answers(api)
