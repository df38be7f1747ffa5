"""client.cluster.forecast and client.resources.forecast against the demo stack."""

from __future__ import annotations

from typing import Any

from k8s_gpu_client import GpuManagementClient
from k8s_gpu_client.models import forecast
from tests.sdk.recording import Recorder, assert_mirrors, mirrored_models, missing_operations


def test_gpu_forecast_has_points_with_intervals(recorded: GpuManagementClient) -> None:
    result = recorded.cluster.forecast(hours=12)
    assert isinstance(result, forecast.GpuForecast) and result.hours == 12
    assert result.utilization is not None and result.utilization.points
    for point in result.utilization.points:
        assert point.lower95 is not None and point.upper95 is not None
        assert point.lower95 <= (point.value or 0) <= point.upper95
    assert {m.model_id for m in result.by_model} >= {"A100_80GB", "H100_80GB", "RTX4090"}
    assert_mirrors(result)


def test_resource_forecast_covers_cpu_memory_gpu(recorded: GpuManagementClient) -> None:
    result = recorded.resources.forecast(hours=6)
    assert isinstance(result, forecast.ResourceForecast)
    assert result.cpu is not None and result.memory is not None and result.gpu is not None
    assert result.cpu.points and result.cpu.points[-1].timestamp
    assert_mirrors(result)


def test_every_forecast_operation_has_an_sdk_call(
    recorded: GpuManagementClient, recorder: Recorder, openapi: dict[str, Any]
) -> None:
    recorded.cluster.forecast(hours=6)
    recorded.resources.forecast(hours=6)
    prefixes = ("/gpu/forecast", "/resources/forecast")
    assert missing_operations(recorder, openapi, prefixes) == set()


def test_forecast_models_mirror_the_openapi_schemas(openapi: dict[str, Any]) -> None:
    assert mirrored_models(forecast, openapi) == 8
