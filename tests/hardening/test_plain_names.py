"""Names, ids, labels and other request text hold no control, bidirectional-formatting or
line-separator characters (analytics/text.py): every string field of every request schema is
the one checked field, ``analytics.api.fields.Text``; refused text is never stored or echoed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from marshmallow import Schema, fields

from analytics.api.fields import Text
from analytics.errors import ValidationFailed
from analytics.text import refused_characters
from tests.analytics.conftest import ADMIN, API, assert_error, register

# NUL, escape, line feed, DEL, C1 NEL; bidi overrides, isolates, marks; separators; a surrogate.
REFUSED = (
    "\x00",
    "\x1b[31m",
    "\n",
    "\r",
    "\t",
    "\x7f",
    "\x85",
    "\u202a",
    "\u202b",
    "\u202c",
    "\u202d",
    "\u202e",
    "\u2066",
    "\u2067",
    "\u2068",
    "\u2069",
    "\u200e",
    "\u200f",
    "\u061c",
    "\u2028",
    "\u2029",
    "\ud800",
)
# Text people do write: accents, other scripts, emoji joined with ZWJ, a no-break space.
ACCEPTED = ("ml-team", "équipe-ç", "团队", "\U0001f468\u200d\U0001f4bb ops", "a\u00a0b")


def body_fields(schema: Schema, path: str = "") -> Iterator[tuple[str, fields.Field[Any]]]:
    """Every field a schema loads, nested schemas, list items and dict keys and values too."""
    for name, field in schema.fields.items():
        if field.dump_only:
            continue
        yield from inner_fields(field, f"{path}{field.data_key or name}")


def inner_fields(field: fields.Field[Any], path: str) -> Iterator[tuple[str, fields.Field[Any]]]:
    yield path, field
    if isinstance(field, fields.Nested):
        nested = field.schema
        yield from body_fields(nested, path + ".")
    elif isinstance(field, fields.List):
        yield from inner_fields(field.inner, path + "[]")
    elif isinstance(field, fields.Dict):
        if field.key_field is not None:
            yield from inner_fields(field.key_field, path + "{key}")
        if field.value_field is not None:
            yield from inner_fields(field.value_field, path + "{value}")


def request_schemas(app: Flask) -> dict[str, Schema]:
    """The schema of each request part (query or body) of every operation, by endpoint."""
    schemas = {}
    for endpoint, view in app.view_functions.items():
        view_class = getattr(view, "view_class", None)
        for method in ("get", "post", "put", "patch", "delete"):
            function = getattr(view_class, method, None)
            arguments = getattr(function, "_apidoc", {}).get("arguments", {})
            for part in arguments.get("parameters", []):
                # A class; an instance once flask-smorest documented it for an earlier app.
                schema = part["schema"]
                schema = schema() if isinstance(schema, type) else schema
                schemas[f"{method.upper()} {endpoint} ({part['in']})"] = schema
    return schemas


def test_every_string_of_every_request_schema_is_checked_text(app: Flask) -> None:
    schemas = request_schemas(app)
    assert len(schemas) >= 30
    for operation, schema in schemas.items():
        for path, field in body_fields(schema):
            if isinstance(field, fields.String):
                assert isinstance(field, Text), (operation, path)
            if isinstance(field, fields.Dict):
                assert field.key_field is not None and field.value_field is not None, (
                    operation,
                    path,
                    "an untyped mapping takes any text",
                )
            assert type(field) is not fields.Raw, (operation, path)


def post_json(client: FlaskClient, method: str, path: str, body: dict[str, Any]) -> Any:
    # json.dumps escapes every refused character (\u0000, \ud800, ...) as JSON allows.
    return client.open(
        API + path,
        method=method,
        data=json.dumps(body),
        headers={**ADMIN, "Content-Type": "application/json"},
    )


def alert(**changes: Any) -> dict[str, Any]:
    item = {
        "status": "firing",
        "labels": {"alertname": "GpuTemperatureHigh", "node": "gpu-worker-1"},
        "annotations": {"summary": "hot", "description": "line one\nline two\ttabbed\r\n"},
        "startsAt": "2026-01-05T11:00:00Z",
        "fingerprint": "names0001",
    }
    notification = {"version": "4", "status": "firing", "receiver": "gpu-analytics"}
    notification.update({k: v for k, v in changes.items() if k in ("receiver", "commonLabels")})
    item.update({k: v for k, v in changes.items() if k not in notification})
    return {**notification, "alerts": [item]}


def allocation(**changes: Any) -> dict[str, Any]:
    return {"namespace": "ml", "podName": "pod-a", "requiredMemoryGb": 10, **changes}


def device(**changes: Any) -> dict[str, Any]:
    return {"nodeName": "gpu-worker-2", "modelId": "A100_80GB", "deviceIndex": 0, **changes}


def webhook(**changes: Any) -> dict[str, Any]:
    # A public address (the SSRF guard refuses others), paused: nothing is ever sent there.
    body = {"name": "slack", "url": "http://93.184.215.14/hook", "events": ["GPU_LOST"]}
    return {**body, "secret": "s3cret-key", "active": False, **changes}


# (method, path, body with the text placed, where the error is in the error's fields)
WRITES: list[tuple[str, str, Any, list[str]]] = [
    ("POST", "/gpu/devices", lambda t: device(nodeName=f"gpu-worker-2{t}"), ["nodeName"]),
    ("POST", "/gpu/devices", lambda t: device(serialNumber=f"SN{t}1"), ["serialNumber"]),
    ("POST", "/gpu/devices", lambda t: device(driverVersion=t), ["driverVersion"]),
    ("POST", "/gpu/devices", lambda t: device(modelId=f"A100_80GB{t}"), ["modelId"]),
    ("POST", "/gpu/allocations", lambda t: allocation(podName=f"pod-a{t}"), ["podName"]),
    ("POST", "/gpu/allocations", lambda t: allocation(teamId=f"ml{t}team"), ["teamId"]),
    ("POST", "/gpu/allocations", lambda t: allocation(userId=t), ["userId"]),
    ("POST", "/gpu/allocations", lambda t: allocation(projectId=t), ["projectId"]),
    ("POST", "/gpu/allocations", lambda t: allocation(workloadType=t), ["workloadType"]),
    ("POST", "/gpu/allocations", lambda t: allocation(containerName=t), ["containerName"]),
    (
        "POST",
        "/batch/allocations",
        lambda t: {"allocations": [allocation(teamId=f"ml{t}")]},
        ["allocations", "0", "teamId"],
    ),
    ("POST", "/batch/metrics/collect", lambda t: {"nodes": [f"n{t}"]}, ["nodes", "0"]),
    ("POST", "/gpu/mig/devices/gpu-worker-1-GPU-00", lambda t: {"profileIds": [t]}, []),
    ("POST", "/webhooks", lambda t: webhook(name=f"slack{t}"), ["name"]),
    ("POST", "/webhooks", lambda t: webhook(url=f"http://93.184.215.14/{t}"), ["url"]),
    (
        "POST",
        "/gpu/cost/budgets",
        lambda t: {"scope": "team", "name": f"ml{t}", "monthlyBudget": 1},
        ["name"],
    ),
    ("PUT", "/gpu/cost/prices/A100_80GB", lambda t: {"pricePerHour": 2, "source": t}, ["source"]),
    ("POST", "/alerts/alertmanager", lambda t: alert(receiver=f"am{t}"), ["receiver"]),
    ("POST", "/alerts/alertmanager", lambda t: alert(fingerprint=f"f{t}"), []),
    ("POST", "/alerts/alertmanager", lambda t: alert(labels={"alertname": f"X{t}"}), []),
    ("POST", "/alerts/alertmanager", lambda t: alert(labels={"alertname": "X", t: "v"}), []),
    ("POST", "/alerts/alertmanager", lambda t: alert(commonLabels={"team": f"ml{t}"}), []),
]


@pytest.mark.parametrize(("method", "path", "body", "where"), WRITES)
def test_refused_characters_are_validation_errors_on_every_write(
    client: FlaskClient, method: str, path: str, body: Any, where: list[str]
) -> None:
    register(client, "gpu-worker-1", 0)
    for text in REFUSED:
        error = assert_error(post_json(client, method, path, body(text)), 400, "VALIDATION_ERROR")
        assert isinstance(error["details"], str), error
        if where:
            found = error["fields"]
            for key in where:
                found = found[key]
            assert "control or bidirectional formatting" in found[0], (text, error)
        else:
            assert "control or bidirectional formatting" in json.dumps(error), (text, error)
    # Nothing was stored: only the device the test registered, no allocation, webhook or budget.
    assert len(client.get(f"{API}/gpu/devices").get_json()["data"]) == 1
    assert client.get(f"{API}/gpu/allocations").get_json()["data"] == []
    assert client.get(f"{API}/webhooks", headers=ADMIN).get_json()["data"] == []
    assert client.get(f"{API}/gpu/cost/budgets", headers=ADMIN).get_json()["data"] == []


def test_alert_descriptions_may_span_lines_but_hold_no_other_refused_character(
    client: FlaskClient,
) -> None:
    for text in REFUSED:
        body = alert(annotations={"description": f"one{text}two"})
        response = post_json(client, "POST", "/alerts/alertmanager", body)
        if text in ("\n", "\r", "\t"):
            assert response.status_code == 200, response.get_json()
        else:
            assert_error(response, 400, "VALIDATION_ERROR")


def test_patching_a_webhook_name_is_checked_too(client: FlaskClient) -> None:
    created = post_json(client, "POST", "/webhooks", webhook())
    path = f"/webhooks/{created.get_json()['data']['webhookId']}"
    for text in REFUSED:
        assert_error(
            post_json(client, "PATCH", path, {"name": f"a{text}"}), 400, "VALIDATION_ERROR"
        )
    assert client.get(API + path, headers=ADMIN).get_json()["data"]["name"] == "slack"


def test_ordinary_unicode_names_are_taken(client: FlaskClient) -> None:
    for index, text in enumerate(ACCEPTED):
        response = post_json(client, "POST", "/webhooks", webhook(name=text))
        assert response.status_code == 201, response.get_json()
        assert response.get_json()["data"]["name"] == text
        response = post_json(
            client, "POST", "/gpu/devices", device(serialNumber=text, deviceIndex=index)
        )
        assert response.status_code == 201, response.get_json()
    # Alert descriptions keep their lines and tabs.
    receipt = post_json(client, "POST", "/alerts/alertmanager", alert())
    assert receipt.status_code == 200, receipt.get_json()


@pytest.mark.parametrize(
    "query", ["teamId=ml%00", "userId=%E2%80%AEadmin", "namespace=ml%0A", "teamId=a%E2%81%A6b"]
)
def test_refused_characters_in_query_filters_are_invalid_parameters(
    client: FlaskClient, query: str
) -> None:
    assert_error(client.get(f"{API}/gpu/allocations?{query}"), 400, "INVALID_PARAMETER")


def test_api_key_names_are_checked_alike(app: Flask) -> None:
    keys = app.extensions["gpu_analytics.services"].api_keys
    for text in REFUSED:
        with pytest.raises(ValidationFailed, match="control or bidirectional formatting"):
            keys.create("viewer", f"ops{text}")
    assert keys.create("viewer", "équipe ops").name == "équipe ops"


def test_refused_characters_are_named_once_each_in_order() -> None:
    assert refused_characters("a\u202eb\x00c\u202e") == ["U+202E", "U+0000"]
    assert refused_characters("line\nnext\ttab\r\n", multiline=True) == []
    assert refused_characters("nul\x00 in a description", multiline=True) == ["U+0000"]
    assert all(refused_characters(f"x{text}") for text in REFUSED)
    assert not any(refused_characters(text) for text in ACCEPTED)
