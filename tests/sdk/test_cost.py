"""client.cost against the demo stack: the seed's cost analysis, optimisation suggestions, the
price book and budgets, with results that mirror the API's fields."""

from __future__ import annotations

from typing import Any

from k8s_gpu_client import GpuManagementClient
from k8s_gpu_client.models import cost
from tests.sdk.recording import Recorder, assert_mirrors, mirrored_models, missing_operations


def test_cost_analysis_has_the_seeds_fields(recorded: GpuManagementClient) -> None:
    analysis = recorded.cost.analyze(days=1)
    assert isinstance(analysis, cost.CostAnalysis)
    assert analysis.daily_cost is not None and analysis.daily_cost > 0
    assert analysis.weekly_cost is not None and analysis.monthly_cost is not None
    assert analysis.monthly_cost > analysis.weekly_cost > analysis.daily_cost
    assert "model-serving" in analysis.cost_by_namespace
    assert analysis.potential_monthly_savings is not None and analysis.analysis_date
    assert_mirrors(analysis)
    optimization = recorded.cost.optimization(days=1)
    assert isinstance(optimization, cost.CostOptimization)
    assert all(s.monthly_savings is not None for s in optimization.suggestions)
    assert_mirrors(optimization)
    assert_mirrors(recorded.cost.statistics(days=7))


def test_price_book_round_trip(recorded: GpuManagementClient) -> None:
    prices = recorded.cost.prices()
    a100 = next(p for p in prices if p.model_id == "A100_80GB")
    assert a100.price_per_hour and a100.price_per_hour > 0
    assert recorded.cost.price("A100_80GB").price_per_hour == a100.price_per_hour
    try:
        changed = recorded.cost.set_price("A100_80GB", 1.23, source="sdk test")
        assert changed.price_per_hour == 1.23
    finally:
        restored = recorded.cost.reset_price("A100_80GB")
    assert restored.price_per_hour == a100.price_per_hour
    assert_mirrors([*prices, changed, restored])


def test_budget_lifecycle(recorded: GpuManagementClient) -> None:
    budget = recorded.cost.create_budget(scope="team", name="sdk-team", monthly_budget=1000.0)
    try:
        assert budget.budget_id and budget.monthly_budget == 1000.0
        assert recorded.cost.budget(budget.budget_id).name == "sdk-team"
        assert (
            recorded.cost.update_budget(budget.budget_id, monthly_budget=50.0).monthly_budget == 50
        )
        checked = recorded.cost.check_budgets()
        assert any(b.budget_id == budget.budget_id for b in checked)
        assert any(b.budget_id == budget.budget_id for b in recorded.cost.budgets())
        assert_mirrors(checked)
    finally:
        deleted = recorded.cost.delete_budget(budget.budget_id or "")
    assert deleted.budget_id == budget.budget_id


def test_every_cost_operation_has_an_sdk_call(
    recorded: GpuManagementClient, recorder: Recorder, openapi: dict[str, Any]
) -> None:
    test_cost_analysis_has_the_seeds_fields(recorded)
    test_price_book_round_trip(recorded)
    test_budget_lifecycle(recorded)
    assert missing_operations(recorder, openapi, ("/gpu/cost",)) == set()


def test_cost_models_mirror_the_openapi_schemas(openapi: dict[str, Any]) -> None:
    assert mirrored_models(cost, openapi) == 10
