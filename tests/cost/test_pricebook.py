"""The price book through the API (gunicorn, two workers): defaults with sources, an admin
override that changes the cost in every worker, 403 for other roles, the error envelope."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.cost.conftest import CostStack
from tests.cost.truth import REFERENCE_PRICES

MODEL = "A100_80GB"


def assert_error(response: requests.Response, status: int, code: str) -> dict[str, Any]:
    body = response.json()
    assert response.status_code == status, body
    assert body["status"] == "error", body
    assert body["error"]["code"] == code, body
    assert body["timestamp"].endswith("Z")
    error: dict[str, Any] = body["error"]
    return error


@pytest.fixture
def restore_price(cost_stack: CostStack) -> Iterator[None]:
    yield
    requests.delete(f"{cost_stack.api}/gpu/cost/prices/{MODEL}", headers=cost_stack.admin)


def test_defaults_come_from_the_reference_with_source_and_date(cost_stack: CostStack) -> None:
    prices = {p["modelId"]: p for p in cost_stack.data("/gpu/cost/prices")}
    for model_id, price in REFERENCE_PRICES.items():
        assert prices[model_id]["pricePerHour"] == price
        assert prices[model_id]["origin"] == "catalogue"
        assert prices[model_id]["source"] and prices[model_id]["asOf"]
    assert prices["A30_24GB"]["pricePerHour"] is None


def test_override_changes_the_cost_in_every_worker(
    cost_stack: CostStack, restore_price: None
) -> None:
    before = cost_stack.data("/gpu/cost/analysis", days=1)
    response = requests.put(
        f"{cost_stack.api}/gpu/cost/prices/{MODEL}",
        json={"pricePerHour": REFERENCE_PRICES[MODEL] * 2, "source": "test contract"},
        headers=cost_stack.admin,
        timeout=30,
    )
    assert response.status_code == 200, response.text
    price = response.json()["data"]
    assert price["origin"] == "api" and price["source"] == "test contract"
    assert price["setBy"]
    # Several requests, so both gunicorn workers answer some.
    for _ in range(4):
        after = cost_stack.data("/gpu/cost/analysis", days=1)
        assert after["costByModel"][MODEL] == pytest.approx(
            2 * before["costByModel"][MODEL], rel=0.002
        )
        assert after["costByModel"]["H100_80GB"] == pytest.approx(
            before["costByModel"]["H100_80GB"], rel=0.002
        )
        assert after["fleetCostByModel"][MODEL] == pytest.approx(
            2 * before["fleetCostByModel"][MODEL], rel=0.002
        )
    cleared = requests.delete(f"{cost_stack.api}/gpu/cost/prices/{MODEL}", headers=cost_stack.admin)
    assert cleared.status_code == 200
    assert cleared.json()["data"]["pricePerHour"] == REFERENCE_PRICES[MODEL]
    again = cost_stack.data("/gpu/cost/analysis", days=1)
    assert again["costByModel"][MODEL] == pytest.approx(before["costByModel"][MODEL], rel=0.002)


@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_only_admin_may_change_prices(cost_stack: CostStack, role: str) -> None:
    url = f"{cost_stack.api}/gpu/cost/prices/{MODEL}"
    response = requests.put(url, json={"pricePerHour": 1.0}, headers=cost_stack.key(role))
    error = assert_error(response, 403, "FORBIDDEN")
    # A viewer is stopped before the view (no changes at all); an operator by the view.
    assert error["context"]["requiredRole"] == ("admin" if role == "operator" else "operator")
    assert_error(requests.delete(url, headers=cost_stack.key(role)), 403, "FORBIDDEN")
    assert cost_stack.data(f"/gpu/cost/prices/{MODEL}")["pricePerHour"] == REFERENCE_PRICES[MODEL]


def test_changing_prices_needs_a_key(cost_stack: CostStack) -> None:
    response = requests.put(f"{cost_stack.api}/gpu/cost/prices/{MODEL}", json={"pricePerHour": 1.0})
    assert_error(response, 401, "UNAUTHORIZED")


@pytest.mark.parametrize(
    "body",
    [{"pricePerHour": -1}, {"pricePerHour": "cheap"}, {}, {"pricePerHour": 1, "extra": 1}],
)
def test_bad_price_gets_the_error_envelope(cost_stack: CostStack, body: dict[str, Any]) -> None:
    response = requests.put(
        f"{cost_stack.api}/gpu/cost/prices/{MODEL}", json=body, headers=cost_stack.admin
    )
    assert_error(response, 400, "VALIDATION_ERROR")
    assert cost_stack.data(f"/gpu/cost/prices/{MODEL}")["pricePerHour"] == REFERENCE_PRICES[MODEL]


def test_unknown_model_is_not_found(cost_stack: CostStack) -> None:
    response = requests.put(
        f"{cost_stack.api}/gpu/cost/prices/B200_192GB",
        json={"pricePerHour": 6.0},
        headers=cost_stack.admin,
    )
    assert_error(response, 404, "RESOURCE_NOT_FOUND")


@pytest.mark.parametrize("days", ["0", "91", "week"])
def test_bad_window_gets_the_error_envelope(cost_stack: CostStack, days: str) -> None:
    for path in ("/gpu/cost/analysis", "/gpu/cost/optimization"):
        assert_error(cost_stack.get(path, days=days), 400, "INVALID_PARAMETER")
