"""Webhook CRUD over the API: the seed's registration, a write-only secret, the error envelope."""

from __future__ import annotations

import json

import pytest
from flask.testing import FlaskClient

from tests.analytics.conftest import assert_error
from tests.webhooks.conftest import ADMIN, API, register_webhook

SEED_BODY = {
    "name": "slack-notifications",
    "url": "http://127.0.0.1:9/services/T00000000/B00000000/XXXXXXXX",
    "events": ["GPU_OVERHEATING", "ALLOCATION_FAILED", "COST_THRESHOLD_EXCEEDED"],
    "secret": "webhook_secret_key",
    "active": True,
}


def test_register_as_in_the_seed_and_read_back_without_the_secret(client: FlaskClient) -> None:
    response = client.post(f"{API}/webhooks", json=SEED_BODY, headers=ADMIN)
    assert response.status_code == 201
    created = response.get_json()["data"]
    assert created["webhookId"].startswith("WH-")
    assert created["name"] == "slack-notifications"
    assert created["events"] == SEED_BODY["events"]
    assert created["active"] is True
    assert created["deliveries"] == {"PENDING": 0, "DELIVERED": 0, "FAILED": 0}
    webhook_id = created["webhookId"]

    responses = [
        response,
        client.get(f"{API}/webhooks", headers=ADMIN),
        client.get(f"{API}/webhooks/{webhook_id}", headers=ADMIN),
        client.patch(f"{API}/webhooks/{webhook_id}", json={"active": False}, headers=ADMIN),
        client.get(f"{API}/webhooks/{webhook_id}/deliveries", headers=ADMIN),
    ]
    for answer in responses:
        assert answer.status_code == 200 or answer is response
        assert "webhook_secret_key" not in answer.get_data(as_text=True)
        assert "secret" not in json.dumps(answer.get_json()["data"])
    listed = client.get(f"{API}/webhooks", headers=ADMIN).get_json()["data"]
    assert [w["webhookId"] for w in listed] == [webhook_id]
    assert listed[0]["active"] is False


def test_patch_changes_only_what_is_given(client: FlaskClient) -> None:
    hook = register_webhook(client, "http://127.0.0.1:9/a", ["GPU_LOST"])
    response = client.patch(
        f"{API}/webhooks/{hook['webhookId']}",
        json={"events": ["GPU_LOST", "GPU_XID_ERROR"], "secret": "another-secret"},
        headers=ADMIN,
    )
    assert response.status_code == 200
    data = response.get_json()["data"]
    assert data["events"] == ["GPU_LOST", "GPU_XID_ERROR"]
    assert data["url"] == "http://127.0.0.1:9/a"
    assert data["name"] == "test"
    assert "another-secret" not in response.get_data(as_text=True)


def test_delete_removes_it(client: FlaskClient) -> None:
    hook = register_webhook(client, "http://127.0.0.1:9/a")
    response = client.delete(f"{API}/webhooks/{hook['webhookId']}", headers=ADMIN)
    assert response.status_code == 200
    assert response.get_json()["data"]["webhookId"] == hook["webhookId"]
    assert_error(
        client.get(f"{API}/webhooks/{hook['webhookId']}", headers=ADMIN), 404, "RESOURCE_NOT_FOUND"
    )
    assert_error(
        client.delete(f"{API}/webhooks/{hook['webhookId']}", headers=ADMIN),
        404,
        "RESOURCE_NOT_FOUND",
    )
    assert client.get(f"{API}/webhooks", headers=ADMIN).get_json()["data"] == []


def test_unknown_webhook_is_404_everywhere(client: FlaskClient) -> None:
    for path in ("WH-NOPE0000", "WH-NOPE0000/deliveries"):
        assert_error(client.get(f"{API}/webhooks/{path}", headers=ADMIN), 404, "RESOURCE_NOT_FOUND")
    assert_error(
        client.patch(f"{API}/webhooks/WH-NOPE0000", json={"active": True}, headers=ADMIN),
        404,
        "RESOURCE_NOT_FOUND",
    )


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"events": ["NOT_AN_EVENT"]}, "events"),
        ({"events": []}, "events"),
        ({"secret": "short"}, "secret"),
        ({"secret": None}, "secret"),
        ({"url": "ftp://127.0.0.1/x"}, "url"),
        ({"url": "not a url"}, "url"),
        ({"name": ""}, "name"),
        ({"active": "maybe"}, "active"),
        ({"unexpected": 1}, "unexpected"),
    ],
)
def test_bad_registrations_are_400_validation_errors(
    client: FlaskClient, change: dict[str, object], field: str
) -> None:
    body = {**SEED_BODY, **change}
    error = assert_error(
        client.post(f"{API}/webhooks", json=body, headers=ADMIN), 400, "VALIDATION_ERROR"
    )
    assert field in error["fields"]
    assert "webhook_secret_key" not in json.dumps(error)


def test_missing_fields_and_malformed_json(client: FlaskClient) -> None:
    error = assert_error(
        client.post(f"{API}/webhooks", json={"name": "x"}, headers=ADMIN), 400, "VALIDATION_ERROR"
    )
    assert {"url", "events", "secret"} <= set(error["fields"])
    assert_error(
        client.post(
            f"{API}/webhooks",
            data="{not json",
            headers={**ADMIN, "Content-Type": "application/json"},
        ),
        400,
        "VALIDATION_ERROR",
    )


def test_bad_query_parameters_are_invalid_parameter(client: FlaskClient) -> None:
    hook = register_webhook(client, "http://127.0.0.1:9/a")
    for query in ("limit=0", "limit=x", "status=LOST"):
        assert_error(
            client.get(f"{API}/webhooks/{hook['webhookId']}/deliveries?{query}", headers=ADMIN),
            400,
            "INVALID_PARAMETER",
        )


def test_writes_need_an_operator(client: FlaskClient) -> None:
    assert_error(client.post(f"{API}/webhooks", json=SEED_BODY), 401, "UNAUTHORIZED")
    viewer = client.application.extensions["gpu_analytics.services"].api_keys.create("viewer")
    operator = client.application.extensions["gpu_analytics.services"].api_keys.create("operator")
    assert_error(
        client.post(f"{API}/webhooks", json=SEED_BODY, headers={"X-API-Key": viewer.key}),
        403,
        "FORBIDDEN",
    )
    response = client.post(f"{API}/webhooks", json=SEED_BODY, headers={"X-API-Key": operator.key})
    assert response.status_code == 201
    assert response.get_json()["data"]["createdBy"] == f"{operator.key_id}:{operator.name}"


def test_reads_need_an_operator_even_with_anonymous_reads_on(client: FlaskClient) -> None:
    """Webhook URLs carry tokens (Slack, Teams) and the log shows where events go: viewers and
    anonymous callers learn nothing, not even whether a webhook exists."""
    hook = register_webhook(client, "http://127.0.0.1:9/services/T0/B0/token-in-the-path")
    keys = client.application.extensions["gpu_analytics.services"].api_keys
    viewer, operator = keys.create("viewer"), keys.create("operator")
    paths = [
        f"{API}/webhooks",
        f"{API}/webhooks/{hook['webhookId']}",
        f"{API}/webhooks/{hook['webhookId']}/deliveries",
        f"{API}/webhooks/WH-NOPE0000",
        f"{API}/webhooks/WH-NOPE0000/deliveries",
    ]
    for path in paths:
        for method in ("GET", "HEAD"):
            anonymous = client.open(path, method=method)
            assert anonymous.status_code == 401, (method, path)
            refused = client.open(path, method=method, headers={"X-API-Key": viewer.key})
            assert refused.status_code == 403, (method, path)
        error = assert_error(client.get(path), 401, "UNAUTHORIZED")
        assert "token-in-the-path" not in json.dumps(error)
        error = assert_error(client.get(path, headers={"X-API-Key": viewer.key}), 403, "FORBIDDEN")
        assert error["context"] == {"role": "viewer", "requiredRole": "operator"}
        assert "token-in-the-path" not in json.dumps(error)
    for headers in ({"X-API-Key": operator.key}, ADMIN):
        listed = client.get(paths[0], headers=headers).get_json()["data"]
        assert [w["url"] for w in listed] == [hook["url"]]
        assert client.get(paths[1], headers=headers).status_code == 200
        assert client.get(paths[2], headers=headers).status_code == 200
    # Other reads stay anonymous (anonymous_read is on).
    assert client.get(f"{API}/gpu/devices").status_code == 200
