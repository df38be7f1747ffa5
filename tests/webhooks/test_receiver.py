"""POST /alerts/alertmanager: Alertmanager's payload (version 4) becomes our events."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
import yaml
from flask import Flask
from flask.testing import FlaskClient

from analytics.services.events.alertmanager import ALERT_EVENTS, UNMAPPED_ALERTS
from analytics.store import events as event_store
from tests.analytics.conftest import FakeClock, assert_error
from tests.conftest import ROOT
from tests.webhooks.conftest import ADMIN, API, DispatcherFactory, database, register_webhook
from tests.webhooks.receiver import WebhookReceiver

RECEIVER = f"{API}/alerts/alertmanager"


def alert(name: str, status: str = "firing", **labels: str) -> dict[str, Any]:
    return {
        "status": status,
        "labels": {"alertname": name, "severity": "warning", **labels},
        "annotations": {
            "summary": f"{name} summary",
            "description": "what happened",
            "runbook_url": f"docs/runbooks/{name}.md",
        },
        "startsAt": "2026-01-05T11:50:00.123456789Z",
        "endsAt": "2026-01-05T12:00:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus:9090/graph?g0.expr=x",
        "fingerprint": f"{abs(hash((name, tuple(labels.items())))):016x}"[:16],
    }


def notification(*alerts: dict[str, Any], status: str = "firing") -> dict[str, Any]:
    return {
        "version": "4",
        "groupKey": '{}:{alertname="x"}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "gpu-analytics",
        "groupLabels": {},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": list(alerts),
    }


OVERHEATING = alert(
    "GpuOverheating", node="gpu-worker-1", gpu="0", uuid="GPU-abc", model_id="A100_80GB"
)


def recorded(app: Flask) -> list[event_store.EventRecord]:
    with database(app).read() as conn:
        return list(reversed(event_store.recent(conn, 100)))


def test_overheating_alert_becomes_the_seed_event(
    app: Flask, client: FlaskClient, receiver: WebhookReceiver, make_dispatcher: DispatcherFactory
) -> None:
    register_webhook(client, receiver.url, ["GPU_OVERHEATING"])
    response = client.post(RECEIVER, json=notification(OVERHEATING), headers=ADMIN)
    assert response.status_code == 200
    assert response.get_json()["data"] == {
        "received": 1,
        "recorded": 1,
        "repeated": 0,
        "ignored": [],
    }
    assert make_dispatcher().run_once() == 1
    (request,) = receiver.requests()
    data = request.payload["data"]
    assert request.payload["event"] == "GPU_OVERHEATING"
    assert data["deviceId"] == "gpu-worker-1-GPU-00"
    assert data["nodeName"] == "gpu-worker-1"
    assert data["gpuIndex"] == 0
    assert data["threshold"] == 85.0  # A100_80GB in the catalogue
    assert "temperature" in data  # null: no Prometheus in this test
    assert data["severity"] == "WARNING"
    assert data["status"] == "FIRING"
    assert data["startsAt"] == "2026-01-05T11:50:00Z"
    assert data["endsAt"] is None
    assert data["runbookUrl"] == "docs/runbooks/GpuOverheating.md"


def test_repeats_are_recorded_once_and_resolution_once(
    app: Flask, client: FlaskClient, clock: FakeClock
) -> None:
    for _ in range(3):
        client.post(RECEIVER, json=notification(OVERHEATING), headers=ADMIN)
    clock.advance(minutes=10)
    resolved = {
        **copy.deepcopy(OVERHEATING),
        "status": "resolved",
        "endsAt": "2026-01-05T12:00:00Z",
    }
    for _ in range(2):
        response = client.post(
            RECEIVER, json=notification(resolved, status="resolved"), headers=ADMIN
        )
    assert response.get_json()["data"]["repeated"] == 1
    events = recorded(app)
    assert [e.event_type for e in events] == ["GPU_OVERHEATING", "GPU_OVERHEATING"]
    firing, cleared = (json.loads(e.data) for e in events)
    assert (firing["status"], firing["endsAt"]) == ("FIRING", None)
    assert (cleared["status"], cleared["endsAt"]) == ("RESOLVED", "2026-01-05T12:00:00Z")


@pytest.mark.parametrize(
    ("name", "labels", "event_type", "fields"),
    [
        ("GpuXidCritical", {"node": "n", "gpu": "3", "xid": "79"}, "GPU_XID_ERROR", {"xid": 79}),
        ("GpuDown", {"node": "n", "gpu": "1"}, "GPU_LOST", {"deviceId": "n-GPU-01"}),
        ("GpuMissing", {"node": "n"}, "GPU_LOST", {"kind": "MISSING", "nodeName": "n"}),
        ("GpuEccUncorrectableNew", {"node": "n", "gpu": "2"}, "GPU_ECC_ERROR", {}),
        ("GpuPowerBrake", {"node": "n", "gpu": "0", "reason": "hw_power_brake"},
         "GPU_THROTTLED", {"reason": "hw_power_brake"}),
        ("GpuNvlinkErrors", {"node": "n", "gpu": "2", "error": "replay"},
         "GPU_INTERCONNECT_ERROR", {"kind": "NVLINK_ERRORS", "error": "replay",
                                    "deviceId": "n-GPU-02"}),
        ("GpuFabricNotReady", {"node": "n", "gpu": "7", "uuid": "GPU-f"},
         "GPU_INTERCONNECT_ERROR", {"kind": "FABRIC_NOT_READY", "uuid": "GPU-f", "error": None}),
        ("GpuExporterDown", {"instance": "n"}, "EXPORTER_DOWN", {"instance": "n"}),
        ("GpuMigLayoutDrift", {"node": "n", "device_id": "n-GPU-04"}, "MIG_LAYOUT_DRIFT",
         {"deviceId": "n-GPU-04"}),
        ("GpuAllocationExpiring",
         {"allocation_id": "ALLOC-ABCDEFGH", "namespace": "ml", "pod": "p"},
         "ALLOCATION_EXPIRING", {"allocationId": "ALLOC-ABCDEFGH", "podName": "p"}),
    ],
)  # fmt: skip
def test_every_mapped_alert(
    app: Flask,
    client: FlaskClient,
    name: str,
    labels: dict[str, str],
    event_type: str,
    fields: dict[str, object],
) -> None:
    response = client.post(RECEIVER, json=notification(alert(name, **labels)), headers=ADMIN)
    assert response.get_json()["data"]["recorded"] == 1
    (event,) = recorded(app)
    assert event.event_type == event_type
    data = json.loads(event.data)
    assert {key: data.get(key) for key in fields} == fields
    assert data["alertName"] == name


def test_every_alert_of_the_rules_is_mapped_or_deliberately_not() -> None:
    rules = yaml.safe_load((ROOT / "alerts" / "gpu-alerts.yml").read_text())
    names = {r["alert"] for g in rules["groups"] for r in g["rules"] if "alert" in r}
    assert names == set(ALERT_EVENTS) | UNMAPPED_ALERTS
    assert not set(ALERT_EVENTS) & UNMAPPED_ALERTS


def test_unmapped_alerts_are_counted_not_recorded(app: Flask, client: FlaskClient) -> None:
    body = notification(alert("GpuAllocatedIdle", node="n"), alert("SomethingElse"), OVERHEATING)
    data = client.post(RECEIVER, json=body, headers=ADMIN).get_json()["data"]
    assert data == {
        "received": 3,
        "recorded": 1,
        "repeated": 0,
        "ignored": ["GpuAllocatedIdle", "SomethingElse"],
    }


@pytest.mark.parametrize(
    "change",
    [
        {"version": "3"},
        {"alerts": None},
        {"status": "weird"},
        {"alerts": [{"status": "firing"}]},
        {"alerts": [{**OVERHEATING, "startsAt": "yesterday"}]},
        {"alerts": [{**OVERHEATING, "labels": {"alertname": 5}}]},
    ],
)
def test_malformed_notifications_are_400(client: FlaskClient, change: dict[str, Any]) -> None:
    body = {**notification(OVERHEATING), **change}
    assert_error(client.post(RECEIVER, json=body, headers=ADMIN), 400, "VALIDATION_ERROR")


def test_the_receiver_needs_an_operator_key(client: FlaskClient) -> None:
    body = notification(OVERHEATING)
    assert_error(client.post(RECEIVER, json=body), 401, "UNAUTHORIZED")
    keys = client.application.extensions["gpu_analytics.services"].api_keys
    viewer, operator = keys.create("viewer"), keys.create("operator", "alertmanager")
    assert_error(
        client.post(RECEIVER, json=body, headers={"Authorization": f"Bearer {viewer.key}"}),
        403,
        "FORBIDDEN",
    )
    answer = client.post(RECEIVER, json=body, headers={"Authorization": f"Bearer {operator.key}"})
    assert answer.status_code == 200
