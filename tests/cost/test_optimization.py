"""GET /gpu/cost/optimization: each injected situation of the cost fleet produces exactly its
suggestion, with evidence and estimate; a clean fleet (test-small) produces none."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from devstack.stack import Stack
from simulator.fleet import load_fleet, stable_hash
from simulator.state import workload_utilization
from tests.cost.conftest import COST_FLEET, CostStack
from tests.stack_fixtures import history_stack  # noqa: F401 (a fixture)

DAYS = 7
HOURS_PER_MONTH = 730.0
A100, H100 = 2.29, 3.99  # list prices, USD per GPU-hour (tests/cost/truth.py)
# H100 80GB MIG profiles (NVIDIA's MIG user guide, supported profiles): (profile, compute slices
# of 7, memory GB), +me left out.
H100_PROFILES = [
    ("1g.10gb", 1, 10),
    ("1g.20gb", 1, 20),
    ("2g.20gb", 2, 20),
    ("3g.40gb", 3, 40),
    ("4g.40gb", 4, 40),
    ("7g.80gb", 7, 80),
]
SMALL_POD = ("model-serving", "vllm-opt-1-3b-4b3c2d1e0-h7j8k")
SMALL_POD_MEMORY_GIB = 6
LATE_POD = ("research", "llm-pretrain-worker-0")


def expected_profile(window_end: datetime) -> tuple[str, int, float]:
    """The MIG profile the small inference pod fits, from the simulator's own timeline: its
    mean utilisation over the window's minutes and its memory in the fleet YAML."""
    fleet = load_fleet(COST_FLEET)
    pod = next(p for n in fleet.nodes for p in n.pods if p.name == SMALL_POD[1])
    key = stable_hash(fleet.seed, pod.uid, pod.containers[0].name, 0)
    end_minute = int(window_end.timestamp()) // 60
    minutes = range(end_minute - DAYS * 1440, end_minute)
    mean = sum(workload_utilization("inference", key, m) for m in minutes) / len(minutes)
    fitting = [
        (c, gb, name)
        for name, c, gb in H100_PROFILES
        if gb >= SMALL_POD_MEMORY_GIB * 1.2 and c / 7 >= mean
    ]
    compute, _gb, name = min(fitting)
    # The scenario must not sit on a boundary, or the rounding of sampling would decide it.
    assert all(abs(mean - c / 7) > 0.02 for _n, c, _g in H100_PROFILES), mean
    return name, compute, mean


@pytest.fixture(scope="module")
def late_allocation(cost_stack: CostStack) -> dict[str, Any]:
    """A ledger allocation for a pod that keeps running, planned to end 3 s from now."""
    synced = requests.post(cost_stack.api + "/gpu/metrics/collect", headers=cost_stack.admin)
    assert synced.status_code in (200, 202), synced.text
    planned = datetime.now(UTC) + timedelta(seconds=3)
    response = requests.post(
        cost_stack.api + "/gpu/allocations",
        headers=cost_stack.admin,
        json={
            "namespace": LATE_POD[0],
            "podName": LATE_POD[1],
            "requiredMemoryGb": 10,
            "plannedReleaseTime": planned.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        },
        timeout=30,
    )
    assert response.status_code == 201, response.text
    time.sleep(max(0.0, (planned - datetime.now(UTC)).total_seconds()) + 1.0)
    allocation: dict[str, Any] = response.json()["data"]
    return allocation


@pytest.fixture(scope="module")
def suggestions(cost_stack: CostStack, late_allocation: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = cost_stack.data("/gpu/cost/optimization", days=DAYS)
    return data


def by_type(data: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for suggestion in data["suggestions"]:
        found.setdefault(suggestion["type"], []).append(suggestion)
    return found


def test_exactly_the_injected_situations_are_suggested(suggestions: dict[str, Any]) -> None:
    found = {
        (s["type"], tuple(s["deviceIds"]), tuple(s["pods"])) for s in suggestions["suggestions"]
    }
    assert found == {
        ("IDLE_ALLOCATED_GPU", ("cost-node-1-GPU-01",), ("research/reserved-notebook-0",)),
        ("MIG_RIGHTSIZE", ("cost-node-2-GPU-00",), ("/".join(SMALL_POD),)),
        ("STRANDED_MIG_SLICES", ("cost-node-1-GPU-05",), ()),
        ("PAST_PLANNED_RELEASE", ("cost-node-1-GPU-00",), ("/".join(LATE_POD),)),
    }


def test_idle_allocated_a100_names_its_evidence(suggestions: dict[str, Any]) -> None:
    (idle,) = by_type(suggestions)["IDLE_ALLOCATED_GPU"]
    evidence = idle["evidence"]
    assert evidence["window"]["days"] == DAYS
    assert evidence["modelId"] == "A100_80GB"
    assert evidence["heldHours"] == pytest.approx(DAYS * 24, rel=0.01)
    assert evidence["idleFraction"] >= 0.99
    assert evidence["utilizationMean"] < 0.05
    # An A100 has no GPM: its idleness is read from NVML's utilization.gpu, and says so.
    assert evidence["utilizationSource"] == "GPU_UTILIZATION"
    assert idle["monthlySavings"] == pytest.approx(A100 * HOURS_PER_MONTH, rel=0.01)


def test_small_inference_pod_gets_the_mig_profile_it_fits(suggestions: dict[str, Any]) -> None:
    (rightsize,) = by_type(suggestions)["MIG_RIGHTSIZE"]
    evidence = rightsize["evidence"]
    end = datetime.fromisoformat(evidence["window"]["end"].replace("Z", "+00:00"))
    profile, compute, mean = expected_profile(end)
    assert evidence["profile"] == profile
    assert profile in rightsize["title"] and profile in rightsize["action"]
    assert evidence["memoryPeakGb"] == pytest.approx(SMALL_POD_MEMORY_GIB, abs=0.01)
    assert evidence["utilizationMean"] == pytest.approx(mean, abs=0.01)
    assert rightsize["monthlySavings"] == pytest.approx(
        H100 * (1 - compute / 7) * HOURS_PER_MONTH, rel=0.01
    )


def test_stranded_layout_names_the_stranded_slices(suggestions: dict[str, Any]) -> None:
    (stranded,) = by_type(suggestions)["STRANDED_MIG_SLICES"]
    evidence = stranded["evidence"]
    assert evidence["layout"] == ["1g.20gb@0", "1g.20gb@2", "1g.20gb@4", "1g.20gb@6"]
    assert evidence["strandedComputeSlices"] == 3
    assert evidence["strandedMemorySlices"] == []
    assert stranded["monthlySavings"] == pytest.approx(A100 * 3 / 7 * HOURS_PER_MONTH, rel=0.001)


def test_allocation_past_planned_release_is_suggested(
    suggestions: dict[str, Any], late_allocation: dict[str, Any]
) -> None:
    (late,) = by_type(suggestions)["PAST_PLANNED_RELEASE"]
    evidence = late["evidence"]
    assert evidence["allocationId"] == late_allocation["allocationId"]
    assert evidence["overdueHours"] > 0
    assert [h["deviceId"] for h in evidence["holding"]] == ["cost-node-1-GPU-00"]
    assert late["monthlySavings"] == pytest.approx(A100 * HOURS_PER_MONTH, rel=0.001)


def test_analysis_reports_the_savings_once_per_gpu(
    cost_stack: CostStack, suggestions: dict[str, Any]
) -> None:
    analysis = cost_stack.data("/gpu/cost/analysis", days=DAYS)
    total = sum(s["monthlySavings"] for s in suggestions["suggestions"])
    assert suggestions["potentialMonthlySavings"] == pytest.approx(total, abs=0.05)
    assert analysis["potentialMonthlySavings"] == pytest.approx(total, abs=0.05)
    assert analysis["suggestionCount"] == 4


def test_clean_fleet_produces_no_suggestion(history_stack: Stack) -> None:  # noqa: F811
    base = history_stack.analytics_url
    response = requests.get(base + "/gpu/cost/optimization", params={"days": DAYS}, timeout=60)
    assert response.status_code == 200, response.text
    assert response.json()["data"]["suggestions"] == []
    analysis = requests.get(base + "/gpu/cost/analysis", params={"days": DAYS}, timeout=60)
    assert analysis.status_code == 200, analysis.text
    data = analysis.json()["data"]
    assert data["potentialMonthlySavings"] == 0
    assert data["totalCost"] > 0
