"""Inventory sync rules, with exact exporter answers from a scripted Prometheus API.

(The same sync against real exporters and a real Prometheus: test_metrics_stack.py.)
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask.testing import FlaskClient

from analytics.services.inventory.sync import InventorySync
from analytics.store import sync as sync_store
from gpucatalog.instance_ids import start_slice_for
from tests.analytics.conftest import ADMIN, API, AppFactory, FakeClock, assert_error, register
from tests.analytics.prom_fake import FakePrometheus

NODE = "gpu-worker-1"
UUID_A100 = "GPU-aaaaaaaa-0000-0000-0000-000000000001"
UUID_H100 = "GPU-aaaaaaaa-0000-0000-0000-000000000002"


def info(index: int, uuid: str, product: str, **extra: str) -> tuple[dict[str, str], float]:
    labels = {
        "stat": "info",
        "node": NODE,
        "gpu": str(index),
        "uuid": uuid,
        "model_name": product,
        "serial": f"SN{index}",
        "pci_bus_id": f"00000000:{17 + index:02X}:00.0",
        "driver_version": "550.127.05",
        "vbios_version": "92.00.EC.1C.99",
        "mig_mode": "disabled",
    }
    labels.update(extra)
    return labels, 1.0


def up(index: int, uuid: str, value: float = 1.0) -> tuple[dict[str, str], float]:
    return {"stat": "up", "node": NODE, "gpu": str(index), "uuid": uuid}, value


def mig(uuid: str, mig_uuid: str, profile: str, gi: int) -> tuple[dict[str, str], float]:
    labels = {
        "stat": "mig",
        "node": NODE,
        "gpu": "0",
        "uuid": uuid,
        "mig_uuid": mig_uuid,
        "profile": profile,
        "gpu_instance_id": str(gi),
        "compute_instance_id": "0",
    }
    return labels, 1.0


def two_gpus(*extra: tuple[dict[str, str], float]) -> list[tuple[dict[str, str], float]]:
    return [
        info(0, UUID_A100, "NVIDIA A100-SXM4-80GB"),
        up(0, UUID_A100),
        info(1, UUID_H100, "NVIDIA H100 80GB HBM3"),
        up(1, UUID_H100),
        *extra,
    ]


def collect(client: FlaskClient) -> dict[str, Any]:
    response = client.post(f"{API}/gpu/metrics/collect", headers=ADMIN)
    assert response.status_code == 200, response.get_json()
    data: dict[str, Any] = response.get_json()["data"]
    return data


def app_on(make_app: AppFactory, fake: FakePrometheus, clock: Any = None) -> FlaskClient:
    return make_app(clock=clock, prometheus_url=fake.url).test_client()


def test_reported_gpus_are_registered_once(
    make_app: AppFactory, fake_prometheus: FakePrometheus
) -> None:
    fake_prometheus.answer_vector(*two_gpus())
    client = app_on(make_app, fake_prometheus)
    first = collect(client)
    assert first["added"] == [f"{NODE}-GPU-00", f"{NODE}-GPU-01"]
    assert first["devicesReported"] == 2 and first["changed"] is True
    device = client.get(f"{API}/gpu/devices/{NODE}-GPU-00").get_json()["data"]
    assert device["modelId"] == "A100_80GB"
    assert device["gpuUuid"] == UUID_A100
    assert device["serialNumber"] == "SN0"
    assert device["pciAddress"] == "00000000:11:00.0"
    assert device["firmwareVersion"] == "92.00.EC.1C.99"
    assert device["source"] == "exporter"
    assert device["deviceStatus"] == "ACTIVE"

    again = collect(client)
    assert again["changed"] is False
    assert again["added"] == again["updated"] == []


def test_identity_follows_the_exporter_but_purchase_data_stays(
    make_app: AppFactory, fake_prometheus: FakePrometheus
) -> None:
    client = app_on(make_app, fake_prometheus)
    register(
        client,
        NODE,
        0,
        gpuUuid=UUID_A100,
        serialNumber="OLD",
        driverVersion="470.129.06",
        purchaseCost=15000.0,
        warrantyExpiryDate="2027-08-03T00:00:00Z",
    )
    fake_prometheus.answer_vector(*two_gpus())
    result = collect(client)
    assert result["added"] == [f"{NODE}-GPU-01"]
    assert result["updated"] == [
        {
            "deviceId": f"{NODE}-GPU-00",
            "fields": [
                "driverVersion",
                "firmwareVersion",
                "pciAddress",
                "productName",
                "serialNumber",
            ],
        }
    ]
    device = client.get(f"{API}/gpu/devices/{NODE}-GPU-00").get_json()["data"]
    assert device["serialNumber"] == "SN0"
    assert device["driverVersion"] == "550.127.05"
    assert device["purchaseCost"] == 15000.0
    assert device["warrantyExpiryDate"] == "2027-08-03T00:00:00Z"
    assert device["source"] == "api"


def test_lost_missing_and_restored_gpus_are_kept(
    make_app: AppFactory, fake_prometheus: FakePrometheus
) -> None:
    client = app_on(make_app, fake_prometheus)
    fake_prometheus.answer_vector(*two_gpus())
    collect(client)

    fake_prometheus.answer_vector(
        info(0, UUID_A100, "NVIDIA A100-SXM4-80GB"), up(0, UUID_A100, 0.0)
    )
    result = collect(client)
    assert result["lost"] == [f"{NODE}-GPU-00"]
    assert result["missing"] == [f"{NODE}-GPU-01"]
    devices = client.get(f"{API}/gpu/devices").get_json()["data"]
    assert [d["deviceId"] for d in devices] == [f"{NODE}-GPU-00", f"{NODE}-GPU-01"]
    assert [d["presence"] for d in devices] == ["LOST", "MISSING"]

    fake_prometheus.answer_vector(*two_gpus())
    result = collect(client)
    assert result["restored"] == [f"{NODE}-GPU-00", f"{NODE}-GPU-01"]
    assert result["lost"] == result["missing"] == []


def test_unknown_products_are_recorded_not_registered(
    make_app: AppFactory, fake_prometheus: FakePrometheus
) -> None:
    client = app_on(make_app, fake_prometheus)
    fake_prometheus.answer_vector(
        info(0, UUID_A100, "NVIDIA B200"), up(0, UUID_A100), info(1, UUID_H100, "NVIDIA L4")
    )
    result = collect(client)
    assert result["added"] == [f"{NODE}-GPU-01"]
    assert result["unrecognized"] == [
        {"nodeName": NODE, "deviceIndex": 0, "gpuUuid": UUID_A100, "productName": "NVIDIA B200"}
    ]
    status = client.get(f"{API}/gpu/metrics/collection-status").get_json()["data"]
    assert [g["productName"] for g in status["unrecognizedGpus"]] == ["NVIDIA B200"]
    assert status["lastSync"]["unrecognized"][0]["gpuUuid"] == UUID_A100


def test_observed_mig_layout_applies_the_desired_one(
    make_app: AppFactory, fake_prometheus: FakePrometheus
) -> None:
    client = app_on(make_app, fake_prometheus)
    register(client, NODE, 0, gpuUuid=UUID_A100)
    created = client.post(
        f"{API}/gpu/mig/devices/{NODE}-GPU-00",
        json={"profileIds": ["1g.10gb", "2g.20gb", "4g.40gb"]},
        headers=ADMIN,
    ).get_json()["data"]
    assert [i["state"] for i in created["instances"]] == ["PENDING"] * 3
    assert created["inSync"] is False
    # NVML's ids for 4g@0, 2g@4, 1g@6 on an 8-slice GPU.
    fake_prometheus.answer_vector(
        info(0, UUID_A100, "NVIDIA A100-SXM4-80GB", mig_mode="enabled"),
        up(0, UUID_A100),
        mig(UUID_A100, "MIG-4g", "4g.40gb", 1),
        mig(UUID_A100, "MIG-2g", "2g.20gb", 5),
        mig(UUID_A100, "MIG-1g", "1g.10gb", 13),
    )
    result = collect(client)
    assert sorted(result["migApplied"]) == [f"{NODE}-GPU-00-MIG-0{n}" for n in (1, 2, 3)]
    layout = client.get(f"{API}/gpu/mig/devices/{NODE}-GPU-00").get_json()["data"]
    assert {i["profile"]: (i["state"], i["migUuid"]) for i in layout["instances"]} == {
        "1g.10gb": ("APPLIED", "MIG-1g"),
        "2g.20gb": ("APPLIED", "MIG-2g"),
        "4g.40gb": ("APPLIED", "MIG-4g"),
    }
    assert layout["inSync"] is True
    assert (
        layout["desiredLayout"]
        == layout["observedLayout"]
        == [
            "4g.40gb@0",
            "2g.20gb@4",
            "1g.10gb@6",
        ]
    )
    assert collect(client)["changed"] is False

    # The node is re-carved by hand: 2g and 1g give way to a 3g. Drift is visible.
    fake_prometheus.answer_vector(
        info(0, UUID_A100, "NVIDIA A100-SXM4-80GB", mig_mode="enabled"),
        up(0, UUID_A100),
        mig(UUID_A100, "MIG-4g", "4g.40gb", 1),
        mig(UUID_A100, "MIG-3g", "3g.40gb", 2),
    )
    result = collect(client)
    # Instances are numbered in request order: 1g is MIG-01, 2g MIG-02, 4g MIG-03.
    assert sorted(result["migPending"]) == [f"{NODE}-GPU-00-MIG-01", f"{NODE}-GPU-00-MIG-02"]
    assert result["migUnmanaged"] == [f"{NODE}-GPU-00-MIG-04"]
    layout = client.get(f"{API}/gpu/mig/devices/{NODE}-GPU-00").get_json()["data"]
    assert layout["inSync"] is False
    assert layout["drift"] == {
        "pending": [f"{NODE}-GPU-00-MIG-01", f"{NODE}-GPU-00-MIG-02"],
        "unmanaged": [f"{NODE}-GPU-00-MIG-04"],
        "retiring": [],
    }
    assert layout["observedLayout"] == ["4g.40gb@0", "3g.40gb@4"]
    stats = client.get(f"{API}/gpu/mig/statistics").get_json()["data"]
    assert stats["devicesWithDrift"] == [f"{NODE}-GPU-00"]
    assert stats["instancesByState"] == {"APPLIED": 1, "PENDING": 2, "UNMANAGED": 1}


def test_unmanaged_instances_that_vanish_are_removed(
    make_app: AppFactory, fake_prometheus: FakePrometheus
) -> None:
    client = app_on(make_app, fake_prometheus)
    fake_prometheus.answer_vector(
        *two_gpus(mig(UUID_A100, "MIG-7g", "7g.80gb", 0)),
    )
    result = collect(client)
    assert result["migUnmanaged"] == [f"{NODE}-GPU-00-MIG-01"]
    device = client.get(f"{API}/gpu/devices/{NODE}-GPU-00").get_json()["data"]
    assert device["deviceStatus"] == "MIG_ENABLED"

    fake_prometheus.answer_vector(*two_gpus())
    result = collect(client)
    assert result["migRemoved"] == [f"{NODE}-GPU-00-MIG-01"]
    assert client.get(f"{API}/gpu/mig/devices/{NODE}-GPU-00").get_json()["data"]["instances"] == []


def applied_layout(
    client: FlaskClient, fake: FakePrometheus, *observed: tuple[dict[str, str], float]
) -> None:
    fake.answer_vector(
        info(0, UUID_A100, "NVIDIA A100-SXM4-80GB", mig_mode="enabled"),
        up(0, UUID_A100),
        *observed,
    )
    collect(client)


def test_a_deleted_layout_the_gpu_still_has_is_retiring_not_unmanaged(
    make_app: AppFactory, fake_prometheus: FakePrometheus
) -> None:
    """The cluster applies a deleted layout later (mig-manager): meanwhile the exporter still
    reports the old instances. They are retiring: in no layout, never unmanaged, never
    allocatable, and a new layout is placed as if they were gone."""
    client = app_on(make_app, fake_prometheus)
    register(client, NODE, 0, gpuUuid=UUID_A100)
    device = f"{API}/gpu/mig/devices/{NODE}-GPU-00"
    client.post(device, json={"profileIds": ["1g.10gb"]}, headers=ADMIN)
    old = mig(UUID_A100, "MIG-old", "1g.10gb", 13)  # 1g@6
    applied_layout(client, fake_prometheus, old)
    assert client.get(device).get_json()["data"]["observedLayout"] == ["1g.10gb@6"]

    deleted = client.delete(device, headers=ADMIN).get_json()["data"]
    assert deleted["instances"] == [] and deleted["drift"]["retiring"] == [f"{NODE}-GPU-00-MIG-01"]
    assert deleted["observedLayout"] == ["1g.10gb@6"] and deleted["inSync"] is False
    # Not applied yet: the exporter still reports the instance. The sync keeps it retiring.
    result = collect(client)
    assert result["migUnmanaged"] == [] and result["migRemoved"] == []
    layout = client.get(device).get_json()["data"]
    assert layout["instances"] == [] and layout["drift"]["retiring"] == [f"{NODE}-GPU-00-MIG-01"]
    assert client.get(f"{API}/gpu/mig/available").get_json()["data"] == []
    assert client.get(f"{API}/gpu/mig/statistics").get_json()["data"]["totalInstances"] == 0

    # A new layout before the cluster caught up: exactly what was asked for, new ids.
    created = client.post(
        device, json={"profileIds": ["1g.10gb", "2g.20gb"]}, headers=ADMIN
    ).get_json()["data"]
    assert sorted(i["profile"] for i in created["instances"]) == ["1g.10gb", "2g.20gb"]
    assert {i["instanceId"] for i in created["instances"]} == {
        f"{NODE}-GPU-00-MIG-02",
        f"{NODE}-GPU-00-MIG-03",
    }
    assert all(i["state"] == "PENDING" for i in created["instances"])
    one_g = next(i for i in created["instances"] if i["profile"] == "1g.10gb")

    # The cluster applies it: the old instance is gone, the new ones are reported.
    applied_layout(
        client,
        fake_prometheus,
        mig(UUID_A100, "MIG-new-1g", "1g.10gb", 13),
        mig(UUID_A100, "MIG-new-2g", "2g.20gb", 5),
    )
    layout = client.get(device).get_json()["data"]
    assert layout["inSync"] is True and layout["drift"]["retiring"] == []
    assert {i["instanceId"]: i["migUuid"] for i in layout["instances"]} == {
        one_g["instanceId"]: "MIG-new-1g",
        next(i["instanceId"] for i in created["instances"] if i["profile"] == "2g.20gb"): (
            "MIG-new-2g"
        ),
    }


def test_a_new_layout_takes_over_the_instance_the_cluster_kept(
    make_app: AppFactory, fake_prometheus: FakePrometheus
) -> None:
    """Deleted and asked for again before the cluster acted: the config is the same, so the
    cluster keeps the instance, and the new desired instance is the one it reports."""
    client = app_on(make_app, fake_prometheus)
    register(client, NODE, 0, gpuUuid=UUID_A100)
    device = f"{API}/gpu/mig/devices/{NODE}-GPU-00"
    client.post(device, json={"profileIds": ["1g.10gb"]}, headers=ADMIN)
    kept = mig(UUID_A100, "MIG-kept", "1g.10gb", 7)  # 1g@0, where the layout puts it
    applied_layout(client, fake_prometheus, kept)
    client.delete(device, headers=ADMIN)
    again = client.post(device, json={"profileIds": ["1g.10gb"]}, headers=ADMIN).get_json()["data"]
    assert [i["startSlice"] for i in again["instances"]] == [0]
    applied_layout(client, fake_prometheus, kept)
    layout = client.get(device).get_json()["data"]
    assert [(i["instanceId"], i["state"], i["migUuid"]) for i in layout["instances"]] == [
        (f"{NODE}-GPU-00-MIG-02", "APPLIED", "MIG-kept")
    ]
    assert layout["inSync"] is True and layout["drift"]["retiring"] == []


def test_sync_needs_an_operator(make_app: AppFactory, fake_prometheus: FakePrometheus) -> None:
    client = app_on(make_app, fake_prometheus)
    assert_error(client.post(f"{API}/gpu/metrics/collect"), 401, "UNAUTHORIZED")


def test_one_worker_at_a_time_holds_the_lease(
    make_app: AppFactory, fake_prometheus: FakePrometheus
) -> None:
    clock = FakeClock()
    client = app_on(make_app, fake_prometheus, clock)
    fake_prometheus.answer_vector(*two_gpus())
    app = client.application
    sync: InventorySync = app.extensions["gpu_analytics.services"].inventory_sync
    database = app.extensions["gpu_analytics.database"]
    now = clock.now()
    # Another worker holds the lease: the periodic run stands back.
    assert database.write(
        lambda conn: sync_store.acquire_lease(
            conn, "inventory", "other-worker", now, now + timedelta(seconds=30)
        )
    )
    periodic = InventorySync(database, sync._catalogue, clock, sync._prom, interval_seconds=60)
    assert periodic.run_if_due() is None
    assert fake_prometheus.seen == []
    # Its lease expires (the worker died): the next periodic run takes over.
    clock.advance(seconds=31)
    result = periodic.run_if_due()
    assert result is not None and result.trigger == "schedule"
    # Just ran: not due again until the interval has passed.
    assert periodic.run_if_due() is None
    clock.advance(seconds=60)
    assert periodic.run_if_due() is not None


def test_gpu_instance_ids_map_to_start_slices() -> None:
    # 8 memory slices: 7g is GI 0; 4g/3g at 0, 4 are 1, 2; 2-slice places 3-6; 1g 7-13.
    assert start_slice_for(0, 8, 8) == 0
    assert start_slice_for(2, 4, 8) == 4
    assert start_slice_for(5, 2, 8) == 4
    assert start_slice_for(13, 1, 8) == 6
    assert start_slice_for(14, 1, 8, allowed_starts=range(7)) is None  # no such 1g place
    assert start_slice_for(3, 2, 8, allowed_starts=(0, 2, 4)) == 0
    assert start_slice_for(6, 2, 8, allowed_starts=(0, 2, 4)) is None  # a 2g may not start at 6
    # A30 (4 slices): 4g is 0, 2g at 0, 2 are 1, 2; 1g 3-6.
    assert start_slice_for(2, 2, 4) == 2
    assert start_slice_for(6, 1, 4) == 3


def test_a_gpu_unreadable_since_the_exporter_started_is_lost(
    make_app: AppFactory, fake_prometheus: FakePrometheus
) -> None:
    client = app_on(make_app, fake_prometheus)
    fake_prometheus.answer_vector(*two_gpus())
    collect(client)
    # The exporter restarted while GPU 1 was lost: it never learnt its uuid or identity.
    fake_prometheus.answer_vector(
        info(0, UUID_A100, "NVIDIA A100-SXM4-80GB"),
        up(0, UUID_A100),
        ({"stat": "up", "node": NODE, "gpu": "1"}, 0.0),
    )
    result = collect(client)
    assert (result["lost"], result["missing"]) == ([f"{NODE}-GPU-01"], [])
    device = client.get(f"{API}/gpu/devices/{NODE}-GPU-01").get_json()["data"]
    assert (device["presence"], device["gpuUuid"]) == ("LOST", UUID_H100)
