"""Every device id form exporter/deviceids.py lists parses to the right DeviceRef; others are
refused."""

from __future__ import annotations

import pytest

from exporter.deviceids import DeviceIdError, DeviceRef, parse_device_id

UUID = "8c3b5f2e-1a4d-4e6f-9b0a-7c2d1e3f4a5b"
MIG = "MIG-4f2e8a1b-9c3d-5e7f-a0b1-c2d3e4f5a6b7"


@pytest.mark.parametrize(
    ("device_id", "expected"),
    [
        (f"GPU-{UUID}", DeviceRef(kind="gpu", gpu_uuid=f"GPU-{UUID}")),
        ("0", DeviceRef(kind="gpu", index=0)),
        ("7", DeviceRef(kind="gpu", index=7)),
        (f"{UUID}::3", DeviceRef(kind="gpu", gpu_uuid=f"GPU-{UUID}", replica=3)),
        (f"GPU-{UUID}::0", DeviceRef(kind="gpu", gpu_uuid=f"GPU-{UUID}", replica=0)),
        (MIG, DeviceRef(kind="mig", mig_uuid=MIG)),
        (f"{MIG}::2", DeviceRef(kind="mig", mig_uuid=MIG, replica=2)),
        (
            f"MIG-GPU-{UUID}/1/0",
            DeviceRef(kind="mig", gpu_uuid=f"GPU-{UUID}", gpu_instance_id=1, compute_instance_id=0),
        ),
        ("nvidia0", DeviceRef(kind="gpu", index=0)),
        ("nvidia3/vgpu5", DeviceRef(kind="gpu", index=3, replica=5)),
        ("nvidia1/gi7", DeviceRef(kind="mig", index=1, gpu_instance_id=7)),
        (f"  GPU-{UUID}\n", DeviceRef(kind="gpu", gpu_uuid=f"GPU-{UUID}")),
    ],
)
def test_known_forms_parse(device_id: str, expected: DeviceRef) -> None:
    assert parse_device_id(device_id) == expected


def test_replica_marks_the_device_shared() -> None:
    assert parse_device_id(f"GPU-{UUID}::1").shared
    assert parse_device_id("nvidia0/vgpu1").shared
    assert not parse_device_id(f"GPU-{UUID}").shared


@pytest.mark.parametrize(
    "device_id",
    [
        "",
        "   ",
        "gpu0",
        "GPU-",
        "MIG-",
        "amd.com/gpu-0",
        f"GPU-{UUID}::x",
        f"GPU-{UUID}::",
        "nvidia0/vgpu1::2",
        "nvidia0/mig1",
        f"MIG-GPU-{UUID}/1",
        "not-a-uuid::1",
        "-1",
    ],
)
def test_unknown_forms_raise_a_value_error_naming_the_id(device_id: str) -> None:
    with pytest.raises(DeviceIdError) as info:
        parse_device_id(device_id)
    assert isinstance(info.value, ValueError)
    if device_id.strip():
        assert repr(device_id) in str(info.value)
