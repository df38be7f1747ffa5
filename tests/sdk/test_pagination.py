"""page and size through the SDK, against the demo stack (real gunicorn, Prometheus, exporters):
list methods still return whole lists, and their pages, read to the first empty one, give the
same rows, with the service's totals. The Prometheus-backed lists are paged after the join, so
this is where they meet real data."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest

from k8s_gpu_client import GpuManagementClient, InvalidParameterError, Page, Pagination
from k8s_gpu_client.models._base import camel_case
from tests.sdk.recording import assert_mirrors

Fetch = Callable[..., Page[Any]]


def read_pages(fetch: Fetch, size: int) -> tuple[list[Any], int]:
    """Every row of ``fetch``'s pages of ``size``, read up to the first empty page, checking
    each page's pagination; and the total the service gave."""
    rows: list[Any] = []
    number = 1
    while True:
        page = fetch(page=number, size=size)
        assert isinstance(page.pagination, Pagination)
        assert (page.pagination.page, page.pagination.size) == (number, size)
        total = page.total_elements
        assert page.total_pages == -(-total // size)
        if not page:
            assert number == page.total_pages + 1  # the first page past the end
            return rows, total
        assert len(page) == size or number == page.total_pages  # only the last is partial
        assert_mirrors(list(page))
        rows += page
        number += 1


# (name, the method, the key of a row): DB-backed and Prometheus-backed lists.
LISTS: list[tuple[str, Callable[[GpuManagementClient], Fetch], Callable[[Any], Any]]] = [
    ("devices", lambda c: c.devices.list, lambda d: d.device_id),
    ("active devices", lambda c: partial(c.devices.list, status="active"), lambda d: d.device_id),
    ("free MIG instances", lambda c: c.mig.available, lambda i: i.instance_id),
    ("all pods", lambda c: c.resources.all_pods, lambda p: (p.namespace, p.name)),
    ("serving pods", lambda c: c.resources.pods, lambda p: (p.namespace, p.name)),
    ("nodes", lambda c: c.resources.nodes, lambda n: n.name),
    ("namespaces", lambda c: c.resources.namespaces, lambda n: n.namespace),
]


@pytest.mark.parametrize(("name", "method", "key"), LISTS, ids=[name for name, _m, _k in LISTS])
def test_pages_give_the_whole_list_with_its_total(
    client: GpuManagementClient,
    name: str,
    method: Callable[[GpuManagementClient], Fetch],
    key: Callable[[Any], Any],
) -> None:
    fetch = method(client)
    whole = fetch()
    assert isinstance(whole, Page) and whole.pagination is None
    assert whole.total_elements == len(whole) and whole.total_pages == (1 if whole else 0)
    assert whole, f"the demo stack has {name}"
    size = max(1, len(whole) // 3)  # three or four pages, the last partial where it can be
    rows, total = read_pages(fetch, size)
    assert total == len(whole)
    assert [key(row) for row in rows] == [key(row) for row in whole]


def test_whole_lists_are_what_they_were(client: GpuManagementClient) -> None:
    devices = client.devices.list()
    assert isinstance(devices, list) and len(devices) > 8
    assert devices == list(devices) and devices[0] == client.devices.get(devices[0].device_id or "")
    nodes = client.resources.nodes()
    assert [n.name for n in nodes] == [f"gpu-worker-{i}" for i in range(1, 5)]


def test_usage_statistics_pages_cut_the_devices_and_keep_the_models(
    client: GpuManagementClient,
) -> None:
    whole = client.metrics.usage_statistics(hours=24)
    assert whole.pagination is None and len(whole.device_statistics) > 10
    first = client.metrics.usage_statistics(hours=24, page=1, size=10)
    second = client.metrics.usage_statistics(hours=24, page=2, size=10)
    assert first.pagination is not None and second.pagination is not None
    assert first.pagination.total_elements == len(whole.device_statistics)
    keys = list(whole.device_statistics)
    assert list(first.device_statistics) == keys[:10]
    assert list(second.device_statistics) == keys[10:20]
    counts = {m: s.device_count for m, s in whole.model_statistics.items()}
    assert {m: s.device_count for m, s in second.model_statistics.items()} == counts
    assert_mirrors(first)


def test_overheating_alert_pages_keep_the_totals(client: GpuManagementClient) -> None:
    whole = client.metrics.overheating_alerts(hours=24)
    paged = client.metrics.overheating_alerts(hours=24, page=1, size=1)
    assert paged.pagination is not None
    assert paged.pagination.total_elements == whole.total_alerts == paged.total_alerts
    assert len(paged.alerts) == min(1, len(whole.alerts))
    assert paged.affected_devices == whole.affected_devices


@pytest.mark.parametrize(("page", "size"), [(0, 10), (1, 0), (1, 1001), (-3, None)])
def test_bad_page_or_size_raises_invalid_parameter(
    client: GpuManagementClient, page: int, size: int | None
) -> None:
    with pytest.raises(InvalidParameterError) as raised:
        client.devices.list(page=page, size=size)
    assert raised.value.status == 400 and raised.value.code == "INVALID_PARAMETER"


def test_pagination_mirrors_its_openapi_schema(openapi: dict[str, Any]) -> None:
    keys = {camel_case(f.name) for f in dataclasses.fields(Pagination) if f.name != "extra"}
    assert keys == set(openapi["components"]["schemas"]["Pagination"]["properties"])


def test_a_page_is_a_list() -> None:
    page = Page([1, 2], Pagination(page=3, size=2, total_elements=7, total_pages=4))
    assert page == [1, 2] and isinstance(page, list)
    assert (page.total_elements, page.total_pages) == (7, 4)
    assert (Page([]).total_elements, Page([]).total_pages) == (0, 0)
