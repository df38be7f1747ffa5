"""Partial answers: endpoints that mix the inventory with metrics answer 200 from the database when
Prometheus is away, their metric fields null and ``metricsAvailable: false`` with the reason;
with Prometheus up ``metricsAvailable: true`` and real numbers; endpoints that are metrics only
keep 503 METRICS_UNAVAILABLE. A real exporter and a real Prometheus of the test's own (stopped
here), a plain TCP listener that never answers (a hung Prometheus), and the app on real SQLite.
The truth (device counts, models, MIG layouts) is read from the fleet YAML."""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask.testing import FlaskClient
from openapi_schema_validator import OAS30Validator

from devstack.prometheus import PrometheusServer
from k8s_gpu_client.models.allocations import Reconciliation
from k8s_gpu_client.models.devices import Device
from k8s_gpu_client.models.metrics import GpuOverview
from k8s_gpu_client.models.mig import MigStatistics
from tests.analytics.conftest import (
    ADMIN,
    API,
    AppFactory,
    assert_error,
    node_prometheus,
    register,
)
from tests.conftest import FLEETS, ExporterFactory, free_port

NODE = "sim-node-1"
PARTIAL_PATHS = (
    "/gpu/overview",
    f"/gpu/devices/{NODE}-GPU-01",
    "/gpu/mig/statistics",
    "/gpu/allocations/reconciliation",
)
METRICS_ONLY_PATHS = (
    "/gpu/metrics/usage-statistics?hours=1",
    "/gpu/metrics/overheating-alerts?hours=1",
    "/gpu/devices/overheating",
    f"/gpu/devices/{NODE}-GPU-01/health",
    "/gpu/health",
    "/gpu/cost/analysis?days=1",
    "/resources/nodes",
)
OVERVIEW_METRICS = (
    "devicesReporting",
    "overallGpuUtilization",
    "overallMemoryUtilization",
    "overallTemperature",
    "totalAlerts",
    "criticalAlerts",
    "warningAlerts",
    "prometheusAlerts",
)
OVERVIEW_INVENTORY = (
    "totalNodes",
    "totalGpuDevices",
    "totalMigInstances",
    "activeAllocations",
    "devicesByModel",
    "totalHourlyCost",
    "totalMonthlyCost",
)
MIG_METRICS = ("instancesReporting", "memoryUsedGb", "memoryTotalGb", "memoryUtilization")
DEVICE_METRICS = ("currentTempC", "currentPowerW", "currentUtilization")
RECONCILIATION_OBSERVED = (
    "matchedAllocations",
    "mismatchedAllocations",
    "podsHoldingGpus",
    "unallocatedPodCount",
    "matched",
    "mismatched",
    "unallocatedPods",
)


def fleet_node() -> dict[str, Any]:
    spec = yaml.safe_load((FLEETS / "test-small.yaml").read_text())
    node: dict[str, Any] = next(n for n in spec["nodes"] if n["name"] == NODE)
    return node


@pytest.fixture
def prometheus(tmp_path: Path, exporter_process: ExporterFactory) -> Iterator[PrometheusServer]:
    with node_prometheus(tmp_path / "prometheus", exporter_process, NODE) as server:
        yield server


@pytest.fixture
def hung_prometheus() -> Iterator[str]:
    """A TCP port that accepts connections (the kernel's backlog) and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", free_port()))
        listener.listen(64)
        host, port = listener.getsockname()
        yield f"http://{host}:{port}"


def get(client: FlaskClient, path: str) -> dict[str, Any]:
    response = client.get(API + path)
    assert response.status_code == 200, (path, response.get_json())
    data: dict[str, Any] = response.get_json()["data"]
    return data


def assert_partial(data: dict[str, Any], reason: str, metric_fields: tuple[str, ...]) -> None:
    assert data["metricsAvailable"] is False, data
    assert data["metricsUnavailableReason"] == reason, data
    assert {k: data[k] for k in metric_fields} == dict.fromkeys(metric_fields), data


def assert_documented(client: FlaskClient, schema: str, data: dict[str, Any]) -> None:
    """``data`` conforms to the OpenAPI document's ``schema``: null only where it says nullable."""
    document = client.get("/k8s-monitor/api-docs").get_json()
    root = {"$ref": f"#/components/schemas/{schema}", "components": document["components"]}
    OAS30Validator(root).validate(data)


def inventory_part(data: dict[str, Any], metric_fields: tuple[str, ...]) -> dict[str, Any]:
    flags = ("metricsAvailable", "metricsUnavailableReason")
    return {k: v for k, v in data.items() if k not in (*metric_fields, *flags)}


def assert_complete(data: dict[str, Any]) -> None:
    assert data["metricsAvailable"] is True, data
    assert data["metricsUnavailableReason"] is None, data


def test_mixed_endpoints_answer_from_the_database_while_prometheus_is_stopped(
    prometheus: PrometheusServer, make_app: AppFactory
) -> None:
    app = make_app(prometheus_url=prometheus.url, prometheus_timeout_seconds=2.0)
    client = app.test_client()
    assert client.post(API + "/gpu/metrics/collect", headers=ADMIN).status_code == 200
    node = fleet_node()
    models = Counter(g["model"] for g in node["gpus"])
    mig_instances = sum(len(g.get("mig", [])) for g in node["gpus"])

    # Up: every part, with real numbers.
    overview = get(client, "/gpu/overview")
    assert_complete(overview)
    assert overview["totalNodes"] == 1
    assert overview["totalGpuDevices"] == len(node["gpus"])
    assert overview["devicesByModel"] == dict(sorted(models.items()))
    assert overview["totalMigInstances"] == mig_instances
    assert overview["devicesReporting"] == len(node["gpus"])
    assert overview["overallTemperature"] is not None and overview["overallTemperature"] > 0
    assert overview["totalAlerts"] == overview["criticalAlerts"] + overview["warningAlerts"]

    device = get(client, f"/gpu/devices/{NODE}-GPU-01")
    assert_complete(device)
    assert device["modelId"] == node["gpus"][1]["model"]
    assert device["currentTempC"] is not None and device["currentPowerW"] is not None
    devices = get(client, "/gpu/devices")
    assert len(devices) == len(node["gpus"])
    assert all(d["metricsAvailable"] is True for d in devices)

    mig = get(client, "/gpu/mig/statistics")
    assert_complete(mig)
    assert_documented(client, "MigStatistics", mig)
    assert mig["totalInstances"] == mig_instances
    assert mig["instancesReporting"] == mig_instances
    # 1g.10gb + 2g.20gb + 4g.40gb of an A100 80GB: about 70 GB (profiles round down a little).
    assert 60 < mig["memoryTotalGb"] <= 80
    assert 0 < mig["memoryUsedGb"] <= mig["memoryTotalGb"]
    assert mig["memoryUtilization"] == pytest.approx(
        100 * mig["memoryUsedGb"] / mig["memoryTotalGb"], abs=0.1
    )

    reconciliation = get(client, "/gpu/allocations/reconciliation")
    assert_complete(reconciliation)
    # Every pod of the fleet holding a GPU or MIG device, none of them allocated.
    assert reconciliation["podsHoldingGpus"] == reconciliation["unallocatedPodCount"] > 0

    # Down: connection refused. The inventory parts are the same as before.
    prometheus.stop()
    reason = "Prometheus is unreachable."
    partial = get(client, "/gpu/overview")
    assert_partial(partial, reason, OVERVIEW_METRICS)
    assert {k: partial[k] for k in OVERVIEW_INVENTORY} == {
        k: overview[k] for k in OVERVIEW_INVENTORY
    }
    assert prometheus.url.split("//")[1] not in str(partial)
    assert_documented(client, "GpuOverview", partial)

    partial_device = get(client, f"/gpu/devices/{NODE}-GPU-01")
    assert_partial(partial_device, reason, DEVICE_METRICS)
    assert inventory_part(partial_device, DEVICE_METRICS) == inventory_part(device, DEVICE_METRICS)
    assert_documented(client, "Device", partial_device)
    # The list too (within the live fields' back-off, with the failure's reason).
    for listed in get(client, "/gpu/devices"):
        assert_partial(listed, reason, DEVICE_METRICS)

    partial_mig = get(client, "/gpu/mig/statistics")
    assert_partial(partial_mig, reason, MIG_METRICS)
    assert inventory_part(partial_mig, MIG_METRICS) == inventory_part(mig, MIG_METRICS)
    assert_documented(client, "MigStatistics", partial_mig)

    partial_reconciliation = get(client, "/gpu/allocations/reconciliation")
    assert_partial(partial_reconciliation, reason, RECONCILIATION_OBSERVED)
    assert partial_reconciliation["activeAllocations"] == reconciliation["activeAllocations"]
    assert_documented(client, "Reconciliation", partial_reconciliation)

    # Metrics only: still 503.
    for path in METRICS_ONLY_PATHS:
        assert_error(client.get(API + path), 503, "METRICS_UNAVAILABLE")


def test_a_hung_prometheus_gives_partial_answers_within_its_timeout(
    hung_prometheus: str, make_app: AppFactory
) -> None:
    app = make_app(prometheus_url=hung_prometheus, prometheus_timeout_seconds=1.0)
    client = app.test_client()
    registered = [register(client, "gpu-node-a", i, "A100_80GB") for i in range(2)]
    register(client, "gpu-node-b", 0, "H100_80GB")
    reason = "Prometheus did not answer within 1 s."
    # The registration answered without live fields, and says why.
    assert_partial(registered[0], reason, DEVICE_METRICS)

    started = time.monotonic()
    overview = get(client, "/gpu/overview")
    assert time.monotonic() - started < 3
    assert_partial(overview, reason, OVERVIEW_METRICS)
    assert overview["totalNodes"] == 2
    assert overview["totalGpuDevices"] == 3
    assert overview["devicesByModel"] == {"A100_80GB": 2, "H100_80GB": 1}
    assert overview["totalMigInstances"] == 0
    assert overview["totalHourlyCost"] > 0

    assert_partial(get(client, "/gpu/devices/gpu-node-a-GPU-01"), reason, DEVICE_METRICS)
    mig = get(client, "/gpu/mig/statistics")
    assert_partial(mig, reason, MIG_METRICS)
    assert mig["totalInstances"] == 0
    reconciliation = get(client, "/gpu/allocations/reconciliation")
    assert_partial(reconciliation, reason, RECONCILIATION_OBSERVED)
    assert reconciliation["activeAllocations"] == 0

    # The SDK's models carry the flags (nothing left over in extra).
    for model, data in (
        (GpuOverview, overview),
        (Device, registered[0]),
        (MigStatistics, mig),
        (Reconciliation, reconciliation),
    ):
        parsed = model.from_api(data)
        assert parsed.metrics_available is False and parsed.extra == {}, model
        assert parsed.metrics_unavailable_reason == reason

    started = time.monotonic()
    assert_error(
        client.get(API + "/gpu/metrics/usage-statistics?hours=1"), 503, "METRICS_UNAVAILABLE"
    )
    assert time.monotonic() - started < 3
    # An unknown device is still 404, not a partial answer.
    assert_error(client.get(API + "/gpu/devices/gpu-node-z-GPU-00"), 404, "RESOURCE_NOT_FOUND")


class CountingHungPrometheus:
    """A port that accepts connections, counts them and never answers."""

    def __init__(self) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", free_port()))
        self.listener.listen(64)
        self.listener.settimeout(0.2)
        host, port = self.listener.getsockname()
        self.url = f"http://{host}:{port}"
        self.connections: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self.listener.accept()
            except TimeoutError:
                continue
            self.connections.append(connection)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        for connection in self.connections:
            connection.close()
        self.listener.close()


def test_after_a_failure_mixed_endpoints_leave_prometheus_alone_for_a_while(
    make_app: AppFactory,
) -> None:
    """One failure, and for the gate's back-off every mixed endpoint answers from the database
    without asking (a hung Prometheus would cost each of them its timeout); metrics-only ones
    still ask."""
    hung = CountingHungPrometheus()
    try:
        client = make_app(prometheus_url=hung.url, prometheus_timeout_seconds=0.5).test_client()
        reason = "Prometheus did not answer within 0.5 s."
        registered = register(client, "gpu-node-a", 0, "A100_80GB")
        assert_partial(registered, reason, DEVICE_METRICS)
        asked = len(hung.connections)
        assert asked >= 1
        assert_partial(get(client, "/gpu/overview"), reason, OVERVIEW_METRICS)
        assert_partial(get(client, "/gpu/devices/gpu-node-a-GPU-00"), reason, DEVICE_METRICS)
        assert_partial(get(client, "/gpu/mig/statistics"), reason, MIG_METRICS)
        assert_partial(
            get(client, "/gpu/allocations/reconciliation"), reason, RECONCILIATION_OBSERVED
        )
        assert len(hung.connections) == asked
        assert_error(
            client.get(API + "/gpu/metrics/usage-statistics?hours=1"), 503, "METRICS_UNAVAILABLE"
        )
        assert len(hung.connections) > asked
    finally:
        hung.close()
