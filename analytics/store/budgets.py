"""Cost budgets per team or namespace, with the outcome of their last evaluation."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Float,
    String,
    Table,
    UniqueConstraint,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from analytics.store.rows import record
from analytics.store.tables import metadata
from analytics.store.types import UtcDateTime

# Migration 0003_cost creates it.
cost_budgets = Table(
    "cost_budgets",
    metadata,
    Column("budget_id", String(16), primary_key=True),
    Column("scope", String(16), nullable=False),  # team | namespace
    Column("name", String(128), nullable=False),
    Column("monthly_limit", Float, nullable=False),  # USD per month
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    # The last evaluation: projected monthly cost (USD), when, and whether it was over.
    Column("last_projected_cost", Float),
    Column("last_evaluated_at", UtcDateTime),
    Column("exceeded", Boolean, nullable=False),
    UniqueConstraint("scope", "name", name="uq_cost_budgets_scope_name"),
)


class BudgetExists(Exception):
    """A budget for this scope and name exists already (unique constraint)."""


@dataclass(frozen=True)
class BudgetRecord:
    budget_id: str
    scope: str
    name: str
    monthly_limit: float
    created_at: datetime
    updated_at: datetime
    last_projected_cost: float | None
    last_evaluated_at: datetime | None
    exceeded: bool


def _record(row: Any) -> BudgetRecord:
    return record(BudgetRecord, row)


def list_budgets(conn: Connection) -> list[BudgetRecord]:
    query = select(cost_budgets).order_by(cost_budgets.c.scope, cost_budgets.c.name)
    return [_record(row) for row in conn.execute(query)]


def get_budget(conn: Connection, budget_id: str) -> BudgetRecord | None:
    row = conn.execute(select(cost_budgets).where(cost_budgets.c.budget_id == budget_id)).first()
    return _record(row) if row else None


def insert_budget(conn: Connection, record: BudgetRecord) -> None:
    try:
        conn.execute(insert(cost_budgets).values(**record.__dict__))
    except IntegrityError as exc:
        raise BudgetExists(f"{record.scope}/{record.name}") from exc


def update_budget(conn: Connection, budget_id: str, values: Mapping[str, Any]) -> bool:
    try:
        result = conn.execute(
            update(cost_budgets).where(cost_budgets.c.budget_id == budget_id).values(**values)
        )
    except IntegrityError as exc:
        raise BudgetExists(budget_id) from exc
    return bool(result.rowcount)


def delete_budget(conn: Connection, budget_id: str) -> bool:
    result = conn.execute(delete(cost_budgets).where(cost_budgets.c.budget_id == budget_id))
    return bool(result.rowcount)
