"""What every request must satisfy before a view sees it (analytics/api/boundary.py), checked
on every operation the app serves: no redirect built from the Host header, each query parameter
once, JSON nesting depth."""

from __future__ import annotations

import http.client
import re
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient

from analytics.api.boundary import MAX_JSON_DEPTH, json_depth
from tests.analytics.conftest import ADMIN, API, LiveServerFactory, assert_error

WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


def write_operations(app: Flask) -> list[tuple[str, str]]:
    """(method, path) of every write the app routes under the API, path variables filled in."""
    operations = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(API):
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", "x", rule.rule)
        for method in sorted(set(rule.methods or ()) & set(WRITE_METHODS)):
            operations.append(
                (method, path + ("?status=ACTIVE" if path.endswith("/status") else ""))
            )
    return operations


def openapi_operations(client: FlaskClient) -> list[tuple[str, str, list[dict[str, Any]]]]:
    """(method, path with variables filled in, query parameters) of every documented operation."""
    document = client.get("/k8s-monitor/api-docs").get_json()
    server = document["servers"][0]["url"]
    operations = []
    for template, item in document["paths"].items():
        path = server + re.sub(r"\{[^}]+\}", "x", template)
        for method, operation in item.items():
            if method == "parameters":
                continue
            query = [p for p in operation.get("parameters", []) if p["in"] == "query"]
            operations.append((method.upper(), path, query))
    return operations


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def send(client: FlaskClient, method: str, path: str, body: str) -> Any:
    headers = {**ADMIN, "Content-Type": "application/json"}
    return client.open(path, method=method, data=body, headers=headers)


def test_every_write_operation_is_found(app: Flask) -> None:
    operations = write_operations(app)
    for expected in (
        ("POST", f"{API}/gpu/devices"),
        ("PUT", f"{API}/gpu/devices/x/status?status=ACTIVE"),
        ("POST", f"{API}/gpu/mig/devices/x"),
        ("DELETE", f"{API}/gpu/mig/devices/x"),
        ("POST", f"{API}/gpu/allocations"),
        ("DELETE", f"{API}/gpu/allocations/x"),
        ("POST", f"{API}/gpu/metrics/collect"),
        ("POST", f"{API}/webhooks"),
        ("PATCH", f"{API}/webhooks/x"),
        ("DELETE", f"{API}/webhooks/x"),
        ("POST", f"{API}/webhooks/x/test"),
        ("POST", f"{API}/batch/allocations"),
        ("POST", f"{API}/batch/metrics/collect"),
        ("POST", f"{API}/alerts/alertmanager"),
        ("POST", f"{API}/gpu/cost/budgets"),
    ):
        assert expected in operations


def test_deeply_nested_json_is_a_validation_error_on_every_write(
    app: Flask, client: FlaskClient
) -> None:
    for method, path in write_operations(app):
        for depth in (MAX_JSON_DEPTH + 1, 1000, 100_000):
            response = send(client, method, path, nested(depth))
            error = assert_error(response, 400, "VALIDATION_ERROR")
            assert error["context"] == {"maxDepth": MAX_JSON_DEPTH}, (method, path)
        # Inside the limit the request goes on to its view (which may refuse it for itself).
        response = send(client, method, path, nested(MAX_JSON_DEPTH))
        assert response.status_code != 500, (method, path)
        error = response.get_json().get("error") or {}
        assert error.get("context") != {"maxDepth": MAX_JSON_DEPTH}, (method, path)


def test_depth_counts_brackets_outside_strings_only() -> None:
    assert json_depth(b"1") == 0
    assert json_depth(b'{"a": [{"b": {}}]}') == 4
    assert json_depth(b'{"name": "[[[[{{{{", "x": "\\"[["}') == 1
    assert json_depth(b'[[1], [2, [3]], "]]]]"]') == 3
    # Unterminated strings and stray escapes end the scan; the parser refuses such bodies.
    assert json_depth(b'["abc\\') == 1
    assert json_depth(b'"\\"' * 1000 + b"[[") == 0


@pytest.mark.parametrize("mimetype", ["application/json", "application/merge-patch+json"])
def test_json_subtypes_are_checked_too(client: FlaskClient, mimetype: str) -> None:
    response = client.post(
        f"{API}/gpu/devices",
        data=nested(2000),
        headers={**ADMIN, "Content-Type": mimetype},
    )
    assert_error(response, 400, "VALIDATION_ERROR")


# Doubled slashes anywhere (werkzeug's merge_slashes) and trailing slashes (strict_slashes).
UNNORMALISED_PATHS = (
    f"/{API}//gpu/devices",
    f"{API}//gpu/devices",
    f"{API}/gpu//devices",
    f"{API}/gpu/devices//statistics",
    f"{API}/gpu/devices/gpu-worker-1-GPU-00//health",
    f"{API}/gpu/devices/",
    f"{API}/webhooks/",
    f"{API}/gpu/mig/devices/x/",
    "/k8s-monitor//api-docs",
    "/k8s-monitor/api-docs/",
    "/k8s-monitor//swagger-ui.html",
    "/k8s-monitor/api//actuator/health",
    "/healthz/",
)


def assert_no_foreign_redirect(response: Any, path: str) -> None:
    location = response.headers.get("Location")
    assert location is None or not urlsplit(location).netloc, (path, location)
    assert response.status_code not in (301, 302, 303, 307, 308), (path, response.status_code)


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE"])
def test_unnormalised_paths_never_redirect_to_the_host_header(
    client: FlaskClient, method: str
) -> None:
    for path in UNNORMALISED_PATHS:
        # PATH_INFO as a server passes it on (the test client would read "//host" as a netloc).
        response = client.open(
            "/",
            method=method,
            environ_overrides={"PATH_INFO": path},
            headers={**ADMIN, "Host": "evil.example"},
        )
        assert_no_foreign_redirect(response, path)
        assert response.get_json()["status"] == "error", path
        if method == "GET":
            assert_error(response, 404, "RESOURCE_NOT_FOUND")


def test_a_route_with_a_trailing_slash_is_not_reached_by_redirect(app: Flask) -> None:
    # No route of ours ends in a slash; one that did would redirect its slash-less form.
    app.add_url_rule("/k8s-monitor/probe/", "probe", lambda: "probe")
    client = app.test_client()
    assert client.get("/k8s-monitor/probe/").status_code == 200
    response = client.get("/k8s-monitor/probe", headers={"Host": "evil.example"})
    assert_no_foreign_redirect(response, "/k8s-monitor/probe")
    assert_error(response, 404, "RESOURCE_NOT_FOUND")


def test_live_server_answers_merged_slashes_without_a_redirect(
    live_server: LiveServerFactory,
) -> None:
    server = live_server(workers=1)
    address = urlsplit(server.url)
    for path in (f"/{API}//gpu/devices", f"{API}/gpu/devices//statistics", f"{API}/gpu/devices/"):
        connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=10)
        try:
            connection.request("GET", path, headers={"Host": "evil.example"})
            response = connection.getresponse()
            response.read()
        finally:
            connection.close()
        assert response.status == 404, path
        assert response.getheader("Location") is None, path


def test_no_query_parameter_is_a_list(client: FlaskClient) -> None:
    # A list parameter would legitimately repeat: the boundary would have to allow it.
    for method, path, query in openapi_operations(client):
        for parameter in query:
            assert parameter["schema"].get("type") != "array", (method, path, parameter["name"])


@pytest.mark.parametrize("query", ["hours=1&hours=720", "hours=720&hours=1", "hours=24&hours=24"])
def test_a_repeated_query_parameter_is_invalid_whichever_value_comes_first(
    client: FlaskClient, query: str
) -> None:
    error = assert_error(
        client.get(f"{API}/gpu/allocations/expiring?{query}"), 400, "INVALID_PARAMETER"
    )
    assert error["fields"] == {"hours": ["Given more than once."]}
    assert error["details"] == "hours: Given more than once."
    assert client.get(f"{API}/gpu/allocations/expiring?hours=720").status_code == 200


def test_every_operation_refuses_repeated_query_parameters(client: FlaskClient) -> None:
    operations = openapi_operations(client)
    assert len(operations) > 40
    for method, path, query in operations:
        # Each documented parameter, and one no schema knows (it used to be ignored).
        for name in [p["name"] for p in query] + ["unknownParameter"]:
            response = client.open(
                f"{path}?{name}=1&{name}=2", method=method, headers=ADMIN, json={}
            )
            error = assert_error(response, 400, "INVALID_PARAMETER")
            assert error["fields"] == {name: ["Given more than once."]}, (method, path)
    status = client.put(
        f"{API}/gpu/devices/x/status?status=ACTIVE&status=FAILED&nodeName=a&nodeName=b",
        headers=ADMIN,
    )
    assert assert_error(status, 400, "INVALID_PARAMETER")["fields"] == {
        "nodeName": ["Given more than once."],
        "status": ["Given more than once."],
    }
