"""The Go SDK (clients/go) and the seed's section 7.3 Go program against the real service.

`go test ./...` runs in clients/go against the demo stack of the Python SDK's tests (its API
root and keys in GPUCLIENT_TEST_* variables), a live gunicorn of its own with a rate limit of 3
anonymous requests a minute, and a delivery the service really signed and sent. The Go tests skip
only without GPUCLIENT_TEST_BASE_URL (a plain `go test`); here Go must be installed
(scripts/bootstrap.sh installs golang-go) and a skipped Go test fails. Builds are offline
(GOPROXY=off: the SDK uses the standard library only) with caches under .cache/go.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from k8s_gpu_client import GpuManagementClient
from k8s_gpu_client.webhooks import WebhookEvent, WebhookTimestampError, verify_delivery
from tests.analytics.conftest import ADMIN_KEY, LiveServer, LiveServerFactory
from tests.conftest import ROOT
from tests.sdk.conftest import DEMO_FLEET
from tests.sdk.recording import SCHEMA_NAMES, Recorder, openapi_operations
from tests.sdk.sdk_sources import GO_SDK, go_structs
from tests.webhooks.receiver import WebhookReceiver

GO_EXAMPLE = ROOT / "examples" / "go"
GO_CACHE = ROOT / ".cache" / "go"
WEBHOOK_SECRET = "go-sdk-webhook-secret"

# Seed section 7.3, verbatim (placeholders included).
SNIPPET_7_3 = """\
package main

import (
    "github.com/your-org/k8s-gpu-client-go"
)

func main() {
    // 클라이언트 초기화
    client := gpuclient.NewClient(&gpuclient.Config{
        BaseURL: "http://your-server:8080/k8s-monitor/api/v1",
        APIKey:  "your-api-key",
    })

    // GPU 장비 조회
    devices, err := client.Devices.List(context.Background(), nil)
    if err != nil {
        log.Fatal(err)
    }

    // GPU 할당
    allocation, err := client.Allocations.Create(context.Background(), &gpuclient.AllocationRequest{
        Namespace:        "model-serving",
        PodName:         "vllm-pod",
        WorkloadType:    "Inference",
        RequiredMemoryGB: 20,
        UseMIG:          true,
    })
}
"""
# What examples/go/main.go adds to it (Go refuses the snippet without them): its leading
# comment, the imports it uses, and a use of its two variables after the error check.
ADDED_TO_7_3 = [
    '"context"',
    '"log"',
    "if err != nil {",
    "log.Fatal(err)",
    # (the diff pairs the seed's closing brace of main with the error check's)
    'log.Printf("%d GPUs; allocation %s: %s on %s", len(devices.Items), '
    "allocation.AllocationID, allocation.AllocatedResource, allocation.NodeName)",
    "}",
]
PLACEHOLDER_BASE_URL = "http://your-server:8080/k8s-monitor/api/v1"
PLACEHOLDER_API_KEY = "your-api-key"


def go_tool() -> str:
    go = shutil.which("go")
    assert go, "Go is not installed: scripts/bootstrap.sh test installs golang-go (make test)"
    return go


def go_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Offline, cached under the repository, no cgo (no C compiler needed), nothing inherited
    from a developer's own Go settings or an earlier GPUCLIENT_TEST_* run."""
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(("GPUCLIENT_TEST_", "GO"))
    }
    environment.update(
        {
            "GOCACHE": str(GO_CACHE / "build"),
            "GOPATH": str(GO_CACHE / "path"),
            "GOENV": "off",
            "GOPROXY": "off",
            "GOSUMDB": "off",
            "GOTOOLCHAIN": "local",
            "GOWORK": "off",
            "GO111MODULE": "on",
            "CGO_ENABLED": "0",
        }
    )
    environment.update(extra or {})
    return environment


def run_go(
    args: list[str], cwd: Path, extra: Mapping[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [go_tool(), *args],
        cwd=cwd,
        env=go_environment(extra),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def fleet_truth() -> tuple[int, list[str]]:
    """The demo fleet's GPU count and node names, from its YAML."""
    fleet: dict[str, Any] = yaml.safe_load(DEMO_FLEET.read_text())
    nodes = fleet["nodes"]
    count = sum(int(gpu.get("count", 1)) for node in nodes for gpu in node.get("gpus", []))
    return count, sorted(node["name"] for node in nodes if node.get("gpus"))


def capture_delivery(server: LiveServer, directory: Path) -> Path:
    """A WEBHOOK_TEST delivery the live service signed and sent to a real local receiver,
    written to a JSON file (secret, raw body, X-Signature-256, event id, and the attempt's
    X-Webhook-Signature and X-Webhook-Timestamp) for the Go test."""
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    with WebhookReceiver() as receiver:
        created = requests.post(
            server.api + "/webhooks",
            json={
                "name": "go-sdk-receiver",
                "url": receiver.url + "/hook",
                "events": ["GPU_OVERHEATING"],
                "secret": WEBHOOK_SECRET,
            },
            headers=headers,
            timeout=10,
        )
        assert created.status_code == 201, created.text
        webhook_id = created.json()["data"]["webhookId"]
        queued = requests.post(
            f"{server.api}/webhooks/{webhook_id}/test", headers=headers, timeout=10
        )
        assert queued.status_code == 202, queued.text
        (delivery,) = receiver.wait_for(
            lambda r: r.headers.get("X-Webhook-Event") == "WEBHOOK_TEST", timeout=30
        )
    path = directory / "delivery.json"
    path.write_text(
        json.dumps(
            {
                "secret": WEBHOOK_SECRET,
                "body": delivery.body.decode("utf-8"),
                "signature": delivery.headers["X-Signature-256"],
                "eventId": delivery.headers["X-Webhook-Event-Id"],
                "webhookSignature": delivery.headers["X-Webhook-Signature"],
                "webhookTimestamp": delivery.headers["X-Webhook-Timestamp"],
            }
        )
    )
    return path


@pytest.fixture
def side_server(live_server: LiveServerFactory) -> LiveServer:
    """A live gunicorn of its own: 3 anonymous requests a minute, webhooks to loopback allowed."""
    return live_server(
        workers=1,
        rate_limit_anonymous_per_minute="3",
        webhook_allowed_cidrs="127.0.0.0/8",
        webhook_dispatch_interval_seconds="0.2",
    )


def test_go_sdk_passes_its_tests_against_the_live_service(
    api_base: str,
    admin_key: str,
    viewer_key: str,
    openapi: dict[str, Any],
    side_server: LiveServer,
    tmp_path: Path,
) -> None:
    count, nodes = fleet_truth()
    delivery = capture_delivery(side_server, tmp_path)
    calls = tmp_path / "calls.txt"
    result = run_go(
        ["test", "-count=1", "-v", "./..."],
        GO_SDK,
        {
            "GPUCLIENT_TEST_BASE_URL": api_base,
            "GPUCLIENT_TEST_API_KEY": admin_key,
            "GPUCLIENT_TEST_VIEWER_KEY": viewer_key,
            "GPUCLIENT_TEST_DEVICE_COUNT": str(count),
            "GPUCLIENT_TEST_NODES": ",".join(nodes),
            "GPUCLIENT_TEST_RATE_LIMITED_URL": side_server.api,
            "GPUCLIENT_TEST_WEBHOOK_DELIVERY": str(delivery),
            "GPUCLIENT_TEST_RECORD": str(calls),
        },
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-20000:]
    assert "--- SKIP" not in output, output[-20000:]
    passed = set(re.findall(r"--- PASS: (TestLive\w+)", output))
    assert {
        "TestLiveDevicesListMatchesTheFleet",
        "TestLiveCreateAndReleaseAnAllocation",
        "TestLiveBatchAllocationsAllOrNone",
        "TestLiveErrors",
        "TestLiveGPUNotAvailableForMIGOnAGPUAllocatedWhole",
        "TestLiveRateLimitIsRetriedAfterRetryAfter",
        "TestLiveEveryReadDecodesIntoTheModels",
        "TestLiveWebhookLifecycle",
        "TestLiveWebhookDeliveryVerifies",
        "TestLiveWritesOfEveryArea",
        "TestLiveAccounts",
    } <= passed, output[-20000:]
    # Every operation of the served OpenAPI document was reached through a Go SDK method.
    recorder = Recorder()
    recorder.session.close()
    for line in calls.read_text().splitlines():
        method, path, status = line.split()
        recorder.calls.append((method, path, int(status)))
    templates = openapi_operations(openapi)
    assert templates and templates - recorder.operations(templates) == set()


def test_python_sdk_verifies_a_real_delivery(side_server: LiveServer, tmp_path: Path) -> None:
    captured = json.loads(capture_delivery(side_server, tmp_path).read_text())
    body = captured["body"].encode("utf-8")
    headers = {
        "X-Signature-256": captured["signature"],
        "X-Webhook-Signature": captured["webhookSignature"],
        "X-Webhook-Timestamp": captured["webhookTimestamp"],
    }
    # Just sent: the real clock is within the attempt's five minutes.
    event = verify_delivery(WEBHOOK_SECRET, body, headers)
    assert isinstance(event, WebhookEvent) and event.event == "WEBHOOK_TEST"
    assert event.signature == captured["signature"]
    replayed_at = datetime.fromtimestamp(int(captured["webhookTimestamp"]) + 360, UTC)
    with pytest.raises(WebhookTimestampError):
        verify_delivery(WEBHOOK_SECRET, body, headers, now=replayed_at)
    # The seed's body signature alone still verifies.
    assert verify_delivery(WEBHOOK_SECRET, body, captured["signature"]) == event


def test_go_sources_are_formatted_and_vetted() -> None:
    for directory in (GO_SDK, GO_EXAMPLE):
        gofmt = subprocess.run(
            [str(Path(go_tool()).resolve().parent / "gofmt"), "-l", "."],
            cwd=directory,
            capture_output=True,
            text=True,
            check=False,
        )
        assert gofmt.returncode == 0 and gofmt.stdout == "", gofmt.stdout + gofmt.stderr
        vet = run_go(["vet", "./..."], directory)
        assert vet.returncode == 0, vet.stdout + vet.stderr


def tokens(line: str) -> str:
    return " ".join(line.split())


def test_the_example_is_the_seed_snippet_with_only_what_go_needs() -> None:
    seed = [tokens(line) for line in SNIPPET_7_3.splitlines() if line.strip()]
    example = [
        tokens(line)
        for line in (GO_EXAMPLE / "main.go").read_text().splitlines()
        if line.strip() and not line.startswith("//")
    ]
    added: list[str] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=seed, b=example).get_opcodes():
        assert tag in ("equal", "insert"), (tag, seed[i1:i2], example[j1:j2])
        if tag == "insert":
            added.extend(example[j1:j2])
    assert added == ADDED_TO_7_3


def test_seed_7_3_program_runs_against_the_demo(
    api_base: str, admin_key: str, client: GpuManagementClient, tmp_path: Path
) -> None:
    program = tmp_path / "seed-7.3"
    shutil.copytree(GO_EXAMPLE, program)
    main = program / "main.go"
    source = main.read_text()
    assert source.count(PLACEHOLDER_BASE_URL) == 1 and source.count(PLACEHOLDER_API_KEY) == 1
    main.write_text(
        source.replace(PLACEHOLDER_BASE_URL, api_base).replace(PLACEHOLDER_API_KEY, admin_key)
    )
    module = program / "go.mod"
    module.write_text(module.read_text().replace("../../clients/go", str(GO_SDK)))
    before = {a.allocation_id for a in client.allocations.list(namespace="model-serving")}
    result = run_go(["run", "."], program)
    made = [
        a
        for a in client.allocations.list(namespace="model-serving")
        if a.allocation_id not in before
    ]
    try:
        assert result.returncode == 0, result.stdout + result.stderr
        (allocation,) = made
        assert allocation.pod_name == "vllm-pod" and allocation.workload_type == "Inference"
        assert (
            allocation.resource_type == "MIG_INSTANCE"
            and (allocation.allocated_memory_gb or 0) >= 20
        )
        # Every GPU of the inventory (other tests register GPUs beyond the fleet's).
        count = len(client.devices.list())
        assert f"{count} GPUs; allocation {allocation.allocation_id}" in result.stderr
    finally:
        for allocation in made:
            client.allocations.release(allocation.allocation_id or "")


# The request bodies of clients/go/requests.go and the schemas they are sent as.
GO_REQUESTS = {
    "AllocationRequest": "AllocationRequest",
    "DeviceRegistration": "DeviceRegistration",
    "BudgetRequest": "BudgetRequest",
    "WebhookRequest": "WebhookCreate",
    "WebhookUpdate": "WebhookUpdate",
    "MetricsCollectRequest": "BatchMetricsCollectRequest",
    "UserRequest": "UserCreate",
    "UserUpdate": "UserUpdate",
    "PasswordRequest": "Password",
    "APIKeyRequest": "ApiKeyCreate",
}


def test_go_models_mirror_the_openapi_schemas(openapi: dict[str, Any]) -> None:
    schemas = openapi["components"]["schemas"]
    models = go_structs("models.go")
    assert len(models) >= 80
    for name, keys in models.items():
        # Go spells the initialisms API, GPU and MIG; the schemas are named as the Python classes.
        python_name = re.sub("API", "Api", re.sub("GPU", "Gpu", re.sub("MIG", "Mig", name)))
        schema = schemas[SCHEMA_NAMES.get(python_name, python_name)]
        assert keys == set(schema["properties"]), (name, keys ^ set(schema["properties"]))


def test_go_request_bodies_mirror_the_openapi_schemas(openapi: dict[str, Any]) -> None:
    schemas = openapi["components"]["schemas"]
    requests_go = go_structs("requests.go")
    for name, schema_name in GO_REQUESTS.items():
        keys, expected = requests_go[name], set(schemas[schema_name]["properties"])
        assert keys == expected, (name, keys ^ expected)
