"""The overview's fleet aggregates come from the recording rules when Prometheus has them and
from the raw series when it does not (an operator's Prometheus without the project's rules),
with the same numbers either way. A real exporter, a real Prometheus of our own (its rule files
changed and reloaded here) and the service under gunicorn."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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

ROOT = Path(__file__).resolve().parents[2]
RECORDING_RULES = ROOT / "alerts" / "gpu-recording.yml"


@pytest.fixture
def prometheus(tmp_path: Path, exporter_process: ExporterFactory) -> Iterator[PrometheusServer]:
    with node_prometheus(tmp_path / "prometheus", exporter_process) as server:
        yield server


def _instant(url: str, query: str) -> list[dict[str, Any]]:
    body = requests.get(f"{url}/api/v1/query", params={"query": query}, timeout=5).json()
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def _reload(server: PrometheusServer, rule_files: list[Path]) -> None:
    server.rule_files = tuple(rule_files)
    server.write_config()
    assert requests.post(f"{server.url}/-/reload", timeout=10).ok


def _raw_fleet(url: str) -> dict[str, float]:
    """The fleet aggregates computed here from each device's raw series."""

    def per_device(metric: str) -> list[float]:
        values: dict[str, float] = {}
        for item in _instant(url, metric):
            values[item["metric"]["uuid"]] = float(item["value"][1])
        return list(values.values())

    utilization = per_device("gpu_utilization_ratio")
    temperature = per_device("gpu_temperature_celsius")
    used, total = per_device("gpu_memory_used_bytes"), per_device("gpu_memory_total_bytes")
    return {
        "devicesReporting": sum(per_device("gpu_up")),
        "overallGpuUtilization": 100 * sum(utilization) / len(utilization),
        "overallTemperature": sum(temperature) / len(temperature),
        "overallMemoryUtilization": 100 * sum(used) / sum(total),
    }


def _matches(overview: dict[str, Any], expected: dict[str, float]) -> bool:
    return all(
        overview[field] is not None and math.isclose(overview[field], value, rel_tol=0.01)
        for field, value in expected.items()
    )


def _overview_like_raw(api: str, prometheus_url: str) -> tuple[dict[str, Any], int]:
    """The overview and its number of Prometheus queries, once it agrees with the raw series
    (a reading can change between the service's query and ours: try a few times)."""
    for _ in range(20):
        response = requests.get(api + "/gpu/overview", timeout=30)
        assert response.status_code == 200, response.text
        overview = response.json()["data"]
        if _matches(overview, _raw_fleet(prometheus_url)):
            return overview, int(response.headers["X-Prometheus-Queries"])
        time.sleep(0.5)
    raise AssertionError((overview, _raw_fleet(prometheus_url)))


def test_overview_reads_rules_when_loaded_and_raw_series_otherwise(
    prometheus: PrometheusServer, live_server: LiveServerFactory
) -> None:
    api = live_server(workers=1, prometheus_url=prometheus.url, sync_interval_seconds="0").api
    assert requests.post(api + "/gpu/metrics/collect", headers=ADMIN, timeout=30).ok
    devices = len(requests.get(api + "/gpu/devices", timeout=30).json()["data"])

    # No recording rules: the recorded read finds nothing and the raw series are aggregated.
    overview, queries_raw = _overview_like_raw(api, prometheus.url)
    assert overview["devicesReporting"] == devices

    # The rules loaded: the same numbers from the recorded aggregates, one query fewer.
    _reload(prometheus, [RECORDING_RULES])
    wait_for_series(prometheus.url, "cluster:gpu_up:sum")
    overview, queries_recorded = _overview_like_raw(api, prometheus.url)
    assert overview["devicesReporting"] == devices
    assert queries_recorded == queries_raw - 1

    # The rules removed again: their series go stale and the raw series are read again.
    _reload(prometheus, [])
    wait_for_series(prometheus.url, "cluster:gpu_up:sum", present=False)
    overview, queries = _overview_like_raw(api, prometheus.url)
    assert overview["devicesReporting"] == devices
    assert queries == queries_raw
