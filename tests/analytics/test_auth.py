"""Auth: API keys (Bearer, X-API-Key, basic), roles, anonymous reads; rate limits and 429s."""

from __future__ import annotations

import base64
from typing import Any

from flask.testing import FlaskClient

from analytics.api.context import SERVICES_KEY
from analytics.services import Services
from analytics.store.tables import api_keys
from tests.analytics.conftest import ADMIN, API, AppFactory, FakeClock, assert_error

DEVICE = {"nodeName": "gpu-worker-1", "modelId": "A100_80GB", "deviceIndex": 0}


def new_key(client: FlaskClient, role: str) -> str:
    services: Services = client.application.extensions[SERVICES_KEY]
    return services.api_keys.create(role).key


def test_anonymous_write_is_401(client: FlaskClient) -> None:
    response = client.post(f"{API}/gpu/devices", json=DEVICE)
    assert_error(response, 401, "UNAUTHORIZED")
    assert "Bearer" in response.headers["WWW-Authenticate"]
    assert "X-RateLimit-Limit" in response.headers


def test_viewer_write_is_403_and_reads_work(client: FlaskClient) -> None:
    viewer = new_key(client, "viewer")
    response = client.post(f"{API}/gpu/devices", json=DEVICE, headers={"X-API-Key": viewer})
    error = assert_error(response, 403, "FORBIDDEN")
    assert error["context"] == {"role": "viewer", "requiredRole": "operator"}
    assert client.get(f"{API}/gpu/devices", headers={"X-API-Key": viewer}).status_code == 200


def test_operator_writes_with_each_credential_form(client: FlaskClient) -> None:
    operator = new_key(client, "operator")
    basic = base64.b64encode(f"ci-bot:{operator}".encode()).decode()
    key_as_user = base64.b64encode(f"{operator}:".encode()).decode()
    forms: list[dict[str, str]] = [
        {"Authorization": f"Bearer {operator}"},
        {"X-API-Key": operator},
        {"Authorization": f"Basic {basic}"},
        {"Authorization": f"Basic {key_as_user}"},
    ]
    for index, headers in enumerate(forms):
        body = {**DEVICE, "deviceIndex": index}
        assert client.post(f"{API}/gpu/devices", json=body, headers=headers).status_code == 201


def test_wrong_or_malformed_credentials_are_401_even_for_reads(client: FlaskClient) -> None:
    for headers in (
        {"X-API-Key": "not-a-key"},
        {"Authorization": "Bearer not-a-key"},
        {"Authorization": "Basic !!!"},
        {"Authorization": "Digest abc"},
    ):
        assert_error(client.get(f"{API}/gpu/devices", headers=headers), 401, "UNAUTHORIZED")


def test_keys_are_stored_hashed(client: FlaskClient) -> None:
    key = new_key(client, "admin")
    services: Services = client.application.extensions[SERVICES_KEY]
    database = client.application.extensions["gpu_analytics.database"]
    with database.read() as conn:
        stored = [tuple(row) for row in conn.execute(api_keys.select())]
    assert stored and all(key not in str(value) for row in stored for value in row)
    assert services.api_keys.authenticate(key).role == "admin"


def test_anonymous_reads_can_be_turned_off(make_app: AppFactory) -> None:
    client = make_app(anonymous_read=False).test_client()
    assert_error(client.get(f"{API}/gpu/devices"), 401, "UNAUTHORIZED")
    assert client.get(f"{API}/gpu/devices", headers=ADMIN).status_code == 200
    # Probes and docs stay open.
    assert client.get("/healthz").status_code == 200
    assert client.get("/k8s-monitor/api-docs").status_code == 200


def test_rate_limit_429_with_headers(make_app: AppFactory) -> None:
    clock = FakeClock()
    client = make_app(clock=clock, rate_limit_anonymous_per_minute=5).test_client()
    responses = [client.get(f"{API}/gpu/devices") for _ in range(6)]
    assert [r.status_code for r in responses] == [200] * 5 + [429]
    assert [r.headers["X-RateLimit-Remaining"] for r in responses] == ["4", "3", "2", "1", "0", "0"]
    limited = responses[-1]
    error = assert_error(limited, 429, "RATE_LIMIT_EXCEEDED")
    reset = int(limited.headers["X-RateLimit-Reset"])
    assert limited.headers["X-RateLimit-Limit"] == "5"
    assert reset % 60 == 0 and reset > clock.now().timestamp()
    assert error["retryAfter"] == int(limited.headers["Retry-After"])
    assert 1 <= error["retryAfter"] <= 60
    # Authenticated callers have their own, larger bucket.
    authed = client.get(f"{API}/gpu/devices", headers=ADMIN)
    assert authed.status_code == 200
    assert authed.headers["X-RateLimit-Limit"] == "5000"
    # The next window starts afresh.
    clock.advance(seconds=60)
    assert client.get(f"{API}/gpu/devices").status_code == 200


def test_batch_endpoints_have_their_own_smaller_limit(make_app: AppFactory) -> None:
    client = make_app(rate_limit_batch_per_minute=2).test_client()
    body: dict[str, Any] = {
        "allocations": [{"namespace": "a", "podName": "p", "requiredMemoryGb": 1}]
    }
    codes = [
        client.post(f"{API}/batch/allocations", json=body, headers=ADMIN).status_code
        for _ in range(3)
    ]
    assert codes == [409, 409, 429]
    assert client.get(f"{API}/gpu/devices", headers=ADMIN).status_code == 200
