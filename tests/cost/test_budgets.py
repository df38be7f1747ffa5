"""Budgets: projections from the real cost analysis, COST_THRESHOLD_EXCEEDED on crossing (to an
in-process sink here, to the service's event log through the API), projected ratios, CRUD."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from sqlalchemy import select

from analytics import create_app
from analytics.services.cost.budgets import COST_THRESHOLD_EXCEEDED, BudgetService
from analytics.settings import Secret, Settings
from analytics.store.db import Database
from analytics.store.events import events as events_table
from tests.cost.conftest import COST_FLEET, CostStack
from tests.cost.truth import load_truth

PROJECTION_DAYS = 7


class ListSink:
    """An event sink that keeps what it is given (the EventSink protocol)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, object], str | None]] = []

    def record(
        self, event_type: str, data: dict[str, object], *, dedup_key: str | None = None
    ) -> None:
        self.events.append((event_type, data, dedup_key))


@pytest.fixture
def app(tmp_path: Path, cost_stack: CostStack) -> Flask:
    settings = Settings(
        data_dir=tmp_path,
        prometheus_url=cost_stack.stack.prometheus_url,
        prometheus_timeout_seconds=30,
        admin_api_key=Secret("budget-test-admin-key-0123"),
        sync_interval_seconds=0,
        forecast_warmup=False,
        rate_limit_storage="memory",
    )
    return create_app(settings)


def budget_service(app: Flask, sink: ListSink) -> BudgetService:
    services = app.extensions["gpu_analytics.services"]
    database: Database = app.extensions["gpu_analytics.database"]
    return BudgetService(database, services.clock, services.cost.scope_costs, sink, PROJECTION_DAYS)


def test_crossing_a_budget_records_one_event(app: Flask) -> None:
    sink = ListSink()
    budgets = budget_service(app, sink)
    over = budgets.create("team", "ml-team", 100.0)
    under = budgets.create("namespace", "research", 1_000_000.0)
    budgets.check()
    # The truth: ml-team's pods by their labels, a 7-day window, projected to 30 days.
    truth = load_truth(COST_FLEET).cost_by("team", PROJECTION_DAYS * 24.0)["ml-team"]
    projected = truth / PROJECTION_DAYS * 30
    assert len(sink.events) == 1
    event_type, data, dedup_key = sink.events[0]
    assert event_type == COST_THRESHOLD_EXCEEDED
    assert data["budgetId"] == over.budget_id and data["scope"] == "team"
    assert data["projectedMonthlyCost"] == pytest.approx(projected, rel=0.01)
    assert dedup_key is not None and over.budget_id in dedup_key
    ratios = {(scope, name): ratio for scope, name, ratio in budgets.projected_ratios()}
    assert ratios[("team", "ml-team")] == pytest.approx(projected / 100.0, rel=0.01)
    assert ratios[("namespace", "research")] < 1
    assert budgets.get(over.budget_id).exceeded
    assert not budgets.get(under.budget_id).exceeded

    budgets.check()  # still over: no new event
    assert len(sink.events) == 1
    budgets.update(over.budget_id, 1_000_000.0)
    budgets.check()
    assert not budgets.get(over.budget_id).exceeded
    budgets.update(over.budget_id, 100.0)
    budgets.check()  # crossed again: a new event, same dedup key (one per budget and month)
    assert len(sink.events) == 2 and sink.events[1][2] == dedup_key


def test_budget_api_with_the_service_event_log(cost_stack: CostStack) -> None:
    api, admin = cost_stack.api + "/gpu/cost/budgets", cost_stack.admin
    created = requests.post(
        api,
        json={"scope": "namespace", "name": "model-serving", "monthlyBudget": 50},
        headers=admin,
    )
    assert created.status_code == 201, created.text
    budget: dict[str, Any] = created.json()["data"]
    try:
        assert budget["projectedMonthlyCost"] is None and not budget["exceeded"]
        duplicate = requests.post(
            api,
            json={"scope": "namespace", "name": "model-serving", "monthlyBudget": 60},
            headers=admin,
        )
        assert duplicate.status_code == 409
        assert duplicate.json()["error"]["code"] == "RESOURCE_ALREADY_EXISTS"
        checked = requests.post(api + "/check", headers=admin)
        assert checked.status_code == 200, checked.text
        (evaluated,) = [b for b in checked.json()["data"] if b["budgetId"] == budget["budgetId"]]
        assert evaluated["exceeded"] and evaluated["projectedRatio"] > 1
        database = Database(f"sqlite:///{cost_stack.stack.workdir / 'analytics' / 'analytics.db'}")
        try:
            with database.read() as conn:
                rows = conn.execute(
                    select(events_table.c.data).where(
                        events_table.c.event_type == COST_THRESHOLD_EXCEEDED
                    )
                ).all()
        finally:
            database.dispose()
        recorded = [json.loads(row.data) for row in rows]
        assert [e["budgetId"] for e in recorded].count(budget["budgetId"]) == 1
        changed = requests.put(
            f"{api}/{budget['budgetId']}", json={"monthlyBudget": 1e6}, headers=admin
        )
        assert changed.status_code == 200 and changed.json()["data"]["monthlyBudget"] == 1e6
    finally:
        deleted = requests.delete(f"{api}/{budget['budgetId']}", headers=admin)
        assert deleted.status_code == 200
    missing = requests.get(f"{api}/{budget['budgetId']}")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "RESOURCE_NOT_FOUND"


@pytest.mark.parametrize(
    "body",
    [
        {"scope": "cluster", "name": "x", "monthlyBudget": 10},
        {"scope": "team", "name": "", "monthlyBudget": 10},
        {"scope": "team", "name": "x", "monthlyBudget": 0},
        {"scope": "team", "name": "x"},
    ],
)
def test_bad_budget_gets_the_error_envelope(cost_stack: CostStack, body: dict[str, Any]) -> None:
    response = requests.post(
        cost_stack.api + "/gpu/cost/budgets", json=body, headers=cost_stack.admin
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"


def test_only_admin_may_create_budgets(cost_stack: CostStack) -> None:
    response = requests.post(
        cost_stack.api + "/gpu/cost/budgets",
        json={"scope": "team", "name": "ml-team", "monthlyBudget": 10},
        headers=cost_stack.key("operator"),
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "FORBIDDEN"


def test_schedule_checks_once_per_round_and_the_gauge_follows(app: Flask) -> None:
    """Two workers' schedules share the lease: one evaluates, the other skips; the service's
    /metrics then reports gpu_analytics_budget_projected_ratio for the evaluated budget."""
    from analytics.services.cost.budget_schedule import BudgetSchedule

    services = app.extensions["gpu_analytics.services"]
    database: Database = app.extensions["gpu_analytics.database"]
    budget = services.budgets.create("team", "ml-team", 100.0)
    first = BudgetSchedule(database, services.clock, services.budgets, 600)
    second = BudgetSchedule(database, services.clock, services.budgets, 600)
    assert first.run_if_due() is True
    assert second.run_if_due() is False  # the lease is first's for this round
    assert services.budgets.get(budget.budget_id).exceeded

    text = app.test_client().get("/metrics").get_data(as_text=True)
    line = next(
        row for row in text.splitlines() if row.startswith("gpu_analytics_budget_projected_ratio{")
    )
    assert 'scope="team"' in line and 'name="ml-team"' in line
    ratio = services.budgets.get(budget.budget_id).projected_ratio
    assert float(line.rsplit(" ", 1)[1]) == pytest.approx(ratio)
    with database.read() as conn:
        logged = conn.execute(select(events_table.c.event_type)).scalars().all()
    assert logged.count(COST_THRESHOLD_EXCEEDED) == 1
