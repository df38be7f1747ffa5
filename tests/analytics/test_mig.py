"""MIG layouts through the API: the geometry of gpucatalog/mig.py (NVIDIA's MIG user guide),
desired state, delete rules."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
import yaml
from flask.testing import FlaskClient

from tests.analytics.conftest import ADMIN, API, assert_error, register

# Each test runs on SQLite and on PostgreSQL (tests/pg_fixtures.py).
pytestmark = pytest.mark.databases

DEVICE = "gpu-worker-1-GPU-00"


def create(client: FlaskClient, profiles: list[str], device: str = DEVICE) -> Any:
    return client.post(
        f"{API}/gpu/mig/devices/{device}", json={"profileIds": profiles}, headers=ADMIN
    )


# (model, profiles already on the GPU, profiles requested, expected status, expected code):
# a layout the model can never hold is in the body, so VALIDATION_ERROR
CASES = [
    ("A100_80GB", [], ["1g.10gb", "2g.20gb", "4g.40gb"], 201, None),
    ("A100_80GB", [], ["1g.10gb", "2g.20gb", "1g.10gb"], 201, None),
    ("A100_80GB", [], ["1g.10gb"] * 7, 201, None),
    ("A100_80GB", [], ["1g.10gb"] * 8, 400, "VALIDATION_ERROR"),
    ("A100_80GB", [], ["7g.80gb"], 201, None),
    ("A100_80GB", [], ["3g.40gb", "3g.40gb"], 201, None),
    ("A100_80GB", [], ["4g.40gb", "4g.40gb"], 400, "VALIDATION_ERROR"),
    ("A100_80GB", [], ["1g.10gb+me", "1g.10gb+me"], 400, "VALIDATION_ERROR"),
    ("A100_40GB", [], ["3g.20gb", "3g.20gb", "1g.5gb"], 400, "VALIDATION_ERROR"),
    ("A100_40GB", [], ["3g.20gb", "2g.10gb", "1g.5gb"], 201, None),
    ("A100_80GB", [], ["1g.5gb"], 400, "VALIDATION_ERROR"),  # an A100-40GB name
    ("H100_80GB", [], ["1g.10gb", "2g.20gb", "4g.40gb"], 201, None),
    ("H200_141GB", [], ["1g.18gb", "3g.71gb"], 201, None),
    ("A30_24GB", [], ["2g.12gb", "2g.12gb"], 201, None),
    ("A30_24GB", [], ["4g.24gb", "1g.6gb"], 400, "VALIDATION_ERROR"),
    ("RTX4090", [], ["1g.10gb"], 422, "MIG_NOT_SUPPORTED"),
    ("L4", [], ["1g.10gb"], 422, "MIG_NOT_SUPPORTED"),
    ("A100_80GB", [], [], 400, "VALIDATION_ERROR"),
    ("A100_80GB", [], ["bogus"], 400, "VALIDATION_ERROR"),
    # Partly carved GPUs: what is already there decides.
    ("A100_80GB", ["1g.10gb"], ["4g.40gb"], 409, "INSUFFICIENT_RESOURCES"),  # 1g@0 blocks 4g
    ("A100_80GB", ["4g.40gb"], ["2g.20gb", "1g.10gb"], 201, None),
    ("A100_80GB", ["4g.40gb"], ["3g.40gb"], 201, None),
    # Valid on an empty GPU, so only the current layout blocks them: 409, not 400.
    ("A100_80GB", ["4g.40gb", "3g.40gb"], ["1g.10gb"], 409, "INSUFFICIENT_RESOURCES"),
    ("A100_80GB", ["7g.80gb"], ["1g.10gb"], 409, "INSUFFICIENT_RESOURCES"),
    ("A100_80GB", ["1g.10gb"] * 6, ["1g.10gb"] * 2, 409, "INSUFFICIENT_RESOURCES"),
    ("A100_80GB", ["1g.10gb"], ["1g.10gb"] * 8, 400, "VALIDATION_ERROR"),  # 8 never fit
    ("A100_80GB", ["1g.10gb"] * 3, ["3g.40gb"], 201, None),
    ("A100_80GB", ["1g.10gb"] * 5, ["2g.20gb"], 409, "INSUFFICIENT_RESOURCES"),
]


@pytest.mark.parametrize(("model", "existing", "profiles", "status", "code"), CASES)
def test_mig_geometry(
    client: FlaskClient,
    model: str,
    existing: list[str],
    profiles: list[str],
    status: int,
    code: str | None,
) -> None:
    register(client, "gpu-worker-1", 0, model=model)
    if existing:
        assert create(client, existing).status_code == 201
    response = create(client, profiles)
    if code is None:
        assert response.status_code == status, response.get_json()
        layout = response.get_json()["data"]
        assert sorted(i["profile"] for i in layout["instances"]) == sorted(existing + profiles)
        spans = sorted(
            (i["startSlice"], i["startSlice"] + i["memorySlices"]) for i in layout["instances"]
        )
        assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans)), spans
    else:
        error = assert_error(response, status, code)
        if status == 400:
            # A layout the model can never hold is the body's fault: the field is named.
            assert "profileIds" in error["fields"] and error["details"], error
        after = client.get(f"{API}/gpu/mig/devices/{DEVICE}").get_json()["data"]
        assert sorted(i["profile"] for i in after["instances"]) == sorted(existing)


def test_seed_layout_is_pending_with_placements_and_config(client: FlaskClient) -> None:
    register(client, "gpu-worker-1", 0)
    layout = create(client, ["1g.10gb", "2g.20gb", "4g.40gb"]).get_json()["data"]
    placements = {i["profile"]: i["startSlice"] for i in layout["instances"]}
    assert placements == {"4g.40gb": 0, "2g.20gb": 4, "1g.10gb": 6}
    assert [i["instanceId"] for i in layout["instances"]] == [
        f"{DEVICE}-MIG-01",
        f"{DEVICE}-MIG-02",
        f"{DEVICE}-MIG-03",
    ]
    assert {i["state"] for i in layout["instances"]} == {"PENDING"}
    assert layout["pendingInstances"] == 3
    assert layout["deviceStatus"] == "MIG_ENABLED"
    assert layout["freeMemorySlices"] == [7]
    config = layout["migConfig"]
    assert config["labelKey"] == "nvidia.com/mig.config"
    parted = yaml.safe_load(config["migPartedConfig"])
    assert parted["version"] == "v1"
    entry = parted["mig-configs"][config["labelValue"]][0]
    assert entry["devices"] == [0]
    assert entry["mig-enabled"] is True
    assert entry["mig-devices"] == {"1g.10gb": 1, "2g.20gb": 1, "4g.40gb": 1}
    instance = next(i for i in layout["instances"] if i["profile"] == "2g.20gb")
    assert instance["resourceName"] == "nvidia.com/mig-2g.20gb"
    assert instance["costPerHour"] == round(2.29 * 2 / 7, 4)


def test_available_statistics_and_delete_rules(client: FlaskClient) -> None:
    register(client, "gpu-worker-1", 0)
    create(client, ["1g.10gb", "2g.20gb", "4g.40gb"])
    available = client.get(f"{API}/gpu/mig/available").get_json()["data"]
    assert len(available) == 3
    allocation = client.post(
        f"{API}/gpu/allocations",
        json={"namespace": "dev", "podName": "nb", "useMig": True, "requiredMemoryGb": 15},
        headers=ADMIN,
    ).get_json()["data"]
    assert allocation["migProfile"] == "2g.20gb"
    assert len(client.get(f"{API}/gpu/mig/available").get_json()["data"]) == 2
    stats = client.get(f"{API}/gpu/mig/statistics").get_json()["data"]
    assert stats["totalInstances"] == 3
    assert stats["allocatedInstances"] == 1
    assert stats["pendingInstances"] == 3
    assert stats["instancesByProfile"]["2g.20gb"] == {"total": 1, "allocated": 1, "free": 0}
    assert stats["allocationRate"] == pytest.approx(33.33)

    refused = client.delete(f"{API}/gpu/mig/devices/{DEVICE}", headers=ADMIN)
    error = assert_error(refused, 409, "GPU_NOT_AVAILABLE")
    assert error["context"]["allocatedInstances"][0]["allocationId"] == allocation["allocationId"]

    client.delete(f"{API}/gpu/allocations/{allocation['allocationId']}", headers=ADMIN)
    removed = client.delete(f"{API}/gpu/mig/devices/{DEVICE}", headers=ADMIN)
    assert removed.status_code == 200
    assert removed.get_json()["data"]["instances"] == []
    assert removed.get_json()["data"]["deviceStatus"] == "ACTIVE"


def test_mig_on_unknown_or_unavailable_device(client: FlaskClient) -> None:
    assert_error(create(client, ["1g.10gb"], "missing-GPU-00"), 404, "RESOURCE_NOT_FOUND")
    register(client, "gpu-worker-1", 0)
    client.post(
        f"{API}/gpu/allocations",
        json={"namespace": "a", "podName": "p", "requiredMemoryGb": 40},
        headers=ADMIN,
    )
    assert_error(create(client, ["1g.10gb"]), 409, "GPU_NOT_AVAILABLE")
    register(client, "gpu-worker-1", 1)
    client.put(f"{API}/gpu/devices/gpu-worker-1-GPU-01/status?status=MAINTENANCE", headers=ADMIN)
    assert_error(create(client, ["1g.10gb"], "gpu-worker-1-GPU-01"), 409, "GPU_NOT_AVAILABLE")
