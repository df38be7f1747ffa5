"""Cost budgets per team or namespace: CRUD, evaluation against the projected monthly cost, and
the COST_THRESHOLD_EXCEEDED event when a projection crosses its budget.

Projected monthly cost = the attributed cost of the last ``projection_days`` days (the cost
analysis' costByTeam / costByNamespace) / projection_days x 30. An evaluation stores each
budget's projection; when a budget goes from within to over, one event is recorded (deduplicated
per budget and month, so workers evaluating at once record it once). ``projected_ratios`` reads
the stored projections (no Prometheus query), for the gauge
``gpu_analytics_budget_projected_ratio{scope,name}``.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from analytics.clock import Clock
from analytics.errors import ResourceAlreadyExists, ResourceNotFound
from analytics.store import budgets as budget_store
from analytics.store.budgets import BudgetExists, BudgetRecord
from analytics.store.db import Database

COST_THRESHOLD_EXCEEDED = "COST_THRESHOLD_EXCEEDED"
SCOPES = ("team", "namespace")
_ID_ALPHABET = string.ascii_uppercase + string.digits


class EventSink(Protocol):
    """Where budget events go (analytics.services.events.recorder.EventRecorder in the service)."""

    def record(
        self, event_type: str, data: dict[str, object], *, dedup_key: str | None = None
    ) -> None: ...


# scope -> name -> attributed USD over the last N days.
ScopeCosts = Callable[[int], dict[str, dict[str, float]]]


@dataclass(frozen=True)
class BudgetView:
    budget_id: str
    scope: str
    name: str
    monthly_budget: float
    created_at: datetime
    updated_at: datetime
    projected_monthly_cost: float | None
    projected_ratio: float | None
    exceeded: bool
    last_evaluated_at: datetime | None


def new_budget_id() -> str:
    return "BUDGET-" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(8))


class BudgetService:
    def __init__(
        self,
        database: Database,
        clock: Clock,
        scope_costs: ScopeCosts,
        events: EventSink,
        projection_days: int = 7,
    ) -> None:
        self._db = database
        self._clock = clock
        self._scope_costs = scope_costs
        self._events = events
        self.projection_days = projection_days

    # -- CRUD -------------------------------------------------------------------------------

    def list_budgets(self) -> list[BudgetView]:
        with self._db.read() as conn:
            return [_view(r) for r in budget_store.list_budgets(conn)]

    def get(self, budget_id: str) -> BudgetView:
        with self._db.read() as conn:
            record = budget_store.get_budget(conn, budget_id)
        if record is None:
            raise _not_found(budget_id)
        return _view(record)

    def create(self, scope: str, name: str, monthly_budget: float) -> BudgetView:
        now = self._clock.now()
        record = BudgetRecord(
            budget_id=new_budget_id(),
            scope=scope,
            name=name,
            monthly_limit=float(monthly_budget),
            created_at=now,
            updated_at=now,
            last_projected_cost=None,
            last_evaluated_at=None,
            exceeded=False,
        )
        try:
            self._db.write(lambda conn: budget_store.insert_budget(conn, record))
        except BudgetExists:
            raise ResourceAlreadyExists(
                f"A budget for {scope} {name!r} exists already.", {"scope": scope, "name": name}
            ) from None
        return _view(record)

    def update(self, budget_id: str, monthly_budget: float) -> BudgetView:
        values = {"monthly_limit": float(monthly_budget), "updated_at": self._clock.now()}
        if not self._db.write(lambda conn: budget_store.update_budget(conn, budget_id, values)):
            raise _not_found(budget_id)
        return self.get(budget_id)

    def delete(self, budget_id: str) -> BudgetView:
        view = self.get(budget_id)
        if not self._db.write(lambda conn: budget_store.delete_budget(conn, budget_id)):
            raise _not_found(budget_id)
        return view

    # -- evaluation -------------------------------------------------------------------------

    def check(self) -> list[BudgetView]:
        """Project every budget's monthly cost, store it, and record an event for each budget
        that crossed into excess since its last evaluation."""
        with self._db.read() as conn:
            budgets = budget_store.list_budgets(conn)
        if not budgets:
            return []
        costs = self._scope_costs(self.projection_days)
        now = self._clock.now()
        crossed: list[tuple[BudgetRecord, float]] = []

        def run(conn: Any) -> None:
            for budget in budgets:
                spent = costs.get(budget.scope, {}).get(budget.name, 0.0)
                projected = spent / self.projection_days * 30.0
                exceeded = projected > budget.monthly_limit
                current = budget_store.get_budget(conn, budget.budget_id)
                if current is None:
                    continue
                if exceeded and not current.exceeded:
                    crossed.append((current, projected))
                budget_store.update_budget(
                    conn,
                    budget.budget_id,
                    {
                        "last_projected_cost": projected,
                        "last_evaluated_at": now,
                        "exceeded": exceeded,
                    },
                )

        self._db.write(run)
        for budget, projected in crossed:
            self._events.record(
                COST_THRESHOLD_EXCEEDED,
                {
                    "budgetId": budget.budget_id,
                    "scope": budget.scope,
                    "name": budget.name,
                    "monthlyBudget": round(budget.monthly_limit, 2),
                    "projectedMonthlyCost": round(projected, 2),
                    "projectedRatio": round(projected / budget.monthly_limit, 4)
                    if budget.monthly_limit
                    else None,
                    "projectionDays": self.projection_days,
                    "evaluatedAt": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
                },
                dedup_key=f"cost-budget:{budget.budget_id}:{now:%Y-%m}",
            )
        return self.list_budgets()

    def projected_ratios(self) -> list[tuple[str, str, float]]:
        """(scope, name, projected monthly cost / budget) of every evaluated budget."""
        ratios = []
        for budget in self.list_budgets():
            if budget.projected_ratio is not None:
                ratios.append((budget.scope, budget.name, budget.projected_ratio))
        return ratios


def _view(record: BudgetRecord) -> BudgetView:
    ratio = None
    if record.last_projected_cost is not None and record.monthly_limit > 0:
        ratio = round(record.last_projected_cost / record.monthly_limit, 4)
    return BudgetView(
        budget_id=record.budget_id,
        scope=record.scope,
        name=record.name,
        monthly_budget=record.monthly_limit,
        created_at=record.created_at,
        updated_at=record.updated_at,
        projected_monthly_cost=None
        if record.last_projected_cost is None
        else round(record.last_projected_cost, 2),
        projected_ratio=ratio,
        exceeded=record.exceeded,
        last_evaluated_at=record.last_evaluated_at,
    )


def _not_found(budget_id: str) -> ResourceNotFound:
    return ResourceNotFound(f"Budget {budget_id} not found.", {"budgetId": budget_id})
