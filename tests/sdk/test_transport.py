"""The SDK's HTTP behaviour: retries on 429 honouring Retry-After, backoff on 503 for
idempotent methods only, timeouts, auth headers, closing its session.

These run against a small real HTTP server on a loopback port that answers from a script
(429, 503, slow answers), because the service cannot be made to send exactly such a sequence;
the real service's 429 and 503 are in test_errors.py.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
from requests.adapters import HTTPAdapter

import k8s_gpu_client as sdk
from k8s_gpu_client import GpuManagementClient
from tests.conftest import free_port

OK = {"status": "success", "data": [], "timestamp": "2026-01-01T00:00:00Z"}


def envelope(code: str, retry_after: int | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": code.lower(), "details": None}
    if retry_after is not None:
        error["retryAfter"] = retry_after
    return {"status": "error", "error": error, "timestamp": "2026-01-01T00:00:00Z"}


class Script:
    """Answers in order: (status, body, headers) or a delay in seconds before answering OK."""

    def __init__(self) -> None:
        self.answers: list[tuple[int, Any, dict[str, str]] | float] = []
        self.seen: list[tuple[str, str, dict[str, str]]] = []


@pytest.fixture
def stub() -> Iterator[tuple[str, Script]]:
    script = Script()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            script.seen.append((self.command, self.path, dict(self.headers)))
            answer = script.answers.pop(0) if script.answers else (200, OK, {})
            if isinstance(answer, float):
                time.sleep(answer)
                answer = (200, OK, {})
            status, body, headers = answer
            payload = body.encode() if isinstance(body, str) else json.dumps(body).encode()
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_DELETE = _answer

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/k8s-monitor/api/v1", script
    finally:
        server.shutdown()
        server.server_close()


def test_429_waits_as_long_as_retry_after_says(stub: tuple[str, Script]) -> None:
    base, script = stub
    script.answers = [
        (429, envelope("RATE_LIMIT_EXCEEDED", 2), {"Retry-After": "2"}),
        (429, envelope("RATE_LIMIT_EXCEEDED", 1), {"Retry-After": "1"}),
    ]
    slept: list[float] = []
    with GpuManagementClient(base_url=base, sleep=slept.append) as client:
        assert client.devices.list() == []
    assert slept == [2.0, 1.0]
    assert len(script.seen) == 3


def test_429_is_retried_for_posts_too_but_not_beyond_the_cap(stub: tuple[str, Script]) -> None:
    base, script = stub
    created = {**OK, "data": {"allocationId": "ALLOC-ABC12345", "status": "ALLOCATED"}}
    script.answers = [(429, envelope("RATE_LIMIT_EXCEEDED", 1), {"Retry-After": "1"})]
    script.answers.append((201, created, {}))
    slept: list[float] = []
    with GpuManagementClient(base_url=base, sleep=slept.append, max_retry_wait_s=5) as client:
        allocation = client.allocations.create(namespace="a", pod_name="b", required_memory_gb=1)
        assert allocation.allocation_id == "ALLOC-ABC12345"
        script.answers = [(429, envelope("RATE_LIMIT_EXCEEDED", 30), {"Retry-After": "30"})]
        with pytest.raises(sdk.RateLimitExceededError) as caught:
            client.devices.list()
    assert slept == [1.0]
    assert caught.value.retry_after == 30


def test_503_backs_off_exponentially_on_gets_and_gives_up(stub: tuple[str, Script]) -> None:
    base, script = stub
    script.answers = [(503, envelope("METRICS_UNAVAILABLE"), {})] * 5
    slept: list[float] = []
    with (
        GpuManagementClient(
            base_url=base, sleep=slept.append, max_retries=3, backoff_s=0.5
        ) as client,
        pytest.raises(sdk.MetricsUnavailableError),
    ):
        client.devices.list()
    assert slept == [0.5, 1.0, 2.0]
    assert len(script.seen) == 4


def test_503_is_never_retried_on_a_post(stub: tuple[str, Script]) -> None:
    base, script = stub
    script.answers = [(503, envelope("METRICS_UNAVAILABLE"), {})] * 2
    slept: list[float] = []
    with (
        GpuManagementClient(base_url=base, sleep=slept.append) as client,
        pytest.raises(sdk.MetricsUnavailableError),
    ):
        client.allocations.create(namespace="a", pod_name="b", required_memory_gb=1)
    assert slept == [] and len(script.seen) == 1


def test_read_timeout_raises_request_timeout(stub: tuple[str, Script]) -> None:
    base, script = stub
    script.answers = [1.5]
    with GpuManagementClient(base_url=base, timeout=0.3) as client:
        started = time.monotonic()
        with pytest.raises(sdk.RequestTimeoutError):
            client.devices.list()
        assert time.monotonic() - started < 1.4
    assert len(script.seen) == 1


def test_refused_connection_is_a_transport_error_after_retries() -> None:
    slept: list[float] = []
    port = free_port()  # nothing listens there
    with GpuManagementClient(
        base_url=f"http://127.0.0.1:{port}/k8s-monitor/api/v1",
        sleep=slept.append,
        max_retries=2,
        backoff_s=0.1,
    ) as client:
        with pytest.raises(sdk.TransportError):
            client.devices.list()
        with pytest.raises(sdk.TransportError):
            client.allocations.create(namespace="a", pod_name="b", required_memory_gb=1)
    # GET retried twice; the POST (it may have reached the server) never.
    assert slept == [0.1, 0.2]


def test_auth_headers_query_values_and_quoted_paths(stub: tuple[str, Script]) -> None:
    base, script = stub
    device = {**OK, "data": {"deviceId": "a/b c", "newField": 1}}
    script.answers = [(200, OK, {}), (200, device, {}), (200, OK, {})]
    with GpuManagementClient(base_url=base, api_key="k1") as client:
        client.allocations.list(namespace="ns", user_id=None)
        got = client.devices.get("a/b c")
    with GpuManagementClient(base_url=base, username="u", password="p") as basic:
        basic.devices.list(status="available")
    (_, path1, headers1), (_, path2, _), (_, _, headers3) = script.seen
    assert headers1["Authorization"] == "Bearer k1"
    assert path1 == "/k8s-monitor/api/v1/gpu/allocations?namespace=ns"
    assert path2 == "/k8s-monitor/api/v1/gpu/devices/a%2Fb%20c"
    assert headers3["Authorization"].startswith("Basic ")
    assert got.device_id == "a/b c" and got.extra == {"newField": 1}
    with pytest.raises(ValueError):
        GpuManagementClient(base_url=base, api_key="k", username="u")


def test_context_manager_closes_its_session(stub: tuple[str, Script]) -> None:
    base, _ = stub
    with GpuManagementClient(base_url=base) as client:
        client.devices.list()
        adapter = client._transport._session.get_adapter(base)
        assert isinstance(adapter, HTTPAdapter)
        pools = adapter.poolmanager.pools
        assert len(pools) == 1  # a pooled keep-alive connection
    assert len(pools) == 0
    # A session the caller passed in is the caller's to close.
    with requests.Session() as own:
        with GpuManagementClient(base_url=base, session=own) as client:
            client.devices.list()
        own_adapter = own.get_adapter(base)
        assert isinstance(own_adapter, HTTPAdapter) and len(own_adapter.poolmanager.pools) == 1
