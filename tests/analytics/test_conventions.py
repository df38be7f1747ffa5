"""Envelope and error mapping on every response, bad input never a 500, OpenAPI and Swagger UI."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.analytics.conftest import ADMIN, API, AppFactory, assert_error, register

ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def test_success_envelope_with_utc_timestamps(client: FlaskClient) -> None:
    register(client, "gpu-worker-1", 0)
    body = client.get(f"{API}/gpu/devices/gpu-worker-1-GPU-00").get_json()
    assert body["status"] == "success"
    assert ISO_Z.match(body["timestamp"])
    assert ISO_Z.match(body["data"]["registeredAt"])


def test_unknown_path_is_enveloped_404(client: FlaskClient) -> None:
    assert_error(client.get(f"{API}/no/such/thing"), 404, "RESOURCE_NOT_FOUND")
    assert_error(client.get("/nothing-here"), 404, "RESOURCE_NOT_FOUND")


def test_wrong_method_is_enveloped_405(client: FlaskClient) -> None:
    response = client.patch(f"{API}/gpu/devices", headers=ADMIN)
    assert_error(response, 405, "METHOD_NOT_ALLOWED")
    assert "GET" in response.headers["Allow"]


def test_oversized_body_is_enveloped_413(make_app: AppFactory) -> None:
    client = make_app(max_request_bytes=2048).test_client()
    body = {"namespace": "a", "podName": "p", "requiredMemoryGb": 1, "workloadType": "x" * 4096}
    assert_error(
        client.post(f"{API}/gpu/allocations", json=body, headers=ADMIN), 413, "PAYLOAD_TOO_LARGE"
    )


@pytest.mark.parametrize(
    "payload",
    [b"{not json", b'{"namespace": "a",', b"\xff\xfe", b"[1, 2"],
)
def test_malformed_json_is_400_validation_error(client: FlaskClient, payload: bytes) -> None:
    response = client.post(
        f"{API}/gpu/allocations",
        data=payload,
        headers={**ADMIN, "Content-Type": "application/json"},
    )
    assert_error(response, 400, "VALIDATION_ERROR")


def test_body_that_is_not_json_is_a_validation_error(client: FlaskClient) -> None:
    response = client.post(
        f"{API}/gpu/allocations",
        data="namespace=a",
        headers={**ADMIN, "Content-Type": "text/plain"},
    )
    assert_error(response, 400, "VALIDATION_ERROR")


@pytest.mark.parametrize(
    "change",
    [
        {"requiredMemoryGb": "twenty"},
        {"requiredMemoryGb": -5},
        {"requiredMemoryGb": 0},
        {"requiredMemoryGb": 1e12},
        {"requiredMemoryGb": None},
        {"useMig": "sometimes"},
        {"namespace": 42},
        {"namespace": "Not A Namespace!"},
        {"podName": ""},
        {"maxCostPerHour": -1},
        {"plannedReleaseTime": "tomorrow"},
        {"plannedReleaseTime": "2001-01-01T00:00:00Z"},
        {"unexpectedField": 1},
    ],
)
def test_bad_allocation_bodies_are_400(client: FlaskClient, change: dict[str, Any]) -> None:
    register(client, "gpu-worker-1", 0)
    body = {"namespace": "model-serving", "podName": "pod-a", "requiredMemoryGb": 20, **change}
    error = assert_error(
        client.post(f"{API}/gpu/allocations", json=body, headers=ADMIN), 400, "VALIDATION_ERROR"
    )
    # The fields that failed, and the same in one sentence (the seed's details is a string).
    assert error["fields"]
    for name in error["fields"]:
        assert name in error["details"]


def test_a_json_list_body_is_400(client: FlaskClient) -> None:
    response = client.post(f"{API}/gpu/allocations", json=[1, 2], headers=ADMIN)
    assert_error(response, 400, "VALIDATION_ERROR")


def test_unknown_preferred_model_is_a_validation_error(client: FlaskClient) -> None:
    """An unknown reference in the body is the body's fault: VALIDATION_ERROR naming the field
    (INVALID_PARAMETER is for query and path values)."""
    body = {"namespace": "a", "podName": "p", "requiredMemoryGb": 1, "preferredModelId": "V100"}
    response = client.post(f"{API}/gpu/allocations", json=body, headers=ADMIN)
    error = assert_error(response, 400, "VALIDATION_ERROR")
    assert "Unknown GPU model 'V100'" in error["fields"]["preferredModelId"][0]
    batch = {"allocations": [body]}
    response = client.post(f"{API}/batch/allocations", json=batch, headers=ADMIN)
    error = assert_error(response, 400, "VALIDATION_ERROR")
    assert error["details"].startswith("allocations.0.preferredModelId: Unknown GPU model")


@pytest.mark.parametrize(
    "url",
    [
        "/gpu/devices?status=bogus",
        "/gpu/devices?modelId=V100",
        "/gpu/allocations?status=bogus",
        "/gpu/allocations/expiring?hours=abc",
        "/gpu/allocations/expiring?hours=-1",
        "/gpu/allocations/expiring?hours=99999999999999999999",
        "/gpu/allocations/cost-statistics?days=0",
        "/gpu/allocations?namespace=BAD_NS",
    ],
)
def test_bad_query_values_are_400_invalid_parameter(client: FlaskClient, url: str) -> None:
    assert_error(client.get(API + url), 400, "INVALID_PARAMETER")


def test_bad_status_update_is_400(client: FlaskClient) -> None:
    register(client, "gpu-worker-1", 0)
    url = f"{API}/gpu/devices/gpu-worker-1-GPU-00/status"
    assert_error(client.put(url + "?status=BROKEN", headers=ADMIN), 400, "INVALID_PARAMETER")
    assert_error(client.put(url, headers=ADMIN), 400, "INVALID_PARAMETER")


def test_unhandled_exception_is_500_without_internals(make_app: AppFactory) -> None:
    app = make_app()

    @app.get("/k8s-monitor/api/v1/boom")
    def boom() -> str:
        raise RuntimeError("secret connection string postgres://u:pw@db")

    response = app.test_client().get("/k8s-monitor/api/v1/boom")
    error = assert_error(response, 500, "INTERNAL_ERROR")
    assert "postgres" not in response.get_data(as_text=True)
    assert "Traceback" not in response.get_data(as_text=True)
    assert error["details"] is None


def test_every_api_response_has_rate_limit_headers(client: FlaskClient) -> None:
    for response in (
        client.get(f"{API}/gpu/devices"),
        client.get(f"{API}/nowhere"),
        client.post(f"{API}/gpu/allocations", json={}),
    ):
        assert {"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} <= set(
            response.headers.keys()
        )


# -- OpenAPI -------------------------------------------------------------------------------

ENDPOINTS = {
    ("get", "/gpu/devices"),
    ("post", "/gpu/devices"),
    ("get", "/gpu/devices/{deviceId}"),
    ("put", "/gpu/devices/{deviceId}/status"),
    ("get", "/gpu/devices/statistics"),
    ("post", "/gpu/mig/devices/{deviceId}"),
    ("delete", "/gpu/mig/devices/{deviceId}"),
    ("get", "/gpu/mig/devices/{deviceId}"),
    ("get", "/gpu/mig/available"),
    ("get", "/gpu/mig/statistics"),
    ("post", "/gpu/allocations"),
    ("get", "/gpu/allocations"),
    ("delete", "/gpu/allocations/{allocationId}"),
    ("get", "/gpu/allocations/{allocationId}"),
    ("get", "/gpu/allocations/cost-statistics"),
    ("get", "/gpu/allocations/expiring"),
    ("post", "/batch/allocations"),
}


@pytest.fixture
def openapi(client: FlaskClient) -> dict[str, Any]:
    response = client.get("/k8s-monitor/api-docs")
    assert response.status_code == 200
    document: dict[str, Any] = response.get_json()
    return document


def test_openapi_lists_every_endpoint_with_envelope(openapi: dict[str, Any]) -> None:
    assert openapi["openapi"].startswith("3.")
    found = {
        (method, path.removeprefix(API))
        for path, operations in openapi["paths"].items()
        for method in operations
        if method != "parameters"
    }
    assert found >= ENDPOINTS
    for path, operations in openapi["paths"].items():
        for method, operation in operations.items():
            if method == "parameters":
                continue
            assert operation.get("summary"), (method, path)
            success = next(c for c in operation["responses"] if c.startswith("2"))
            ref = operation["responses"][success]["content"]["application/json"]["schema"]["$ref"]
            assert ref.endswith("Envelope"), (method, path, ref)


def test_every_schema_field_and_parameter_has_a_description(openapi: dict[str, Any]) -> None:
    missing = []
    for name, schema in openapi["components"]["schemas"].items():
        for field, spec in schema.get("properties", {}).items():
            if not spec.get("description"):
                missing.append(f"{name}.{field}")
    for path, operations in openapi["paths"].items():
        for method, operation in operations.items():
            if method == "parameters":
                continue
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "query" and not parameter.get("description"):
                    missing.append(f"{method} {path} ?{parameter['name']}")
    assert not missing


def test_batch_is_documented_as_all_or_nothing(openapi: dict[str, Any]) -> None:
    post = openapi["paths"]["/batch/allocations"]["post"]
    assert "all or nothing" in (post["summary"] + post.get("description", "")).lower()


def test_swagger_ui_uses_local_assets_only(app: Flask, client: FlaskClient) -> None:
    page = client.get("/k8s-monitor/swagger-ui.html")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "/k8s-monitor/api-docs" in html
    assert not re.search(r"(src|href)=\"https?://", html)
    for asset in re.findall(r"(?:src|href)=\"(/k8s-monitor/[^\"]+)\"", html):
        response = client.get(asset)
        assert response.status_code == 200, asset
        assert len(response.data) > 1000
        response.close()


def test_health_endpoints(client: FlaskClient) -> None:
    assert client.get("/healthz").get_json()["data"]["status"] == "UP"
    ready = client.get("/readyz").get_json()["data"]
    assert ready["components"]["migrations"]["status"] == "UP"
    health = client.get("/k8s-monitor/api/actuator/health").get_json()
    assert health["status"] == "UP"
    names = client.get("/k8s-monitor/api/actuator/metrics").get_json()["names"]
    assert "gpu_analytics_http_requests" in names
    metrics = client.get("/metrics").get_data(as_text=True)
    assert "gpu_analytics_http_requests_total" in metrics
