"""Security review as tests: headers, no version leak, injection and traversal attempts in every
filter answered with a clean envelope, secrets absent from logs and responses."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
from flask.testing import FlaskClient

from tests.analytics.conftest import ADMIN, ADMIN_KEY, API, LiveServerFactory, register

INJECTIONS = (
    "' OR '1'='1",
    "1; DROP TABLE devices; --",
    '" OR ""="',
    "../../../../etc/passwd",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "\x00",
    "${jndi:ldap://x}",
    "a" * 5000,
)
# Every query filter of the inventory and ledger endpoints (no Prometheus needed for these).
FILTERS = (
    "/gpu/devices?nodeName={}",
    "/gpu/devices?modelId={}",
    "/gpu/devices?status={}",
    "/gpu/allocations?namespace={}",
    "/gpu/allocations?userId={}",
    "/gpu/allocations?teamId={}",
    "/gpu/allocations/expiring?hours={}",
)
PATHS = (
    "/gpu/devices/{}",
    "/gpu/devices/{}/health",
    "/gpu/mig/devices/{}",
    "/gpu/allocations/{}",
)


def test_security_headers_on_json_html_and_errors(client: FlaskClient) -> None:
    for path, mimetype in (
        (f"{API}/gpu/devices", "application/json"),
        (f"{API}/no/such/path", "application/json"),
        ("/k8s-monitor/swagger-ui.html", "text/html"),
    ):
        response = client.get(path)
        assert response.mimetype == mimetype, path
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
        if mimetype == "application/json":
            assert response.headers["Cache-Control"] == "no-store"
            assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")


@pytest.mark.parametrize("template", FILTERS)
def test_injection_in_filters_gives_clean_answers(client: FlaskClient, template: str) -> None:
    register(client, "gpu-worker-1", 0)
    for payload in INJECTIONS:
        response = client.get(API + template.format(requests.utils.quote(payload)))
        assert response.status_code in (200, 400, 422), (template, payload, response.data)
        body = response.get_json()
        if response.status_code == 200:
            # A filter is a value, never SQL: nothing matches an injected string.
            assert body["status"] == "success"
            assert body["data"] == [] or isinstance(body["data"], dict), (template, payload)
        else:
            assert body["status"] == "error"
            assert body["error"]["code"] in ("INVALID_PARAMETER", "VALIDATION_ERROR")
    # The table is still there and whole.
    listed = client.get(f"{API}/gpu/devices").get_json()["data"]
    assert [d["deviceId"] for d in listed] == ["gpu-worker-1-GPU-00"]


@pytest.mark.parametrize("template", PATHS)
def test_traversal_in_path_ids_is_not_found_or_invalid(client: FlaskClient, template: str) -> None:
    for payload in ("..%2F..%2Fetc%2Fpasswd", "%2e%2e", "x' OR '1'='1", "%00"):
        response = client.get(API + template.format(payload))
        assert response.status_code in (400, 404, 422), (template, payload)
        body = response.get_json()
        assert body["status"] == "error"
        assert "root:" not in response.get_data(as_text=True)


def test_live_server_leaks_no_version_and_logs_no_secret(
    live_server: LiveServerFactory, tmp_path: Path
) -> None:
    server = live_server(workers=1, log_level="DEBUG")
    wrong = "wrong-key-that-must-not-be-logged-42"
    responses = [
        requests.get(f"{server.api}/gpu/devices", headers=ADMIN, timeout=10),
        requests.post(
            f"{server.api}/gpu/devices",
            json={"nodeName": "n1", "modelId": "A100_80GB", "deviceIndex": 0},
            headers={"X-API-Key": wrong},
            timeout=10,
        ),
        requests.get(f"{server.api}/gpu/devices", auth=("admin", wrong), timeout=10),
    ]
    assert [r.status_code for r in responses] == [200, 401, 401]
    for response in responses:
        server_header = response.headers.get("Server", "")
        assert not any(ch.isdigit() for ch in server_header), server_header
        assert "Werkzeug" not in server_header and "Python" not in server_header
        assert ADMIN_KEY not in response.text and wrong not in response.text
    # What the server wrote to its log stream so far (stderr is a pipe read after stop).
    logs = server.read_logs()
    assert logs, "the server logged nothing at DEBUG"
    assert ADMIN_KEY not in logs and wrong not in logs
