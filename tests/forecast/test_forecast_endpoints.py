"""/gpu/forecast and /resources/forecast against the shared stack (test-small, 7 days of history,
real Prometheus with the hourly recording rules, gunicorn): shape, ordered intervals, capacities
equal to the fleet's, ``hours`` validation; and 503 METRICS_UNAVAILABLE without Prometheus."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from analytics import create_app
from analytics.settings import Settings
from devstack.prometheus import free_port
from devstack.stack import Stack
from simulator.fleet import FleetSpec, load_fleet
from tests.stack_fixtures import history_stack

__all__ = ["history_stack"]

METHODS = {"holt_winters", "seasonal_naive", "naive"}
PATHS = ("/gpu/forecast", "/resources/forecast")


def get(stack: Stack, path: str, **params: Any) -> requests.Response:
    return requests.get(stack.analytics_url + path, params=params, timeout=60)


def data(response: requests.Response) -> Any:
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "success"
    return body["data"]


def when(text: str) -> datetime:
    assert text.endswith("Z")
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def check_series(series: dict[str, Any], hours: int, unit: str) -> None:
    assert series["unit"] == unit
    assert series["method"] in METHODS
    assert series["historyPoints"] >= 24 * 6
    last = when(series["lastObservedAt"])
    assert last.minute == 0 and last.second == 0
    assert len(series["points"]) == hours
    for i, point in enumerate(series["points"]):
        assert when(point["timestamp"]) == last + timedelta(hours=i + 1)
        assert point["lower95"] <= point["lower80"] <= point["value"]
        assert point["value"] <= point["upper80"] <= point["upper95"]
        assert point["lower95"] >= 0
    backtest = series["backtest"]
    if series["method"] == "holt_winters":
        assert series["reason"] == "beat_seasonal_naive"
        assert backtest["mase"] < backtest["seasonalNaiveMase"]
        assert backtest["folds"] >= 2


@pytest.fixture(scope="module")
def fleet(history_stack: Stack) -> FleetSpec:
    return load_fleet(history_stack.fleet_path)


@pytest.fixture(scope="module")
def gpu_forecast(history_stack: Stack) -> dict[str, Any]:
    return dict(data(get(history_stack, "/gpu/forecast", hours=12)))


def held_gpus(fleet: FleetSpec, t: float) -> dict[str, set[tuple[str, int]]]:
    """GPUs with at least one active container on them (whole, replica or MIG) at ``t`` (the
    pods present then: scheduled ones only inside their windows), by model."""
    held: dict[str, set[tuple[str, int]]] = {}
    for node in fleet.nodes:
        for pod in node.pods_at(t):
            if not pod.active:
                continue
            for container in pod.containers:
                for device in container.devices:
                    model = node.gpus[device.gpu_index].model.model_id
                    held.setdefault(model, set()).add((node.name, device.gpu_index))
    return held


def test_gpu_forecast_shape_and_intervals(gpu_forecast: dict[str, Any]) -> None:
    assert gpu_forecast["hours"] == 12
    assert gpu_forecast["stepSeconds"] == 3600
    check_series(gpu_forecast["utilization"], 12, "percent")
    assert all(p["upper95"] <= 100 for p in gpu_forecast["utilization"]["points"])
    check_series(gpu_forecast["allocatedGpus"], 12, "GPUs")
    check_series(gpu_forecast["memoryUsedGb"], 12, "GB")
    for model in gpu_forecast["byModel"]:
        check_series(model["allocatedGpus"], 12, "GPUs")
        check_series(model["memoryUsedGb"], 12, "GB")


def test_gpu_forecast_capacities_are_the_fleets(
    gpu_forecast: dict[str, Any], fleet: FleetSpec
) -> None:
    gpus: dict[str, int] = {}
    memory: dict[str, float] = {}
    for node in fleet.nodes:
        for gpu in node.gpus:
            gpus[gpu.model.model_id] = gpus.get(gpu.model.model_id, 0) + 1
            memory[gpu.model.model_id] = memory.get(gpu.model.model_id, 0) + gpu.memory_bytes
    held = held_gpus(fleet, when(gpu_forecast["allocatedGpus"]["lastObservedAt"]).timestamp())
    by_model = {m["modelId"]: m for m in gpu_forecast["byModel"]}
    assert set(by_model) == set(gpus)
    for model_id, model in by_model.items():
        assert model["gpuCount"] == gpus[model_id]
        assert model["memoryTotalGb"] == pytest.approx(memory[model_id] / 1e9, abs=1e-3)
        allocated = model["allocatedGpus"]
        assert allocated["lastValue"] == len(held.get(model_id, set()))
        assert allocated["capacity"]["capacity"] == gpus[model_id]
        assert allocated["capacity"]["atCapacityNow"] == (
            len(held.get(model_id, set())) >= gpus[model_id]
        )
        assert model["memoryUsedGb"]["capacity"]["capacity"] == model["memoryTotalGb"]
    total = gpu_forecast["allocatedGpus"]
    assert total["lastValue"] == sum(len(v) for v in held.values())
    assert total["capacity"]["capacity"] == sum(gpus.values())
    warned = {(w["modelId"], w["resource"]) for w in gpu_forecast["capacityWarnings"]}
    full = {m for m in by_model if len(held.get(m, set())) >= gpus[m]}
    assert {m for m, resource in warned if resource == "gpus"} >= full


def test_resource_forecast_shape_and_capacities(history_stack: Stack, fleet: FleetSpec) -> None:
    forecast = data(get(history_stack, "/resources/forecast", hours=6))
    assert forecast["hours"] == 6
    check_series(forecast["cpu"], 6, "cores")
    check_series(forecast["memory"], 6, "GB")
    check_series(forecast["gpu"], 6, "percent")
    cores = sum(node.allocatable_cpu_cores for node in fleet.nodes)
    memory = sum(node.allocatable_memory_bytes for node in fleet.nodes) / 1e9
    assert forecast["cpu"]["capacity"]["capacity"] == pytest.approx(cores, abs=1e-3)
    assert forecast["memory"]["capacity"]["capacity"] == pytest.approx(memory, abs=1e-3)
    assert forecast["gpu"]["capacity"] is None
    assert 0 < forecast["cpu"]["lastValue"] < cores


def test_the_default_horizon_is_a_day(history_stack: Stack) -> None:
    for path in PATHS:
        body = data(get(history_stack, path))
        assert body["hours"] == 24


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("hours", ["0", "-3", "169", "abc", "1.5", "99999999999999999999"])
def test_bad_hours_are_400_invalid_parameter(history_stack: Stack, path: str, hours: str) -> None:
    response = get(history_stack, path, hours=hours)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["status"] == "error"
    assert body["error"]["code"] == "INVALID_PARAMETER"
    assert "hours" in body["error"]["fields"]


@pytest.mark.parametrize("path", PATHS)
def test_prometheus_down_is_503_metrics_unavailable(tmp_path: Path, path: str) -> None:
    settings = Settings(
        data_dir=tmp_path,
        prometheus_url=f"http://127.0.0.1:{free_port()}",
        prometheus_timeout_seconds=1.0,
        sync_interval_seconds=0,
        forecast_warmup=False,
        rate_limit_storage="memory",
    )
    response = create_app(settings).test_client().get("/k8s-monitor/api/v1" + path)
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "error"
    assert body["error"]["code"] == "METRICS_UNAVAILABLE"
