"""Optional page and size on fleet-wide lists: whole lists by default, exact pages otherwise.

The lists read from the database are paged in SQL, so these run on SQLite and PostgreSQL. The
lists built from Prometheus are paged through the same envelope; tests/sdk/test_pagination.py
pages them on the demo stack's real Prometheus.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from analytics.paging import PageRequest, paged, paged_within
from analytics.resources.gpu.schemas import OverheatingAlertsSchema
from tests.analytics.conftest import ADMIN, API, AppFactory, FakeClock, assert_error, register

pytestmark = pytest.mark.databases

# Registered out of order: the list's order (node name, then index) is the service's own.
DEVICES = [
    ("node-c", 1, "A100_80GB"),
    ("node-a", 3, "H100_80GB"),
    ("node-b", 0, "RTX4090"),
    ("node-a", 0, "A100_80GB"),
    ("node-c", 0, "L4"),
    ("node-a", 1, "A100_40GB"),
    ("node-b", 2, "A100_80GB"),
]
MIG_DEVICE = "node-c-GPU-01"


def allocate(client: FlaskClient, pod: str, hours: float, now: Any) -> dict[str, Any]:
    body = {
        "namespace": "paging",
        "podName": pod,
        "requiredMemoryGb": 4,
        "useMig": True,
        "plannedReleaseTime": (now + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    response = client.post(f"{API}/gpu/allocations", json=body, headers=ADMIN)
    assert response.status_code == 201, response.get_json()
    data: dict[str, Any] = response.get_json()["data"]
    return data


@pytest.fixture
def fleet(make_app: AppFactory) -> FlaskClient:
    """Seven GPUs, one with seven free MIG instances, six allocations of which two released."""
    clock = FakeClock()
    client = make_app(clock=clock).test_client()
    for node, index, model in DEVICES:
        register(client, node, index, model=model)
    layout = {"profileIds": ["1g.10gb"] * 7}
    created = client.post(f"{API}/gpu/mig/devices/{MIG_DEVICE}", json=layout, headers=ADMIN)
    assert created.status_code == 201, created.get_json()
    made = []
    for number in range(6):
        made.append(allocate(client, f"pod-{number}", hours=2 + number * 10, now=clock.now()))
        clock.advance(minutes=1)
    for allocation in made[1:5:2]:
        url = f"{API}/gpu/allocations/{allocation['allocationId']}"
        assert client.delete(url, headers=ADMIN).status_code == 200
    return client


# Every list the fleet fixture fills, with the key that identifies a row.
SQL_LISTS = [
    ("/gpu/devices", "deviceId"),
    ("/gpu/devices?status=available", "deviceId"),
    ("/gpu/devices?nodeName=node-a", "deviceId"),
    ("/gpu/allocations", "allocationId"),
    ("/gpu/allocations?status=ALL", "allocationId"),
    ("/gpu/allocations?status=RELEASED", "allocationId"),
    ("/gpu/allocations/expiring?hours=48", "allocationId"),
    ("/gpu/mig/available", "instanceId"),
]


def get(client: FlaskClient, url: str, **params: int) -> dict[str, Any]:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    separator = "&" if "?" in url else "?"
    response = client.get(API + url + (separator + query if query else ""))
    body: dict[str, Any] = response.get_json()
    assert response.status_code == 200, body
    return body


def test_without_page_parameters_every_list_is_whole_in_the_plain_envelope(
    fleet: FlaskClient,
) -> None:
    devices = get(fleet, "/gpu/devices")
    assert set(devices) == {"status", "data", "timestamp"}
    assert [d["deviceId"] for d in devices["data"]] == [
        "node-a-GPU-00",
        "node-a-GPU-01",
        "node-a-GPU-03",
        "node-b-GPU-00",
        "node-b-GPU-02",
        "node-c-GPU-00",
        "node-c-GPU-01",
    ]
    sizes = {url: len(get(fleet, url)["data"]) for url, _key in SQL_LISTS}
    assert sizes == {
        "/gpu/devices": 7,
        "/gpu/devices?status=available": 6,  # the MIG GPU holds allocations
        "/gpu/devices?nodeName=node-a": 3,
        "/gpu/allocations": 4,
        "/gpu/allocations?status=ALL": 6,
        "/gpu/allocations?status=RELEASED": 2,
        "/gpu/allocations/expiring?hours=48": 3,  # releases in 2, 22 and 42 hours, one gone
        "/gpu/mig/available": 7 - 4,
    }
    assert all(set(get(fleet, url)) == {"status", "data", "timestamp"} for url, _ in SQL_LISTS)


@pytest.mark.parametrize(("url", "key"), SQL_LISTS)
@pytest.mark.parametrize("size", [1, 2, 5])
def test_pages_concatenate_to_the_whole_list(
    fleet: FlaskClient, url: str, key: str, size: int
) -> None:
    whole = [row[key] for row in get(fleet, url)["data"]]
    total_pages = -(-len(whole) // size)
    seen: list[str] = []
    for number in range(1, total_pages + 2):
        body = get(fleet, url, page=number, size=size)
        rows = [row[key] for row in body["data"]]
        assert body["pagination"] == {
            "page": number,
            "size": size,
            "totalElements": len(whole),
            "totalPages": total_pages,
        }
        if number < total_pages:
            assert len(rows) == size
        elif number == total_pages:
            assert 1 <= len(rows) <= size  # the last page may be partial
        else:
            assert rows == []  # past the end: empty, with the total
        seen += rows
    assert seen == whole


def test_last_page_is_partial_and_a_page_past_the_end_is_empty(fleet: FlaskClient) -> None:
    last = get(fleet, "/gpu/devices", page=3, size=3)
    assert [d["deviceId"] for d in last["data"]] == ["node-c-GPU-01"]
    assert last["pagination"] == {"page": 3, "size": 3, "totalElements": 7, "totalPages": 3}
    beyond = get(fleet, "/gpu/devices", page=50, size=3)
    assert beyond["data"] == []
    assert beyond["pagination"] == {"page": 50, "size": 3, "totalElements": 7, "totalPages": 3}


def test_size_alone_is_page_one_and_page_alone_has_the_default_size(fleet: FlaskClient) -> None:
    first = get(fleet, "/gpu/devices", size=2)
    assert [d["deviceId"] for d in first["data"]] == ["node-a-GPU-00", "node-a-GPU-01"]
    assert first["pagination"]["page"] == 1
    alone = get(fleet, "/gpu/devices", page=1)
    assert alone["pagination"] == {"page": 1, "size": 100, "totalElements": 7, "totalPages": 1}
    assert len(alone["data"]) == 7
    assert get(fleet, "/gpu/devices", page=2)["data"] == []


def test_a_paged_device_list_carries_the_same_rows_as_the_whole_one(fleet: FlaskClient) -> None:
    whole = {d["deviceId"]: d for d in get(fleet, "/gpu/devices")["data"]}
    for device in get(fleet, "/gpu/devices", page=2, size=3)["data"]:
        assert device == whole[device["deviceId"]]


# Every paged list; page and size are checked before a view reads the database or Prometheus.
PAGED_URLS = [
    "/gpu/devices",
    "/gpu/devices/overheating",
    "/gpu/allocations",
    "/gpu/allocations/expiring",
    "/gpu/mig/available",
    "/gpu/metrics/usage-statistics",
    "/gpu/metrics/overheating-alerts",
    "/resources/pods",
    "/resources/pods/all",
    "/resources/nodes",
    "/resources/namespaces",
    "/resources/alerts",
]
BAD_VALUES = [
    "page=0",
    "page=-1",
    "page=abc",
    "page=",
    "page=1.5",
    "page=1000001",
    "size=0",
    "size=1001",
    "size=ten",
    "page=1&size=0",
    "page=1&page=2",
]


@pytest.mark.parametrize("url", PAGED_URLS)
@pytest.mark.parametrize("query", BAD_VALUES)
@pytest.mark.databases("sqlite")
def test_invalid_page_or_size_is_400_invalid_parameter(
    client: FlaskClient, url: str, query: str
) -> None:
    error = assert_error(client.get(f"{API}{url}?{query}"), 400, "INVALID_PARAMETER")
    assert set(error["fields"]) <= {"page", "size"} and error["fields"]
    assert isinstance(error["details"], str) and error["details"]


@pytest.mark.databases("sqlite")
def test_openapi_documents_page_and_size_on_every_paged_list(client: FlaskClient) -> None:
    document = client.get("/k8s-monitor/api-docs").get_json()
    paged_operations = set()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if method == "parameters":
                continue
            names = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
            if {"page", "size"} <= names:
                paged_operations.add((method, path.removeprefix(API)))
                envelope = operation["responses"]["200"]["content"]["application/json"]["schema"]
                name = envelope["$ref"].rsplit("/", 1)[-1]
                schema = document["components"]["schemas"][name]
                pagination = schema["properties"]["pagination"]
                assert pagination["allOf"] == [{"$ref": "#/components/schemas/Pagination"}]
                assert "pagination" not in schema["required"]
    assert paged_operations == {("get", url) for url in PAGED_URLS}
    members = document["components"]["schemas"]["Pagination"]["properties"]
    assert set(members) == {"page", "size", "totalElements", "totalPages"}


# -- the rules themselves ----------------------------------------------------------------------


def test_page_requests_outside_the_bounds_are_refused() -> None:
    for number, size in [(0, 10), (1, 0), (1, 1001), (1_000_001, 10)]:
        with pytest.raises(ValueError, match="no such page"):
            PageRequest(number, size)


def test_paged_leaves_a_whole_list_whole_and_cuts_a_page() -> None:
    rows = list(range(10))
    assert paged(rows, None) == rows
    page = paged(rows, PageRequest(4, 3))
    assert not isinstance(page, list)
    assert (page.content, page.total_elements, page.total_pages) == ([9], 10, 4)
    nothing: list[int] = []
    empty = paged(nothing, PageRequest(1, 3))
    assert not isinstance(empty, list) and empty.total_pages == 0


def test_paged_within_cuts_one_member_and_keeps_the_others_whole() -> None:
    alerts = [{"device_id": f"d{i}"} for i in range(5)]
    result = {"total_alerts": 5, "alerts": alerts}
    assert paged_within(result, "alerts", None) is result
    page = paged_within(result, "alerts", PageRequest(2, 2))
    assert page.content == {"total_alerts": 5, "alerts": alerts[2:4]}
    assert (page.total_elements, page.total_pages) == (5, 3)
    assert result["alerts"] == alerts  # the computed (maybe cached) result is not changed
    by_device = {"d3": 3, "d1": 1, "d2": 2}
    keyed = paged_within({"devices": by_device, "models": {"m": 1}}, "devices", PageRequest(1, 2))
    assert keyed.content == {"devices": {"d3": 3, "d1": 1}, "models": {"m": 1}}
    assert list(keyed.content["devices"]) == ["d3", "d1"]  # the order computed, not re-sorted
    dumped = OverheatingAlertsSchema().dump(page.content)
    assert dumped["totalAlerts"] == 5 and len(dumped["alerts"]) == 2
