"""/resources health, alerts and metric-source status: the checks on crafted rows, then a real
Prometheus scraping a fleet with failed and stuck pods, a target that goes away, and Prometheus
itself stopped and started again."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from flask.testing import FlaskClient

from analytics import create_app
from analytics.prom import Sample
from analytics.services.cluster.health import (
    assess,
    prometheus_alerts,
    public_url,
    scrape_targets,
)
from analytics.settings import Settings
from devstack.prometheus import PrometheusServer, ScrapeJob, free_port
from tests.analytics.conftest import assert_error, start_cluster_server

RESOURCES = "/k8s-monitor/api/v1/resources"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def row(part: str, value: float = 1.0, **labels: str) -> Sample:
    return Sample({"part": part, **labels}, value, NOW.timestamp())


def rows(*samples: Sample) -> dict[str, list[Sample]]:
    found: dict[str, list[Sample]] = {}
    for s in samples:
        found.setdefault(s.labels["part"], []).append(s)
    return found


# -- the checks, on crafted rows ---------------------------------------------------------------


def test_a_quiet_cluster_is_healthy() -> None:
    health = assess(
        rows(
            row("condition", node="n1", condition="Ready", status="true"),
            row("condition", node="n1", condition="DiskPressure", status="false"),
            row("pods", 4.0),
            row("running", 4.0),
            row("target", job="gpu-exporter", instance="n1"),
            row("stage_age", 3.0, node="n1", stage="nvml"),
        ),
        NOW,
    )
    assert health.status == "HEALTHY"
    assert health.issues == []
    assert (health.nodes.total, health.nodes.ready, health.pods.total) == (1, 1, 4)
    assert (health.exporters.targets, health.exporters.targets_up) == (1, 1)


def test_every_problem_becomes_an_issue_most_severe_first() -> None:
    health = assess(
        rows(
            row("condition", node="n1", condition="Ready", status="true"),
            row("condition", node="n2", condition="Ready", status="unknown"),
            row("condition", node="n1", condition="MemoryPressure", status="true"),
            row("pods", 9.0),
            row("running", 5.0),
            row("failed", namespace="batch", pod="job-1"),
            row("pending", 1800.0, namespace="web", pod="stuck-0"),
            row("restarting", 4.0, namespace="web", pod="flappy-0"),
            row("crashloop", namespace="web", pod="flappy-0"),
            row("crashloop", namespace="web", pod="looping-0"),
            row("target", 0.0, job="gpu-exporter", instance="n2"),
            row("target", 1.0, job="gpu-exporter", instance="n1"),
            row("stage_age", 400.0, node="n1", stage="kubernetes"),
            row("stage_age", 2.0, node="n1", stage="nvml"),
            row("missing_gpus", 1.0, node="n1"),
        ),
        NOW,
    )
    assert health.status == "CRITICAL"
    kinds = [(i.severity, i.kind, i.subject) for i in health.issues]
    assert kinds == [
        ("critical", "GpuMissing", "node/n1"),
        ("critical", "NodeNotReady", "node/n2"),
        ("critical", "TargetDown", "target/gpu-exporter/n2"),
        ("warning", "ExporterStageStale", "exporter/n1/kubernetes"),
        ("warning", "NodeMemoryPressure", "node/n1"),
        ("warning", "PodCrashLooping", "pod/web/flappy-0"),
        ("warning", "PodCrashLooping", "pod/web/looping-0"),
        ("warning", "PodFailed", "pod/batch/job-1"),
        ("warning", "PodPendingTooLong", "pod/web/stuck-0"),
    ]
    assert (health.nodes.ready, health.nodes.not_ready) == (1, 1)
    assert (health.pods.failed, health.pods.pending_too_long, health.pods.crash_looping) == (
        1,
        1,
        2,
    )
    assert (health.exporters.targets_down, health.exporters.stale_stages) == (1, 1)
    assert health.exporters.missing_gpus == 1
    flappy = next(i for i in health.issues if i.subject == "pod/web/flappy-0")
    assert flappy.value == 4.0 and "restarted 4 times" in flappy.summary


def test_warnings_alone_make_a_warning() -> None:
    health = assess(rows(row("failed", namespace="a", pod="b")), NOW)
    assert health.status == "WARNING"


def test_prometheus_alerts_keep_firing_ones_with_normalised_severity() -> None:
    raw: list[dict[str, Any]] = [
        {
            "labels": {"alertname": "GpuOverheating", "severity": "critical", "uuid": "GPU-1"},
            "annotations": {"summary": "GPU too hot", "description": "92 °C"},
            "state": "firing",
            "activeAt": "2026-03-01T11:00:00.123456789Z",
            "value": "9.2e+01",
        },
        {"labels": {"alertname": "Pending"}, "state": "pending", "activeAt": "", "value": "1"},
        {"labels": {"alertname": "Watchdog", "severity": "none"}, "state": "firing"},
        {"labels": {"alertname": "Odd", "severity": "page"}, "state": "firing", "value": "x"},
    ]
    alerts = prometheus_alerts(raw)
    assert [(a.name, a.severity, a.source) for a in alerts] == [
        ("GpuOverheating", "critical", "prometheus"),
        ("Watchdog", "info", "prometheus"),
        ("Odd", "warning", "prometheus"),
    ]
    hot = alerts[0]
    assert (hot.summary, hot.description, hot.value) == ("GPU too hot", "92 °C", 92.0)
    assert hot.starts_at == datetime(2026, 3, 1, 11, 0, 0, 123456, tzinfo=UTC)
    assert alerts[1].summary == "Watchdog" and alerts[2].value is None


def test_scrape_targets_and_public_url() -> None:
    targets = scrape_targets(
        [
            {
                "labels": {"job": "kube-state-metrics", "instance": "ksm:8080"},
                "health": "down",
                "lastScrape": "2026-03-01T11:59:58Z",
                "lastScrapeDuration": 0.0123,
                "lastError": "connection refused",
            }
        ]
    )
    assert targets[0].last_scrape_duration_ms == 12.3
    assert targets[0].last_error == "connection refused"
    assert public_url("https://user:secret@prom.example:9090/prometheus") == (
        "https://prom.example:9090/prometheus"
    )


# -- a real Prometheus: failed and stuck pods, a target going away, Prometheus down ------------

FLEET = """\
seed: 11
epoch: 2026-01-01T00:00:00Z
nodes:
  - name: node-a
    cpu_cores: 16
    memory_gib: 64
    gpus:
      - model: L4
    pods:
      - name: web-0
        namespace: shop
        image: nginx:1.27
        workload: notebook
        containers: [{name: web}]
      - name: stuck-0
        namespace: shop
        image: nginx:1.27
        phase: Pending
        containers: [{name: web}]
      - name: import-job-abcde
        namespace: batch
        image: busybox:1.36
        phase: Failed
        workload: batch
        containers: [{name: main}]
"""


@dataclass
class SmallStack:
    prometheus: PrometheusServer
    cluster: subprocess.Popen[bytes]
    client: FlaskClient

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(RESOURCES + path, query_string=params)


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmallStack]:
    workdir = tmp_path_factory.mktemp("resources-health")
    fleet = workdir / "fleet.yaml"
    fleet.write_text(FLEET)
    port = free_port()
    cluster = start_cluster_server(fleet, port)
    target = (f"127.0.0.1:{port}",)
    prometheus = PrometheusServer(
        workdir / "prometheus",
        [
            ScrapeJob("kube-state-metrics", target),
            ScrapeJob("cadvisor", target, metrics_path="/metrics/cadvisor"),
        ],
        scrape_interval="1s",
        evaluation_interval="1s",
    )
    prometheus.start()
    app = create_app(
        Settings(
            data_dir=workdir / "data",
            prometheus_url=prometheus.url,
            prometheus_timeout_seconds=2.0,
            rate_limit_storage="memory",
        )
    )
    small = SmallStack(prometheus, cluster, app.test_client())
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        body = small.get("/health").get_json()
        ready = body["status"] == "success" and body["data"]["pods"]["total"] == 3
        if ready and body["data"]["exporters"]["targetsUp"] == 2:
            break
        time.sleep(0.2)
    yield small
    prometheus.stop()
    for process in (small.cluster, cluster):
        if process.poll() is None:
            process.terminate()
            process.wait(10)
        if process.stdout:
            process.stdout.close()


def test_health_finds_the_failed_and_the_stuck_pod(small: SmallStack) -> None:
    health = small.get("/health").get_json()["data"]
    assert health["status"] == "WARNING"
    assert health["nodes"] == {"total": 1, "ready": 1, "notReady": 0}
    assert health["pods"] == {
        "total": 3,
        "running": 1,
        "failed": 1,
        "pendingTooLong": 1,
        "crashLooping": 0,
    }
    assert health["exporters"]["targets"] == 2 and health["exporters"]["targetsDown"] == 0
    issues = {(i["kind"], i["subject"]) for i in health["issues"]}
    assert issues == {
        ("PodFailed", "pod/batch/import-job-abcde"),
        ("PodPendingTooLong", "pod/shop/stuck-0"),
    }
    stuck = next(i for i in health["issues"] if i["kind"] == "PodPendingTooLong")
    assert stuck["labels"] == {"namespace": "shop", "pod": "stuck-0"}
    assert stuck["value"] > 15 * 60


def test_alerts_carry_our_checks_and_filter(small: SmallStack) -> None:
    alerts = small.get("/alerts").get_json()["data"]
    assert {(a["name"], a["source"], a["severity"], a["state"]) for a in alerts} == {
        ("PodFailed", "analytics", "warning", "firing"),
        ("PodPendingTooLong", "analytics", "warning", "firing"),
    }
    assert small.get("/alerts", severity="critical").get_json()["data"] == []
    assert small.get("/alerts", source="prometheus").get_json()["data"] == []
    assert_error(small.get("/alerts", severity="fatal"), 400, "INVALID_PARAMETER")
    assert_error(small.get("/alerts", source="grafana"), 400, "INVALID_PARAMETER")


def test_metrics_status_reports_sources(small: SmallStack) -> None:
    status = small.get("/metrics/status").get_json()["data"]
    assert status["prometheus"]["reachable"] is True
    assert status["prometheus"]["url"] == small.prometheus.url
    assert {(j["job"], j["targets"], j["up"]) for j in status["jobs"]} == {
        ("cadvisor", 1, 1),
        ("kube-state-metrics", 1, 1),
    }
    sources = {s["name"]: s for s in status["sources"]}
    assert sources["kube-state-metrics"]["present"] and sources["kube-state-metrics"]["fresh"]
    assert sources["kube-state-metrics"]["seriesCount"] == 3
    assert sources["cadvisor"]["present"] and sources["cadvisor"]["fresh"]
    assert sources["cadvisor"]["newestSampleAgeSeconds"] < 10
    # No GPU exporter in this cluster: the status says so.
    assert not sources["gpu-exporter"]["present"]
    assert status["status"] == "DEGRADED"


def test_a_target_that_goes_away_is_critical(small: SmallStack) -> None:
    small.cluster.terminate()
    small.cluster.wait(10)
    deadline = time.monotonic() + 20
    health: dict[str, Any] = {}
    while time.monotonic() < deadline:
        health = small.get("/health").get_json()["data"]
        if health["exporters"]["targetsDown"] == 2:
            break
        time.sleep(0.2)
    assert health["status"] == "CRITICAL"
    down = {i["subject"] for i in health["issues"] if i["kind"] == "TargetDown"}
    assert len(down) == 2 and all(s.startswith("target/") for s in down)
    status = small.get("/metrics/status").get_json()["data"]
    assert status["status"] == "DEGRADED"
    assert {t["health"] for t in status["targets"]} == {"down"}


@pytest.mark.parametrize(
    "path",
    [
        "/pods",
        "/pods/all",
        "/pods/shop/web-0",
        "/nodes",
        "/nodes/node-a",
        "/usage",
        "/pods/top",
        "/health",
        "/statistics",
        "/namespaces",
        "/alerts",
    ],
)
def test_prometheus_down_is_503_quickly(small: SmallStack, path: str) -> None:
    small.prometheus.stop()
    started = time.monotonic()
    response = small.get(path)
    assert time.monotonic() - started < 3
    error = assert_error(response, 503, "METRICS_UNAVAILABLE")
    assert error["message"]


def test_metrics_status_answers_while_prometheus_is_down_and_recovers(small: SmallStack) -> None:
    small.prometheus.stop()
    status = small.get("/metrics/status").get_json()["data"]
    assert status["status"] == "DOWN"
    assert status["prometheus"]["reachable"] is False
    assert all(not s["present"] for s in status["sources"])
    small.prometheus.start()
    assert small.get("/pods/all").status_code == 200
    assert small.get("/metrics/status").get_json()["data"]["prometheus"]["reachable"] is True
