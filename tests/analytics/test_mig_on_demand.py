"""MIG on demand in the ledger: a useMig allocation no free instance fits carves an idle
MIG-capable GPU through the declarative layout path (desired instances, PENDING); the next
request fills the layout; GPUs holding an allocation are never repartitioned; whole-GPU
requests keep MIG-capable GPUs for MIG work. Real SQLite (and PostgreSQL), no Prometheus: the
running-pod case runs on the stack (tests/integration/test_mig_on_demand.py)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from flask.testing import FlaskClient

from tests.analytics.conftest import ADMIN, API, AppFactory, assert_error, register

pytestmark = pytest.mark.databases

SEED_EXAMPLE = {
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


def allocate(client: FlaskClient, **fields: Any) -> Any:
    return client.post(f"{API}/gpu/allocations", json={**SEED_EXAMPLE, **fields}, headers=ADMIN)


def layout(client: FlaskClient, device_id: str) -> dict[str, Any]:
    body: dict[str, Any] = client.get(f"{API}/gpu/mig/devices/{device_id}").get_json()["data"]
    return body


@pytest.fixture
def fleet(client: FlaskClient) -> FlaskClient:
    """No MIG layout anywhere: two A100 80GB, an H100 and an RTX 4090."""
    register(client, "gpu-worker-1", 0, model="A100_80GB")
    register(client, "gpu-worker-1", 1, model="A100_80GB")
    register(client, "gpu-worker-2", 0, model="H100_80GB")
    register(client, "gpu-worker-2", 1, model="RTX4090")
    return client


def test_the_seed_example_carves_an_idle_gpu(fleet: FlaskClient) -> None:
    response = allocate(fleet)
    assert response.status_code == 201, response.get_json()
    data = response.get_json()["data"]
    assert data["status"] == "ALLOCATED"
    assert data["resourceType"] == "MIG_INSTANCE"
    assert data["deviceId"] == "gpu-worker-1-GPU-00"
    assert data["migProfile"] == "2g.20gb"
    assert data["allocatedMemoryGb"] == 20
    assert data["costPerHour"] == round(2.29 * 2 / 7, 4)
    assert data["resourceState"] == "PENDING"
    assert data["kubernetes"]["ready"] is False
    assert data["kubernetes"]["resourceName"] == "nvidia.com/mig-2g.20gb"

    carved = layout(fleet, "gpu-worker-1-GPU-00")
    assert carved["deviceStatus"] == "MIG_ENABLED"
    assert carved["desiredLayout"] == ["2g.20gb@0", "2g.20gb@2", "2g.20gb@4", "1g.20gb@6"]
    assert carved["observedLayout"] == []
    assert {i["state"] for i in carved["instances"]} == {"PENDING"}
    assert carved["freeMemorySlices"] == [] and carved["strandedComputeSlices"] == 0
    taken = next(i for i in carved["instances"] if i["allocated"])
    assert taken["instanceId"] == data["allocatedResource"]
    assert taken["startSlice"] == 0
    parted = yaml.safe_load(carved["migConfig"]["migPartedConfig"])
    entry = parted["mig-configs"][carved["migConfig"]["labelValue"]][0]
    assert entry["mig-devices"] == {"1g.20gb": 1, "2g.20gb": 3}
    # Nothing else was carved.
    assert layout(fleet, "gpu-worker-1-GPU-01")["instances"] == []
    assert layout(fleet, "gpu-worker-2-GPU-00")["instances"] == []


def test_the_next_request_fills_the_layout_before_carving_another_gpu(
    fleet: FlaskClient,
) -> None:
    first = allocate(fleet).get_json()["data"]
    devices = {first["deviceId"]}
    resources = {first["allocatedResource"]}
    for n in range(3):
        data = allocate(fleet, podName=f"next-{n}").get_json()["data"]
        devices.add(data["deviceId"])
        resources.add(data["allocatedResource"])
    assert devices == {"gpu-worker-1-GPU-00"}
    assert len(resources) == 4
    # The layout is full: the fifth carves the other A100.
    fifth = allocate(fleet, podName="fifth").get_json()["data"]
    assert fifth["deviceId"] == "gpu-worker-1-GPU-01"
    stats = fleet.get(f"{API}/gpu/mig/statistics").get_json()["data"]
    assert stats["totalInstances"] == 8 and stats["allocatedInstances"] == 5


def test_smallest_profile_for_the_memory(fleet: FlaskClient) -> None:
    small = allocate(fleet, requiredMemoryGb=8).get_json()["data"]
    assert small["migProfile"] == "1g.10gb"
    assert layout(fleet, small["deviceId"])["desiredLayout"] == [f"1g.10gb@{s}" for s in range(7)]
    large = allocate(fleet, podName="large", requiredMemoryGb=35).get_json()["data"]
    assert large["migProfile"] == "3g.40gb"
    assert large["deviceId"] != small["deviceId"]
    assert layout(fleet, large["deviceId"])["desiredLayout"] == ["3g.40gb@0", "3g.40gb@4"]


def test_gpus_holding_an_allocation_are_never_repartitioned(fleet: FlaskClient) -> None:
    for n, device in enumerate(
        ("gpu-worker-1-GPU-00", "gpu-worker-1-GPU-01", "gpu-worker-2-GPU-00")
    ):
        whole = allocate(
            fleet, podName=f"whole-{n}", useMig=False, requiredMemoryGb=60, preferredModelId=None
        ).get_json()["data"]
        assert whole["resourceType"] == "GPU"
        assert whole["deviceId"] == device
    refused = allocate(fleet, podName="mig")
    assert_error(refused, 409, "INSUFFICIENT_RESOURCES")
    for device in ("gpu-worker-1-GPU-00", "gpu-worker-1-GPU-01", "gpu-worker-2-GPU-00"):
        assert layout(fleet, device)["instances"] == []
    # Once one is released, it can be carved.
    first = fleet.get(f"{API}/gpu/allocations").get_json()["data"][0]
    fleet.delete(f"{API}/gpu/allocations/{first['allocationId']}", headers=ADMIN)
    assert allocate(fleet, podName="mig").status_code == 201
    assert layout(fleet, first["deviceId"])["instances"] != []


def test_nothing_is_carved_for_more_than_a_gpu_or_beyond_the_cost_limit(
    fleet: FlaskClient,
) -> None:
    assert_error(allocate(fleet, requiredMemoryGb=90), 409, "INSUFFICIENT_RESOURCES")
    assert_error(allocate(fleet, maxCostPerHour=0.1), 422, "COST_LIMIT_EXCEEDED")
    assert fleet.get(f"{API}/gpu/mig/statistics").get_json()["data"]["totalInstances"] == 0


def test_mig_on_demand_can_be_turned_off(make_app: AppFactory) -> None:
    client = make_app(mig_on_demand=False).test_client()
    register(client, "gpu-worker-1", 0, model="A100_80GB")
    assert_error(allocate(client), 409, "INSUFFICIENT_RESOURCES")
    assert layout(client, "gpu-worker-1-GPU-00")["instances"] == []


def test_whole_gpu_requests_prefer_gpus_without_mig(make_app: AppFactory) -> None:
    # Same memory; the A30 (MIG-capable) priced below the L4: the L4 is taken all the same.
    client = make_app(price_overrides={"A30_24GB": 0.3}).test_client()
    register(client, "gpu-worker-1", 0, model="A30_24GB")
    register(client, "gpu-worker-1", 1, model="L4")
    first = allocate(client, useMig=False, requiredMemoryGb=20, preferredModelId=None)
    assert first.get_json()["data"]["modelId"] == "L4"
    second = allocate(client, podName="b", useMig=False, requiredMemoryGb=20, preferredModelId=None)
    assert second.get_json()["data"]["modelId"] == "A30_24GB"
    # A preferred model still wins.
    client.delete(
        f"{API}/gpu/allocations/{first.get_json()['data']['allocationId']}", headers=ADMIN
    )
    client.delete(
        f"{API}/gpu/allocations/{second.get_json()['data']['allocationId']}", headers=ADMIN
    )
    preferred = allocate(
        client, podName="c", useMig=False, requiredMemoryGb=20, preferredModelId="A30_24GB"
    )
    assert preferred.get_json()["data"]["modelId"] == "A30_24GB"
