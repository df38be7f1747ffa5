"""GPU inventory: registration, duplicates, filters, status changes, statistics."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from tests.analytics.conftest import ADMIN, API, assert_error, register

# Each test runs on SQLite and on PostgreSQL (tests/pg_fixtures.py).
pytestmark = pytest.mark.databases

SEED_DEVICE = {
    "nodeName": "gpu-worker-1",
    "modelId": "A100_80GB",
    "deviceIndex": 0,
    "serialNumber": "1234567890",
    "pciAddress": "0000:17:00.0",
    "gpuUuid": "GPU-12345678-1234-1234-1234-123456789012",
    "driverVersion": "470.129.06",
    "firmwareVersion": "92.00.36.00.01",
    "purchaseCost": 15000.0,
    "warrantyExpiryDate": "2026-08-03T00:00:00Z",
}


def test_register_the_seed_device(client: FlaskClient) -> None:
    response = client.post(f"{API}/gpu/devices", json=SEED_DEVICE, headers=ADMIN)
    assert response.status_code == 201
    device = response.get_json()["data"]
    assert device["deviceId"] == "gpu-worker-1-GPU-00"
    assert device["modelName"] == "NVIDIA A100 80GB"
    assert device["memoryGb"] == 80
    assert device["architecture"] == "Ampere"
    assert device["migSupport"] is True
    assert device["deviceStatus"] == "ACTIVE"
    assert device["allocated"] is False
    assert device["warrantyExpiryDate"] == "2026-08-03T00:00:00Z"
    assert device["purchaseCost"] == 15000.0
    # Live metrics come from Prometheus in a later issue; until then they are null.
    assert device["currentTempC"] is None
    assert device["currentPowerW"] is None
    assert device["currentUtilization"] is None


def test_duplicate_registration_is_409(client: FlaskClient) -> None:
    register(client, "gpu-worker-1", 0, gpuUuid="GPU-aaaa")
    again = client.post(
        f"{API}/gpu/devices",
        json={"nodeName": "gpu-worker-1", "modelId": "A100_80GB", "deviceIndex": 0},
        headers=ADMIN,
    )
    assert_error(again, 409, "RESOURCE_ALREADY_EXISTS")
    same_uuid = client.post(
        f"{API}/gpu/devices",
        json={
            "nodeName": "gpu-worker-2",
            "modelId": "A100_80GB",
            "deviceIndex": 0,
            "gpuUuid": "GPU-aaaa",
        },
        headers=ADMIN,
    )
    error = assert_error(same_uuid, 409, "RESOURCE_ALREADY_EXISTS")
    assert error["context"]["existingDeviceId"] == "gpu-worker-1-GPU-00"


def test_unknown_model_is_a_validation_error_in_a_body_and_invalid_in_a_query(
    client: FlaskClient,
) -> None:
    response = client.post(
        f"{API}/gpu/devices",
        json={"nodeName": "gpu-worker-1", "modelId": "V100", "deviceIndex": 0},
        headers=ADMIN,
    )
    error = assert_error(response, 400, "VALIDATION_ERROR")
    assert "A100_80GB" in error["fields"]["modelId"][0]
    assert error["details"].startswith("modelId: Unknown GPU model 'V100'")
    error = assert_error(client.get(f"{API}/gpu/devices?modelId=V100"), 400, "INVALID_PARAMETER")
    assert "A100_80GB" in error["context"]["knownModels"]


def test_bad_registration_fields(client: FlaskClient) -> None:
    for body in (
        {"nodeName": "gpu-worker-1", "modelId": "A100_80GB", "deviceIndex": -1},
        {"nodeName": "gpu-worker-1", "modelId": "A100_80GB", "deviceIndex": "0"},
        {"nodeName": "GPU Worker", "modelId": "A100_80GB", "deviceIndex": 0},
        {"modelId": "A100_80GB", "deviceIndex": 0},
        {"nodeName": "n", "modelId": "A100_80GB", "deviceIndex": 0, "purchaseCost": -3},
    ):
        response = client.post(f"{API}/gpu/devices", json=body, headers=ADMIN)
        assert_error(response, 400, "VALIDATION_ERROR")


def test_unknown_device_is_404(client: FlaskClient) -> None:
    assert_error(client.get(f"{API}/gpu/devices/invalid-device-id"), 404, "RESOURCE_NOT_FOUND")
    assert_error(
        client.put(f"{API}/gpu/devices/nope/status?status=ACTIVE", headers=ADMIN),
        404,
        "RESOURCE_NOT_FOUND",
    )


def test_list_filters(client: FlaskClient) -> None:
    register(client, "gpu-worker-1", 0)
    register(client, "gpu-worker-1", 1, model="H100_80GB")
    register(client, "gpu-worker-2", 0, model="RTX4090")
    client.put(f"{API}/gpu/devices/gpu-worker-2-GPU-00/status?status=MAINTENANCE", headers=ADMIN)
    client.post(
        f"{API}/gpu/allocations",
        json={
            "namespace": "a",
            "podName": "p",
            "requiredMemoryGb": 80,
            "preferredModelId": "H100_80GB",
        },
        headers=ADMIN,
    )

    def ids(query: str) -> list[str]:
        response = client.get(f"{API}/gpu/devices{query}")
        assert response.status_code == 200
        return [d["deviceId"] for d in response.get_json()["data"]]

    assert ids("") == ["gpu-worker-1-GPU-00", "gpu-worker-1-GPU-01", "gpu-worker-2-GPU-00"]
    assert ids("?nodeName=gpu-worker-2") == ["gpu-worker-2-GPU-00"]
    assert ids("?modelId=H100_80GB") == ["gpu-worker-1-GPU-01"]
    assert ids("?status=available") == ["gpu-worker-1-GPU-00"]
    assert ids("?status=active") == ["gpu-worker-1-GPU-00", "gpu-worker-1-GPU-01"]
    assert ids("?status=maintenance") == ["gpu-worker-2-GPU-00"]
    assert ids("?status=MAINTENANCE") == ["gpu-worker-2-GPU-00"]
    assert ids("?nodeName=gpu-worker-1&modelId=A100_80GB&status=available") == [
        "gpu-worker-1-GPU-00"
    ]


def test_status_update_and_statistics(client: FlaskClient) -> None:
    register(client, "gpu-worker-1", 0)
    register(client, "gpu-worker-1", 1)
    register(client, "gpu-worker-2", 0, model="RTX4090")
    for status in ("INACTIVE", "MAINTENANCE", "FAILED", "MIG_ENABLED", "ACTIVE"):
        response = client.put(
            f"{API}/gpu/devices/gpu-worker-1-GPU-01/status?status={status}", headers=ADMIN
        )
        assert response.get_json()["data"]["deviceStatus"] == status
    client.put(f"{API}/gpu/devices/gpu-worker-2-GPU-00/status?status=FAILED", headers=ADMIN)
    client.post(
        f"{API}/gpu/allocations",
        json={"namespace": "a", "podName": "p", "requiredMemoryGb": 40},
        headers=ADMIN,
    )
    stats = client.get(f"{API}/gpu/devices/statistics").get_json()["data"]
    assert stats["totalDevices"] == 3
    assert stats["devicesByModel"] == {"A100_80GB": 2, "RTX4090": 1}
    assert stats["devicesByNode"] == {"gpu-worker-1": 2, "gpu-worker-2": 1}
    assert stats["devicesByStatus"] == {"ACTIVE": 2, "FAILED": 1}
    assert stats["allocatedDevices"] == 1
    assert stats["availableDevices"] == 1
    assert stats["allocationRate"] == 50.0
