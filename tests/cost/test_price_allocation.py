"""A price set through the price book reaches new allocations at once (real SQLite, in-process
app): costPerHour of a whole GPU and of a MIG instance follow it; clearing it restores the
catalogue's price."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from devstack.prometheus import PrometheusServer
from gpucatalog import model_by_id
from tests.analytics.conftest import (  # noqa: F401 (fixtures)
    ADMIN,
    API,
    AppFactory,
    app,
    client,
    make_app,
    register,
    settings,
)


def allocate(client: FlaskClient, pod: str, mig: bool, memory: float = 20) -> float:  # noqa: F811
    response = client.post(
        f"{API}/gpu/allocations",
        json={
            "namespace": "pricing",
            "podName": pod,
            "workloadType": "Training",
            "requiredMemoryGb": memory,
            "useMig": mig,
        },
        headers=ADMIN,
    )
    assert response.status_code == 201, response.get_json()
    cost: float = response.get_json()["data"]["costPerHour"]
    return cost


def test_price_book_changes_reach_new_allocations(client: FlaskClient) -> None:  # noqa: F811
    catalogue_price = model_by_id("A100_80GB").default_price_per_hour
    assert catalogue_price
    for index in range(3):
        register(client, "price-node", index)
    created = client.post(
        f"{API}/gpu/mig/devices/price-node-GPU-02",
        json={"profileIds": ["3g.40gb", "3g.40gb"]},
        headers=ADMIN,
    )
    assert created.status_code == 201, created.get_json()
    assert allocate(client, "before", False) == round(catalogue_price, 4)

    put = client.put(
        f"{API}/gpu/cost/prices/A100_80GB",
        json={"pricePerHour": 2.0, "source": "negotiated rate"},
        headers=ADMIN,
    )
    assert put.status_code == 200, put.get_json()
    assert allocate(client, "after", False) == 2.0
    # A 3g.40gb instance: 3 of 7 compute slices of the new price (the default compute rule).
    assert allocate(client, "mig-after", True) == round(2.0 * 3 / 7, 4)

    cleared = client.delete(f"{API}/gpu/cost/prices/A100_80GB", headers=ADMIN)
    assert cleared.status_code == 200, cleared.get_json()
    assert allocate(client, "cleared", True) == round(catalogue_price * 3 / 7, 4)


@pytest.fixture
def empty_prometheus(tmp_path: Path) -> Iterator[PrometheusServer]:
    """A real Prometheus with no series: /gpu/overview answers from the inventory."""
    server = PrometheusServer(tmp_path / "prometheus")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_a_price_set_through_the_api_shows_in_devices_mig_and_the_overview(
    make_app: AppFactory,  # noqa: F811
    empty_prometheus: PrometheusServer,
) -> None:
    """Issue 17: the overview, device and MIG prices came from a per-worker catalogue that
    never saw the price book's API prices, while allocations honoured them."""
    web = make_app(prometheus_url=empty_prometheus.url).test_client()
    catalogue_price = model_by_id("A100_80GB").default_price_per_hour
    assert catalogue_price
    for index in range(2):
        register(web, "price-node", index)
    created = web.post(
        f"{API}/gpu/mig/devices/price-node-GPU-01",
        json={"profileIds": ["3g.40gb"]},
        headers=ADMIN,
    )
    assert created.status_code == 201, created.get_json()

    def shown() -> tuple[float, float, float]:
        device = web.get(f"{API}/gpu/devices/price-node-GPU-00").get_json()["data"]
        layout = web.get(f"{API}/gpu/mig/devices/price-node-GPU-01").get_json()["data"]
        overview = web.get(f"{API}/gpu/overview")
        assert overview.status_code == 200, overview.get_json()
        return (
            device["pricePerHour"],
            layout["instances"][0]["costPerHour"],
            overview.get_json()["data"]["totalHourlyCost"],
        )

    assert shown() == (
        catalogue_price,
        round(catalogue_price * 3 / 7, 4),
        round(2 * catalogue_price, 2),
    )
    put = web.put(
        f"{API}/gpu/cost/prices/A100_80GB",
        json={"pricePerHour": 2.0, "source": "negotiated rate"},
        headers=ADMIN,
    )
    assert put.status_code == 200, put.get_json()
    assert shown() == (2.0, round(2.0 * 3 / 7, 4), 4.0)
