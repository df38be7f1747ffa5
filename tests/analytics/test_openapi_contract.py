"""The OpenAPI document tells the truth: paths relative to its server URL, the seed's parameter
names, a stable camelCase operationId on every operation, one spelling per enum value, the error
statuses the service really answers (400, never webargs' 422, for validation), and it passes
openapi-spec-validator and Redocly's linter."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openapi_spec_validator import validate
from werkzeug.exceptions import HTTPException

from tests.analytics.conftest import ADMIN, API, assert_error, register
from tests.conftest import ROOT

pytestmark = pytest.mark.databases("sqlite")

METHODS = ("get", "post", "put", "patch", "delete")

# The seed's operations, by the name client generators will give them.
SEED_OPERATION_IDS = {
    ("get", "/gpu/devices"): "listDevices",
    ("get", "/gpu/devices/{deviceId}"): "getDevice",
    ("post", "/gpu/devices"): "registerDevice",
    ("put", "/gpu/devices/{deviceId}/status"): "updateDeviceStatus",
    ("post", "/gpu/allocations"): "createAllocation",
    ("get", "/gpu/allocations"): "listAllocations",
    ("delete", "/gpu/allocations/{allocationId}"): "releaseAllocation",
    ("post", "/gpu/mig/devices/{deviceId}"): "createMigInstances",
    ("get", "/resources/pods/{namespace}/{podName}"): "getPod",
    ("get", "/resources/nodes/{nodeName}"): "getNode",
    ("get", "/gpu/cost/analysis"): "getCostAnalysis",
    ("post", "/batch/allocations"): "createAllocationsBatch",
}
# Operations that may answer 422 (MIG_NOT_SUPPORTED, COST_LIMIT_EXCEEDED): a request that can
# never succeed as asked.
MAY_BE_422 = {"createAllocation", "createAllocationsBatch", "createMigInstances"}


@pytest.fixture
def document(client: FlaskClient) -> dict[str, Any]:
    response = client.get("/k8s-monitor/api-docs")
    assert response.status_code == 200
    body: dict[str, Any] = response.get_json()
    return body


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method in METHODS:
            if method in item:
                yield method, path, item[method]


def path_parameters(document: dict[str, Any], path: str) -> list[dict[str, Any]]:
    item = document["paths"][path]
    shared = item.get("parameters", [])
    return [p for p in shared if p["in"] == "path"]


def test_paths_are_relative_to_the_server_base_path(app: Flask, document: dict[str, Any]) -> None:
    assert [s["url"] for s in document["servers"]] == [API]
    adapter = app.url_map.bind("localhost")
    for method, path, _operation in operations(document):
        assert path.startswith("/") and not path.startswith("/k8s-monitor"), path
        url = API + re.sub(r"\{[^}]+\}", "x", path)
        try:
            endpoint, _args = adapter.match(url, method=method.upper())
        except HTTPException as exc:  # pragma: no cover - the assertion's message
            pytest.fail(f"{method.upper()} {url} is documented but not routed: {exc}")
        assert endpoint, (method, path)


def test_path_parameters_are_named_as_in_the_seed(document: dict[str, Any]) -> None:
    names = set()
    for path in document["paths"]:
        in_template = re.findall(r"\{([^}]+)\}", path)
        documented = path_parameters(document, path)
        assert [p["name"] for p in documented] == in_template, path
        for parameter in documented:
            assert re.fullmatch(r"[a-z][a-zA-Z0-9]*", parameter["name"]), (path, parameter)
            assert parameter.get("description") and parameter.get("example"), (path, parameter)
        names.update(in_template)
    assert {"deviceId", "allocationId", "podName", "nodeName"} <= names
    assert {"budgetId", "webhookId", "modelId"} <= names


def test_every_operation_has_a_unique_camel_case_operation_id(document: dict[str, Any]) -> None:
    ids = {(method, path): op.get("operationId") for method, path, op in operations(document)}
    missing = [key for key, value in ids.items() if not value]
    assert not missing
    assert all(re.fullmatch(r"[a-z]+(?:[A-Z][a-z0-9]*)+", v or "") for v in ids.values()), ids
    repeated = [v for v, n in Counter(ids.values()).items() if n > 1]
    assert not repeated
    for key, operation_id in SEED_OPERATION_IDS.items():
        assert ids.get(key) == operation_id, key


def enums(node: Any, where: str = "#") -> Iterator[tuple[str, list[Any]]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "enum" and isinstance(value, list):
                yield where, value
            else:
                yield from enums(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from enums(value, f"{where}/{index}")


def test_no_enum_holds_values_that_differ_only_in_case(document: dict[str, Any]) -> None:
    found = list(enums(document))
    # The device status filter is one of them (it used to list active and ACTIVE).
    assert any("available" in values for _where, values in found)
    for where, values in found:
        strings = [v for v in values if isinstance(v, str)]
        folded = Counter(v.casefold() for v in strings)
        assert all(n == 1 for n in folded.values()), (where, values)


def test_every_operation_documents_the_error_statuses_it_can_answer(
    document: dict[str, Any],
) -> None:
    for method, path, operation in operations(document):
        statuses = set(operation["responses"])
        name = operation["operationId"]
        assert {"400", "401", "429", "503", "default"} <= statuses, name
        assert ("422" in statuses) == (name in MAY_BE_422), name
        if method != "get":
            assert "403" in statuses, name
        if "{" in path:
            assert "404" in statuses, name
        if "requestBody" in operation:
            assert "413" in statuses, name
        for status in statuses - {"default"}:
            if status.startswith(("4", "5")):
                ref = operation["responses"][status]["$ref"]
                response = document["components"]["responses"][ref.rsplit("/", 1)[-1]]
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorEnvelope"}, (name, status)


def documented(document: dict[str, Any], method: str, path: str) -> set[int]:
    return {int(s) for s in document["paths"][path][method]["responses"] if s != "default"}


def test_the_answers_are_among_the_documented_statuses(
    client: FlaskClient, document: dict[str, Any]
) -> None:
    register(client, "gpu-worker-1", 0)
    register(client, "gpu-worker-1", 1, model="RTX4090")
    rtx = "gpu-worker-1-GPU-01"
    allocation = {"namespace": "ml", "podName": "p", "requiredMemoryGb": 10}
    cases: list[tuple[str, str, str, dict[str, Any], int]] = [
        (
            "post",
            "/gpu/allocations",
            "/gpu/allocations",
            {**allocation, "requiredMemoryGb": -1},
            400,
        ),
        (
            "post",
            "/gpu/allocations",
            "/gpu/allocations",
            {**allocation, "requiredMemoryGb": 500},
            409,
        ),
        (
            "post",
            "/gpu/allocations",
            "/gpu/allocations",
            {**allocation, "maxCostPerHour": 0.001},
            422,
        ),
        (
            "post",
            "/gpu/mig/devices/{deviceId}",
            f"/gpu/mig/devices/{rtx}",
            {"profileIds": ["1g.10gb"]},
            422,
        ),
        ("get", "/gpu/devices", "/gpu/devices?status=bogus", {}, 400),
        ("get", "/gpu/devices/{deviceId}", "/gpu/devices/nope", {}, 404),
        ("delete", "/gpu/allocations/{allocationId}", "/gpu/allocations/ALLOC-NOSUCH00", {}, 404),
        (
            "post",
            "/gpu/devices",
            "/gpu/devices",
            {"nodeName": "gpu-worker-1", "modelId": "A100_80GB", "deviceIndex": 0},
            409,
        ),
    ]
    for method, template, url, body, status in cases:
        call = getattr(client, method)
        response = (
            call(API + url, json=body, headers=ADMIN) if body else call(API + url, headers=ADMIN)
        )
        assert response.status_code == status, (method, url, response.get_json())
        assert status in documented(document, method, template), (method, template, status)
    anonymous = client.post(f"{API}/gpu/allocations", json=allocation)
    assert anonymous.status_code == 401
    assert 401 in documented(document, "post", "/gpu/allocations")


def test_the_error_envelope_documents_details_as_a_string(document: dict[str, Any]) -> None:
    error = document["components"]["schemas"]["Error"]
    properties = error["properties"]
    assert properties["details"]["type"] == "string" and properties["details"]["nullable"]
    assert {"code", "message", "details"} <= set(error["required"])
    assert properties["fields"]["type"] == "object"
    assert properties["context"]["type"] == "object"


def test_the_document_passes_openapi_spec_validator(document: dict[str, Any]) -> None:
    validate(document)


def redocly() -> str:
    """Redocly's CLI as `make test` installs it (Makefile, REDOCLY), or as REDOCLY names it."""
    candidates = [
        os.environ.get("REDOCLY", ""),
        str(ROOT / ".cache" / "redocly" / "node_modules" / ".bin" / "redocly"),
        shutil.which("redocly") or "",
    ]
    for candidate in candidates:
        if candidate and Path(candidate).exists():
            return candidate
    pytest.fail("Redocly's CLI is not installed: run `make redocly` (make test does)")


def test_redocly_lint_finds_no_problem(document: dict[str, Any], tmp_path: Path) -> None:
    dumped = tmp_path / "openapi.json"
    dumped.write_text(json.dumps(document))
    env = {
        **os.environ,
        "REDOCLY_TELEMETRY": "off",
        "REDOCLY_SUPPRESS_UPDATE_NOTICE": "true",
        "NO_COLOR": "1",
    }
    result = subprocess.run(
        [redocly(), "lint", "--config", str(ROOT / "redocly.yaml"), str(dumped)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Woohoo! Your API description is valid." in output, output
    # The cheap warnings are fixed too: none is left.
    assert "warning" not in output.replace("Deprecation warning", "").lower(), output


def test_the_device_status_filter_takes_any_case(client: FlaskClient) -> None:
    register(client, "gpu-worker-1", 0)
    register(client, "gpu-worker-2", 0)
    client.put(f"{API}/gpu/devices/gpu-worker-2-GPU-00/status?status=MAINTENANCE", headers=ADMIN)

    def ids(status: str) -> list[str]:
        response = client.get(f"{API}/gpu/devices", query_string={"status": status})
        assert response.status_code == 200, response.get_json()
        return [d["deviceId"] for d in response.get_json()["data"]]

    assert ids("ACTIVE") == ids("active") == ids("Active") == ["gpu-worker-1-GPU-00"]
    assert ids("AVAILABLE") == ids("available") == ["gpu-worker-1-GPU-00"]
    assert ids("MAINTENANCE") == ids("maintenance") == ["gpu-worker-2-GPU-00"]
    assert ids("FAILED") == ids("failed") == []
    error = assert_error(client.get(f"{API}/gpu/devices?status=broken"), 400, "INVALID_PARAMETER")
    assert "status" in error["fields"] and error["details"].startswith("status: ")


@pytest.mark.parametrize(
    ("root", "served"),
    [("/api-docs", "/k8s-monitor/api-docs"), ("/swagger-ui.html", "/k8s-monitor/swagger-ui.html")],
)
def test_the_seed_root_paths_redirect_to_the_served_docs(
    client: FlaskClient, root: str, served: str
) -> None:
    response = client.get(root)
    assert response.status_code in (302, 308)
    assert response.headers["Location"] == served
    followed = client.get(root, follow_redirects=True)
    assert followed.status_code == 200
    assert followed.request.path == served
