"""Every error code of the API becomes its own exception class, provoked on the real service
under gunicorn where it can be; INTERNAL_ERROR and ALLOCATION_FAILED (a PostgreSQL race) are
taken from the service's own error handler, in-process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask

import k8s_gpu_client as sdk
from analytics import create_app
from analytics.api.errors import STATUS_BY_CODE, handle_domain_error, handle_unexpected
from analytics.errors import AllocationFailed
from analytics.settings import Settings
from k8s_gpu_client import GpuManagementClient
from tests.analytics.conftest import LiveServerFactory
from tests.conftest import free_port

SEED_CODES = {
    "RESOURCE_NOT_FOUND": sdk.ResourceNotFoundError,
    "GPU_NOT_AVAILABLE": sdk.GpuNotAvailableError,
    "MIG_NOT_SUPPORTED": sdk.MigNotSupportedError,
    "ALLOCATION_FAILED": sdk.AllocationFailedError,
    "INVALID_PARAMETER": sdk.InvalidParameterError,
    "INSUFFICIENT_RESOURCES": sdk.InsufficientResourcesError,
    "COST_LIMIT_EXCEEDED": sdk.CostLimitExceededError,
    "VALIDATION_ERROR": sdk.ValidationError,
    "UNAUTHORIZED": sdk.UnauthorizedError,
    "FORBIDDEN": sdk.ForbiddenError,
    "RATE_LIMIT_EXCEEDED": sdk.RateLimitExceededError,
    "INTERNAL_ERROR": sdk.InternalServerError,
    "METRICS_UNAVAILABLE": sdk.MetricsUnavailableError,
}


def check(exc: sdk.ApiError, cls: type[sdk.ApiError], status: int) -> None:
    assert type(exc) is cls, exc
    assert exc.code == cls.CODE
    assert exc.status == status == STATUS_BY_CODE[cls.CODE]
    assert exc.message and exc.message != exc.code
    assert isinstance(exc.body, dict) and exc.body["status"] == "error"
    assert exc.body["timestamp"].endswith("Z")


def test_every_code_of_the_service_has_its_own_class() -> None:
    assert set(STATUS_BY_CODE) <= set(sdk.ERROR_CLASSES)
    classes = [sdk.ERROR_CLASSES[code] for code in STATUS_BY_CODE]
    assert len(set(classes)) == len(classes)
    for code, cls in SEED_CODES.items():
        assert sdk.ERROR_CLASSES[code] is cls
        assert issubclass(cls, sdk.ApiError) and issubclass(cls, sdk.GpuClientError)


# -- provoked on the demo stack ----------------------------------------------------------------


def test_resource_not_found(client: GpuManagementClient) -> None:
    with pytest.raises(sdk.ResourceNotFoundError) as caught:
        client.devices.get("invalid-device-id")
    check(caught.value, sdk.ResourceNotFoundError, 404)
    with pytest.raises(sdk.ResourceNotFoundError):
        client.allocations.release("ALLOC-NOSUCH00")


def test_invalid_parameter_names_the_parameter(client: GpuManagementClient) -> None:
    with pytest.raises(sdk.InvalidParameterError) as caught:
        client.devices.list(status="bogus")
    check(caught.value, sdk.InvalidParameterError, 400)
    assert "status" in caught.value.fields
    assert isinstance(caught.value.details, str) and "status" in caught.value.details


def test_validation_error_maps_fields(client: GpuManagementClient) -> None:
    with pytest.raises(sdk.ValidationError) as caught:
        client.allocations.create(namespace="sdk-tests", pod_name="bad", required_memory_gb=-1)
    check(caught.value, sdk.ValidationError, 400)
    assert "requiredMemoryGb" in caught.value.fields
    assert caught.value.details is not None and "requiredMemoryGb" in caught.value.details


def test_unauthorized_on_a_wrong_key_and_on_an_anonymous_write(
    api_base: str, anonymous: GpuManagementClient
) -> None:
    with (
        GpuManagementClient(base_url=api_base, api_key="gak_wrong_key") as wrong,
        pytest.raises(sdk.UnauthorizedError) as caught,
    ):
        wrong.devices.list()
    check(caught.value, sdk.UnauthorizedError, 401)
    with pytest.raises(sdk.UnauthorizedError):
        anonymous.allocations.create(namespace="sdk-tests", pod_name="anon", required_memory_gb=1)


def test_forbidden_for_a_viewer_writing(api_base: str, viewer_key: str) -> None:
    with GpuManagementClient(base_url=api_base, api_key=viewer_key) as viewer:
        assert viewer.devices.list()  # reading is allowed
        with pytest.raises(sdk.ForbiddenError) as caught:
            viewer.allocations.create(
                namespace="sdk-tests", pod_name="viewer", required_memory_gb=1
            )
    check(caught.value, sdk.ForbiddenError, 403)


def test_basic_auth_with_the_key_as_password(api_base: str, operator_key: str) -> None:
    with GpuManagementClient(base_url=api_base, username="ops", password=operator_key) as ops:
        allocation = ops.allocations.create(
            namespace="sdk-tests", pod_name="basic-auth", required_memory_gb=5, use_mig=True
        )
        try:
            assert allocation.status == "ALLOCATED"
        finally:
            ops.allocations.release(allocation.allocation_id or "")
    with (
        GpuManagementClient(base_url=api_base, username="ops", password="wrong") as wrong,
        pytest.raises(sdk.UnauthorizedError),
    ):
        wrong.devices.list()


def test_gpu_not_available_for_mig_on_a_gpu_allocated_whole(client: GpuManagementClient) -> None:
    allocation = client.allocations.create(
        namespace="sdk-tests",
        pod_name="whole",
        required_memory_gb=30,
        preferred_model_id="A100_80GB",
    )
    try:
        assert allocation.resource_type == "GPU" and allocation.device_id
        with pytest.raises(sdk.GpuNotAvailableError) as caught:
            client.mig.create(allocation.device_id, ["1g.10gb"])
        check(caught.value, sdk.GpuNotAvailableError, 409)
    finally:
        client.allocations.release(allocation.allocation_id or "")


def test_mig_not_supported_on_an_rtx_4090(client: GpuManagementClient) -> None:
    rtx = client.devices.list(model_id="RTX4090")
    assert rtx and not rtx[0].mig_support
    with pytest.raises(sdk.MigNotSupportedError) as caught:
        client.mig.create(rtx[0].device_id or "", ["1g.10gb"])
    check(caught.value, sdk.MigNotSupportedError, 422)


def test_insufficient_resources_lists_the_closest(client: GpuManagementClient) -> None:
    with pytest.raises(sdk.InsufficientResourcesError) as caught:
        client.allocations.create(namespace="sdk-tests", pod_name="huge", required_memory_gb=1000)
    check(caught.value, sdk.InsufficientResourcesError, 409)
    assert caught.value.context["closestCandidates"]


def test_cost_limit_exceeded_names_the_cheapest(client: GpuManagementClient) -> None:
    with pytest.raises(sdk.CostLimitExceededError) as caught:
        client.allocations.create(
            namespace="sdk-tests", pod_name="cheap", required_memory_gb=10, max_cost_per_hour=0.001
        )
    check(caught.value, sdk.CostLimitExceededError, 422)
    assert caught.value.context["cheapestCostPerHour"] > 0.001


def test_codes_beyond_the_seed(client: GpuManagementClient) -> None:
    device = client.devices.list()[0]
    with pytest.raises(sdk.ResourceAlreadyExistsError) as exists:
        client.devices.register(
            node_name=device.node_name or "",
            model_id=device.model_id or "",
            device_index=device.device_index or 0,
        )
    assert exists.value.status == 409
    with pytest.raises(sdk.MethodNotAllowedError) as method:
        client._transport.request("PATCH", "/gpu/devices")
    assert method.value.status == 405


# -- real gunicorn servers configured to refuse --------------------------------------------------


def _requests_counted(server_url: str, route: str) -> float:
    metrics = requests.get(f"{server_url}/metrics", timeout=10).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("gpu_analytics_http_requests_total{") and f'route="{route}"' in line
    )


def test_rate_limit_exceeded_carries_retry_after(live_server: LiveServerFactory) -> None:
    server = live_server(workers=2, rate_limit_anonymous_per_minute="3")
    # Never waits: whatever Retry-After says is beyond a zero cap, so the error comes at once.
    with (
        GpuManagementClient(base_url=server.api, max_retry_wait_s=0) as anonymous,
        pytest.raises(sdk.RateLimitExceededError) as caught,
    ):
        for _ in range(10):
            anonymous.devices.list()
        assert anonymous.rate_limit is not None and anonymous.rate_limit.limit == 3
    check(caught.value, sdk.RateLimitExceededError, 429)
    assert caught.value.retry_after is not None and 1 <= caught.value.retry_after <= 60
    # One refusal, no retries: at most 3 allowed + 1 refused (+3 if a minute boundary passed).
    assert _requests_counted(server.url, "/k8s-monitor/api/v1/gpu/devices") in (4, 7)


def test_metrics_unavailable_is_retried_then_raised(live_server: LiveServerFactory) -> None:
    dead_prometheus = f"http://127.0.0.1:{free_port()}"
    server = live_server(workers=2, prometheus_url=dead_prometheus)
    slept: list[float] = []
    with (
        GpuManagementClient(
            base_url=server.api, max_retries=2, backoff_s=0.05, sleep=slept.append
        ) as anonymous,
        pytest.raises(sdk.MetricsUnavailableError) as caught,
    ):
        # The overview answers from the database instead (a partial answer, not retried).
        overview = anonymous.cluster.overview()
        assert overview.metrics_available is False and overview.metrics_unavailable_reason
        assert slept == []
        anonymous.cluster.health()
    check(caught.value, sdk.MetricsUnavailableError, 503)
    assert slept == [0.05, 0.1]
    assert _requests_counted(server.url, "/k8s-monitor/api/v1/gpu/health") == 3


# -- envelopes from the service's error handler ---------------------------------------------------


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    yield create_app(
        Settings(
            data_dir=tmp_path,
            sync_interval_seconds=0,
            forecast_warmup=False,
            rate_limit_storage="memory",
        )
    )


def _envelope(app: Flask, handler: Any, exc: Exception) -> tuple[int, Any]:
    with app.test_request_context("/k8s-monitor/api/v1/gpu/allocations", method="POST"):
        response = handler(exc)
        return response.status_code, response.get_json()


def test_internal_error_from_the_services_handler(app: Flask) -> None:
    status, body = _envelope(app, handle_unexpected, RuntimeError("secret detail"))
    exc = sdk.error_from_response(status, body)
    check(exc, sdk.InternalServerError, 500)
    assert "secret detail" not in str(exc)


def test_allocation_failed_from_the_services_handler(app: Flask) -> None:
    status, body = _envelope(
        app, handle_domain_error, AllocationFailed("Concurrent requests took it.", {"retries": 3})
    )
    exc = sdk.error_from_response(status, body)
    check(exc, sdk.AllocationFailedError, 409)
    assert exc.context == {"retries": 3} and exc.details is None and exc.fields == {}


def test_unknown_codes_and_non_envelopes_still_raise_api_errors() -> None:
    body = {"status": "error", "error": {"code": "SOMETHING_NEW", "message": "m", "details": "d"}}
    exc = sdk.error_from_response(418, body)
    assert type(exc) is sdk.ApiError and exc.code == "SOMETHING_NEW" and exc.details == "d"
    # A structured details (not what this service sends) is kept, under context.
    body = {"status": "error", "error": {"code": "SOMETHING_NEW", "message": "m", "details": 1}}
    exc = sdk.error_from_response(418, body)
    assert exc.details is None and exc.context == {"details": 1}
    proxy = sdk.error_from_response(502, "<html>Bad Gateway</html>", {"Retry-After": "7"})
    assert proxy.code == "HTTP_502" and proxy.retry_after == 7.0 and "Bad Gateway" in str(proxy)
