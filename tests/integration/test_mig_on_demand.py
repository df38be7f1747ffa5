"""MIG on demand end to end, on the stack as the demo runs it: a useMig allocation on a fleet
without MIG layouts carves an idle A100 through the declarative path, the simulated mig-manager
applies the published config to the simulated GPU, the exporter reports the instances, the
inventory sync marks them APPLIED and the allocation becomes READY. A GPU with a running pod is
never repartitioned."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from devstack.stack import Stack
from tests.sdk.test_seed_scenarios import SNIPPET_7_1
from tests.stack_fixtures import ROOT

FLEET = ROOT / "simulator" / "fleets" / "test-mig-on-demand.yaml"
IDLE_A100 = "sim-mig-1-GPU-00"
BUSY_A100 = "sim-mig-1-GPU-01"  # the vLLM pod holds it whole
# The seed's allocation example, with useMig as its section 7.1 snippet has it.
SEED_REQUEST = {
    "namespace": "model-serving",
    "podName": "vllm-llama2-7b-chat",
    "containerName": "vllm-container",
    "workloadType": "Inference",
    "requiredMemoryGb": 20,
    "useMig": True,
    "preferredModelId": "A100_80GB",
    "userId": "user123",
    "teamId": "ml-team",
    "projectId": "llm-project",
}


def mig_stack(base: Path) -> Stack:
    """The stack on the fleet without MIG layouts, mig-managers on, as ``make demo`` runs."""
    return Stack(
        FLEET,
        days=0.25,
        end=time.time(),
        scrape_interval="1s",
        evaluation_interval="1s",
        workdir=base / "stack",
        cache_dir=base / "cache",
        analytics_env={
            "GPU_ANALYTICS_FORECAST_WARMUP": "false",
            "GPU_ANALYTICS_SYNC_INTERVAL_SECONDS": "0",
        },
        mig_manager=True,
    )


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with mig_stack(tmp_path_factory.mktemp("mig-on-demand")) as running:
        yield running


def call(stack: Stack, method: str, path: str, body: Any = None) -> requests.Response:
    return requests.request(
        method,
        stack.analytics_url + path,
        json=body,
        headers={"Authorization": f"Bearer {stack.admin_api_key}"},
        timeout=30,
    )


def data(response: requests.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()["data"]


def node_labels(stack: Stack) -> dict[str, str]:
    node = requests.get(f"{stack.kube_api_url}/api/v1/nodes/sim-mig-1", timeout=5).json()
    labels: dict[str, str] = node["metadata"]["labels"]
    return labels


def test_mig_on_demand_carves_applies_and_fills(stack: Stack) -> None:
    data(call(stack, "POST", "/gpu/metrics/collect"))
    before = data(call(stack, "GET", f"/gpu/mig/devices/{IDLE_A100}"))
    assert before["instances"] == []

    first = data(call(stack, "POST", "/gpu/allocations", SEED_REQUEST), 201)
    assert first["status"] == "ALLOCATED"
    assert first["resourceType"] == "MIG_INSTANCE"
    assert first["deviceId"] == IDLE_A100
    assert first["migProfile"] == "2g.20gb"
    assert first["resourceState"] == "PENDING"
    assert first["kubernetes"]["ready"] is False
    assert first["kubernetes"]["resourceName"] == "nvidia.com/mig-2g.20gb"

    layout = data(call(stack, "GET", f"/gpu/mig/devices/{IDLE_A100}"))
    assert layout["desiredLayout"] == ["2g.20gb@0", "2g.20gb@2", "2g.20gb@4", "1g.20gb@6"]
    assert {i["state"] for i in layout["instances"]} == {"PENDING"}
    # Published for the mig-manager: the node's label names a config of the ConfigMap.
    label = node_labels(stack)["nvidia.com/mig.config"]
    assert label.startswith("gpu-analytics-")

    # The simulated mig-manager applies it, the exporter reports it, the sync records it.
    deadline = time.monotonic() + 120
    while True:
        data(call(stack, "POST", "/gpu/metrics/collect"))
        allocation = data(call(stack, "GET", f"/gpu/allocations/{first['allocationId']}"))
        if allocation["resourceState"] == "READY":
            break
        assert time.monotonic() < deadline, (allocation, node_labels(stack))
        time.sleep(1)
    assert node_labels(stack)["nvidia.com/mig.config.state"] == "success"
    assert allocation["kubernetes"]["ready"] is True
    applied = data(call(stack, "GET", f"/gpu/mig/devices/{IDLE_A100}"))
    assert applied["inSync"] is True
    assert {i["state"] for i in applied["instances"]} == {"APPLIED"}
    assert all(i["migUuid"].startswith("MIG-") for i in applied["instances"])
    assert applied["observedLayout"] == applied["desiredLayout"]

    # A second request takes the next free slice of that layout, ready at once.
    second = data(
        call(stack, "POST", "/gpu/allocations", {**SEED_REQUEST, "podName": "second"}), 201
    )
    assert second["deviceId"] == IDLE_A100
    assert second["allocatedResource"] != first["allocatedResource"]
    assert second["resourceState"] == "READY"
    layout_now = data(call(stack, "GET", f"/gpu/mig/devices/{IDLE_A100}"))
    assert layout_now["desiredLayout"] == applied["desiredLayout"]

    # 70 GB needs a 7g.80gb: the carved GPU holds allocations and the other A100 a running
    # pod, so nothing is repartitioned.
    refused = call(
        stack,
        "POST",
        "/gpu/allocations",
        {**SEED_REQUEST, "podName": "big", "requiredMemoryGb": 70},
    )
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["code"] == "INSUFFICIENT_RESOURCES"
    busy = data(call(stack, "GET", f"/gpu/mig/devices/{BUSY_A100}"))
    assert busy["instances"] == []
    assert data(call(stack, "GET", f"/gpu/devices/{BUSY_A100}"))["deviceStatus"] == "ACTIVE"
    assert node_labels(stack)["nvidia.com/mig.config"] == label


def test_the_seed_snippet_7_1_gets_a_mig_instance_without_any_layout(tmp_path: Path) -> None:
    with mig_stack(tmp_path) as fresh:
        data(call(fresh, "POST", "/gpu/metrics/collect"))
        assert data(call(fresh, "GET", "/gpu/mig/statistics"))["totalInstances"] == 0
        snippet = SNIPPET_7_1.replace(
            "http://your-server:8080/k8s-monitor/api/v1", fresh.analytics_url
        ).replace('"your-api-key"', repr(fresh.admin_api_key))
        report = "\nimport json\nprint(json.dumps(allocation.to_api()))\n"
        result = subprocess.run(
            [sys.executable, "-c", snippet + report],
            cwd=ROOT,
            check=False,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        allocation = json.loads(result.stdout)
        assert allocation["status"] == "ALLOCATED"
        assert allocation["resourceType"] == "MIG_INSTANCE"
        assert allocation["deviceId"] == IDLE_A100
        assert allocation["allocatedMemoryGb"] >= 20
        assert allocation["resourceState"] == "PENDING"
