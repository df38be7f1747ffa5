"""The service's own events: allocation failures, expiry (sweep and ledger writes), MIG layouts;
and the state gauges on /metrics that the gpu-analytics alert rules read."""

from __future__ import annotations

import json
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from analytics.services.ledger.sweep import AllocationEvents
from analytics.store import events as event_store
from tests.analytics.conftest import FakeClock, assert_error, register
from tests.webhooks.conftest import ADMIN, API, DispatcherFactory, database, register_webhook
from tests.webhooks.receiver import WebhookReceiver


def recorded(app: Flask, event_type: str) -> list[dict[str, Any]]:
    with database(app).read() as conn:
        events = event_store.recent(conn, 100, event_type=event_type)
    return [json.loads(e.data) for e in reversed(events)]


def allocate(client: FlaskClient, pod: str, memory_gb: float = 40, **extra: Any) -> Any:
    body = {"namespace": "ml", "podName": pod, "requiredMemoryGb": memory_gb, **extra}
    return client.post(f"{API}/gpu/allocations", json=body, headers=ADMIN)


def sweep(app: Flask, clock: FakeClock) -> AllocationEvents:
    services = app.extensions["gpu_analytics.services"]
    return AllocationEvents(database(app), clock, services.events, 1.0, 30)


def test_a_failed_allocation_is_an_event_delivered_to_subscribers(
    app: Flask, client: FlaskClient, receiver: WebhookReceiver, make_dispatcher: DispatcherFactory
) -> None:
    register_webhook(client, receiver.url, ["ALLOCATION_FAILED"])
    register(client, "node-a", 0)
    assert allocate(client, "fits").status_code == 201
    assert_error(allocate(client, "too-big", 200), 409, "INSUFFICIENT_RESOURCES")
    (event,) = recorded(app, "ALLOCATION_FAILED")
    assert event["podName"] == "too-big"
    assert event["errorCode"] == "INSUFFICIENT_RESOURCES"
    assert event["requiredMemoryGb"] == 200
    assert make_dispatcher().run_once() == 1
    assert receiver.requests()[0].payload["event"] == "ALLOCATION_FAILED"


def test_expiring_then_expired_each_once(app: Flask, client: FlaskClient, clock: FakeClock) -> None:
    register(client, "node-a", 0)
    planned = "2026-01-05T13:30:00Z"  # the clock stands at 12:00
    allocation = allocate(client, "job", plannedReleaseTime=planned).get_json()["data"]
    job = sweep(app, clock)
    assert job.run_once() == {"expired": 0, "expiring": 0}  # 1.5 h away, notice is 1 h
    clock.advance(minutes=40)
    assert job.run_once() == {"expired": 0, "expiring": 1}
    assert job.run_once() == {"expired": 0, "expiring": 0}
    clock.advance(minutes=60)
    assert job.run_once() == {"expired": 1, "expiring": 0}
    assert job.run_once() == {"expired": 0, "expiring": 0}
    (expiring,) = recorded(app, "ALLOCATION_EXPIRING")
    (expired,) = recorded(app, "ALLOCATION_EXPIRED")
    assert expiring["allocationId"] == expired["allocationId"] == allocation["allocationId"]
    assert expiring["plannedReleaseTime"] == planned
    assert expiring["secondsLeft"] == 50 * 60
    assert expired["releaseTime"] == planned
    assert expired["costAccrued"] > 0


def test_a_ledger_write_expires_and_records_too(
    app: Flask, client: FlaskClient, clock: FakeClock
) -> None:
    register(client, "node-a", 0)
    allocate(client, "short", plannedReleaseTime="2026-01-05T12:30:00Z")
    clock.advance(hours=1)
    assert allocate(client, "next").status_code == 201  # expire_due runs in this write
    assert [e["podName"] for e in recorded(app, "ALLOCATION_EXPIRED")] == ["short"]
    assert sweep(app, clock).run_once() == {"expired": 0, "expiring": 0}


def test_mig_layout_changes_are_events(app: Flask, client: FlaskClient, clock: FakeClock) -> None:
    device = register(client, "node-a", 0)
    path = f"{API}/gpu/mig/devices/{device['deviceId']}"
    assert client.post(path, json={"profileIds": ["3g.40gb"]}, headers=ADMIN).status_code == 201
    clock.advance(seconds=1)
    assert client.delete(path, headers=ADMIN).status_code == 200
    created, deleted = recorded(app, "MIG_LAYOUT_APPLIED")
    assert created["action"] == "CREATED"
    assert created["deviceId"] == device["deviceId"]
    assert created["desiredLayout"] == ["3g.40gb@0"]
    assert created["migConfigLabel"]
    assert deleted["action"] == "DELETED"
    assert deleted["instanceIds"] == created["instanceIds"]


def _samples(client: FlaskClient) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    text = client.get("/metrics").get_data(as_text=True)
    found: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def test_state_gauges_on_metrics(app: Flask, client: FlaskClient) -> None:
    device = register(client, "node-a", 0)
    register(client, "node-a", 1)
    client.post(
        f"{API}/gpu/mig/devices/{device['deviceId']}",
        json={"profileIds": ["1g.10gb"]},
        headers=ADMIN,
    )
    allocation = allocate(client, "job", 60, plannedReleaseTime="2026-01-05T13:00:00Z")
    allocation_id = allocation.get_json()["data"]["allocationId"]
    samples = _samples(client)
    # The new instance is desired but the exporter has not reported it: drift.
    assert samples["gpu_analytics_mig_layout_drift"] == {
        (("device_id", device["deviceId"]), ("node", "node-a")): 1.0
    }
    assert samples["gpu_analytics_allocation_planned_release_timestamp_seconds"] == {
        (("allocation_id", allocation_id), ("namespace", "ml"), ("pod", "job")): 1767618000.0
    }
    assert samples["gpu_analytics_webhook_deliveries"][(("status", "PENDING"),)] == 0.0


def test_the_metric_contract_lists_what_the_service_serves(app: Flask, client: FlaskClient) -> None:
    """tests/artifacts accepts ANALYTICS_SERIES in rules and dashboards because the service
    exports them: hold that list to the real exposition."""
    from tests.artifacts.artifacts import ANALYTICS_SERIES

    text = client.get("/metrics").get_data(as_text=True)
    served = {family.name for family in text_string_to_metric_families(text)}
    assert set(ANALYTICS_SERIES) <= served
