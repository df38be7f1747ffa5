"""Date-times at the ends of what Python holds: every date the API parses (one field, one helper,
analytics.clock.parse_utc) answers 400, never 500, for a value with no UTC date in the years
1-9999, and takes the extremes that have one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from marshmallow import Schema, ValidationError

from analytics.api.fields import UtcDateTime
from analytics.clock import parse_utc
from analytics.services.cluster.health import prometheus_alerts
from tests.analytics.conftest import ADMIN, API, assert_error, register

# Each has a valid ISO-8601 form, but its UTC value lies outside the years 1-9999.
BEYOND = ("9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00", "9999-12-31T23:00:00-14:00")
# The extremes that do exist in UTC.
LAST = "9999-12-31T23:59:59Z"
FIRST = "0001-01-01T00:00:00Z"


def allocation(field_value: str) -> dict[str, Any]:
    return {
        "namespace": "ml",
        "podName": "edge",
        "requiredMemoryGb": 10,
        "plannedReleaseTime": field_value,
    }


def alert(starts_at: str, ends_at: str | None = None) -> dict[str, Any]:
    item = {
        "status": "firing",
        "labels": {"alertname": "GpuTemperatureHigh", "node": "gpu-worker-1"},
        "startsAt": starts_at,
        "fingerprint": "edge0001",
    }
    if ends_at is not None:
        item["endsAt"] = ends_at
    return {"version": "4", "status": "firing", "receiver": "gpu-analytics", "alerts": [item]}


def device(field: str) -> Callable[[str], dict[str, Any]]:
    return lambda value: {
        "nodeName": "gpu-worker-9",
        "modelId": "A100_80GB",
        "deviceIndex": 0,
        field: value,
    }


# (path, body for a date value, where the field's error is in the error's fields)
DATE_FIELDS: list[tuple[str, Callable[[str], dict[str, Any]], list[Any]]] = [
    ("/gpu/devices", device("purchaseDate"), ["purchaseDate"]),
    ("/gpu/devices", device("warrantyExpiryDate"), ["warrantyExpiryDate"]),
    ("/gpu/allocations", allocation, ["plannedReleaseTime"]),
    (
        "/batch/allocations",
        lambda v: {"allocations": [allocation(v)]},
        ["allocations", "0", "plannedReleaseTime"],
    ),
    ("/alerts/alertmanager", alert, ["alerts", "0", "startsAt"]),
    ("/alerts/alertmanager", lambda v: alert(FIRST, v), ["alerts", "0", "endsAt"]),
]


def detail(error: dict[str, Any], keys: list[Any]) -> Any:
    assert isinstance(error["details"], str)
    found = error["fields"]
    for key in keys:
        found = found[key] if key in found else found[int(key)]
    return found


@pytest.mark.parametrize("value", BEYOND)
@pytest.mark.parametrize(("path", "body", "where"), DATE_FIELDS)
def test_a_date_without_a_utc_value_is_a_validation_error(
    client: FlaskClient,
    path: str,
    body: Callable[[str], dict[str, Any]],
    where: list[Any],
    value: str,
) -> None:
    register(client, "gpu-worker-1", 0)
    error = assert_error(
        client.post(API + path, json=body(value), headers=ADMIN), 400, "VALIDATION_ERROR"
    )
    assert "between the years 1 and 9999" in detail(error, where)[0]


def test_the_extremes_that_exist_in_utc_are_stored_and_read_back(client: FlaskClient) -> None:
    register(client, "gpu-worker-1", 0, purchaseDate=FIRST, warrantyExpiryDate=LAST)
    register(
        client,
        "gpu-worker-1",
        1,
        purchaseDate="0001-01-01T00:00:00-14:00",
        warrantyExpiryDate="9999-12-31T23:59:59+14:00",
    )
    devices = {d["deviceId"]: d for d in client.get(f"{API}/gpu/devices").get_json()["data"]}
    first = devices["gpu-worker-1-GPU-00"]
    assert (first["purchaseDate"], first["warrantyExpiryDate"]) == (FIRST, LAST)
    second = devices["gpu-worker-1-GPU-01"]
    assert second["purchaseDate"] == "0001-01-01T14:00:00Z"
    assert second["warrantyExpiryDate"] == "9999-12-31T09:59:59Z"

    created = client.post(f"{API}/gpu/allocations", json=allocation(LAST), headers=ADMIN)
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["data"]["plannedReleaseTime"] == LAST
    for path in (
        "/gpu/allocations",
        "/gpu/allocations/expiring?hours=8760",
        "/gpu/allocations/cost-statistics",
        "/gpu/devices/statistics",
    ):
        assert client.get(API + path).status_code == 200, path
    past = client.post(f"{API}/gpu/allocations", json=allocation(FIRST), headers=ADMIN)
    assert_error(past, 400, "VALIDATION_ERROR")
    # Alertmanager's "still firing" endsAt is the first instant.
    receipt = client.post(f"{API}/alerts/alertmanager", json=alert(LAST, FIRST), headers=ADMIN)
    assert receipt.status_code == 200, receipt.get_json()


def test_the_field_in_a_query_is_an_invalid_parameter_not_a_500() -> None:
    # No query parameter is a date today; the field refuses alike wherever it is used.
    schema = Schema.from_dict({"since": UtcDateTime()})()
    for value in BEYOND:
        with pytest.raises(ValidationError) as refused:
            schema.load({"since": value})
        messages = refused.value.messages
        assert isinstance(messages, dict)
        assert "between the years 1 and 9999" in messages["since"][0]


def test_parse_utc_refuses_with_value_error_only() -> None:
    for value in BEYOND:
        with pytest.raises(ValueError, match="outside the years 1-9999"):
            parse_utc(value)
    assert parse_utc(LAST).isoformat() == "9999-12-31T23:59:59+00:00"
    assert parse_utc("2026-11-26T09:10:48.473758873Z").microsecond == 473758


def test_prometheus_times_beyond_utc_are_unknown_not_a_500() -> None:
    (view,) = prometheus_alerts(
        [{"state": "firing", "labels": {"alertname": "X"}, "activeAt": BEYOND[0], "value": "1"}]
    )
    assert view.starts_at is None
