"""GET /gpu/cost/analysis over 30 days of the cost fleet against the ground truth (truth.py):
cost by namespace, team and model within 1 %, and every GPU's four-way split adding up to
price x hours."""

from __future__ import annotations

from typing import Any

import pytest

from tests.cost.conftest import COST_FLEET, CostStack
from tests.cost.truth import REFERENCE_PRICES, FleetTruth, load_truth

# Each test on Prometheus and on VictoriaMetrics (tests/stack_fixtures.py).
pytestmark = pytest.mark.metrics_backends

WINDOW_DAYS = 30
HOURS = WINDOW_DAYS * 24.0
LEDGER_POD = ("model-serving", "whisper-small-6c5b4a3d2-ww321")
LEDGER_OWNERS = {"team": "speech-team", "user": "gina", "project": "asr"}


@pytest.fixture(scope="module")
def truth() -> FleetTruth:
    return load_truth(COST_FLEET)


@pytest.fixture(scope="module")
def analysis(cost_stack: CostStack) -> dict[str, Any]:
    """The analysis after a ledger allocation names the team, user and project of one pod."""
    import requests

    synced = requests.post(cost_stack.api + "/gpu/metrics/collect", headers=cost_stack.admin)
    assert synced.status_code in (200, 202), synced.text
    allocated = requests.post(
        cost_stack.api + "/gpu/allocations",
        headers=cost_stack.admin,
        json={
            "namespace": LEDGER_POD[0],
            "podName": LEDGER_POD[1],
            "requiredMemoryGb": 18,
            "preferredModelId": "L4",
            "teamId": LEDGER_OWNERS["team"],
            "userId": LEDGER_OWNERS["user"],
            "projectId": LEDGER_OWNERS["project"],
        },
        timeout=30,
    )
    assert allocated.status_code == 201, allocated.text
    data: dict[str, Any] = cost_stack.data("/gpu/cost/analysis", days=WINDOW_DAYS)
    return data


def assert_close(actual: dict[str, float], expected: dict[str, float]) -> None:
    assert set(actual) == set(expected), (actual, expected)
    for key, value in expected.items():
        assert actual[key] == pytest.approx(value, rel=0.01), (key, actual[key], value)


def test_window_is_thirty_days_of_history(analysis: dict[str, Any], cost_stack: CostStack) -> None:
    assert analysis["windowDays"] == WINDOW_DAYS
    assert analysis["resolutionSeconds"] == 3600
    assert all(d["hours"] == pytest.approx(HOURS, rel=0.001) for d in analysis["devices"])
    assert cost_stack.backfill_seconds > 0
    print(f"\nbackfill of 31 days at a 5-minute step: {cost_stack.backfill_seconds:.1f} s")


def test_cost_by_namespace_matches_the_fleet(analysis: dict[str, Any], truth: FleetTruth) -> None:
    assert_close(analysis["costByNamespace"], truth.cost_by("namespace", HOURS))
    assert analysis["totalCost"] == pytest.approx(sum(truth.pod_costs(HOURS).values()), rel=0.01)
    assert analysis["dailyCost"] == pytest.approx(analysis["totalCost"] / WINDOW_DAYS, rel=0.001)
    assert analysis["monthlyCost"] == pytest.approx(analysis["dailyCost"] * 30, rel=0.001)


def test_cost_by_team_user_and_project_follow_ledger_then_labels(
    analysis: dict[str, Any], truth: FleetTruth
) -> None:
    for role in ("team", "user", "project"):
        owners = {LEDGER_POD: LEDGER_OWNERS[role]}
        field = {"team": "costByTeam", "user": "costByUser", "project": "costByProject"}[role]
        assert_close(analysis[field], truth.cost_by(role, HOURS, owners))
    whisper = next(p for p in analysis["pods"] if p["pod"] == LEDGER_POD[1])
    assert whisper["ownerSource"] == {"team": "ledger", "user": "ledger", "project": "ledger"}
    unlabelled = next(p for p in analysis["pods"] if p["namespace"] == "batch-jobs")
    assert unlabelled["team"] == "unassigned"


def test_cost_by_model_matches_the_fleet(analysis: dict[str, Any], truth: FleetTruth) -> None:
    assert_close(analysis["costByModel"], truth.attributed_by_model(HOURS))
    assert_close(analysis["fleetCostByModel"], truth.fleet_by_model(HOURS))


def test_each_gpu_split_adds_up_to_price_times_hours(
    analysis: dict[str, Any], truth: FleetTruth
) -> None:
    devices = {d["deviceId"]: d for d in analysis["devices"]}
    assert len(devices) == len(truth.gpus)
    for (node, index), gpu in truth.gpus.items():
        device = devices[f"{node}-GPU-{index:02d}"]
        cost = device["cost"]
        expected = REFERENCE_PRICES[gpu["model"]] * device["hours"]
        parts = cost["used"] + cost["allocatedIdle"] + cost["unallocated"] + cost["stranded"]
        assert parts == pytest.approx(expected, abs=0.01), device
        assert cost["total"] == pytest.approx(expected, abs=0.01), device
    split = analysis["split"]
    assert split["total"] == pytest.approx(analysis["fleetCost"], abs=0.05)
    assert split["used"] + split["allocatedIdle"] == pytest.approx(analysis["totalCost"], abs=0.05)


def test_split_puts_each_injected_gpu_in_its_part(analysis: dict[str, Any]) -> None:
    devices = {d["deviceId"]: d for d in analysis["devices"]}
    price = REFERENCE_PRICES["A100_80GB"] * HOURS
    idle = devices["cost-node-1-GPU-01"]["cost"]  # the notebook that never computes
    assert idle["allocatedIdle"] >= 0.99 * price
    free = devices["cost-node-1-GPU-03"]["cost"]  # held by a Succeeded pod only
    assert free["unallocated"] == pytest.approx(price, abs=0.01)
    stranded = devices["cost-node-1-GPU-05"]  # 4 x 1g.20gb: 3 of 7 compute slices stranded
    assert stranded["strandedShare"] == pytest.approx(3 / 7, abs=1e-4)
    assert stranded["cost"]["stranded"] == pytest.approx(price * 3 / 7, rel=0.001)
    assert stranded["cost"]["used"] == pytest.approx(price * 2 / 7, rel=0.01)
    assert stranded["cost"]["unallocated"] == pytest.approx(price * 2 / 7, rel=0.01)
    carved = devices["cost-node-1-GPU-04"]  # 1g + 2g + 4g; the 2g.20gb is free
    assert carved["cost"]["unallocated"] == pytest.approx(price * 2 / 7, rel=0.01)
    assert carved["cost"]["stranded"] == 0.0
