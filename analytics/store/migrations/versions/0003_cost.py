"""cost: price-book overrides set through the API, and cost budgets

Revision ID: 0003_cost
Revises: 0002
Create Date: 2026-11-26 11:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from analytics.store.types import UtcDateTime

revision = "0003_cost"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "gpu_price_overrides",
        sa.Column("model_id", sa.String(length=64), nullable=False),
        sa.Column("price_per_hour", sa.Float(), nullable=False),
        sa.Column("source", sa.String(length=256), nullable=False),
        sa.Column("set_by", sa.String(length=160), nullable=True),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["model_id"], ["gpu_models.model_id"]),
        sa.PrimaryKeyConstraint("model_id"),
    )
    op.create_table(
        "cost_budgets",
        sa.Column("budget_id", sa.String(length=16), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("monthly_limit", sa.Float(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("last_projected_cost", sa.Float(), nullable=True),
        sa.Column("last_evaluated_at", UtcDateTime(), nullable=True),
        sa.Column("exceeded", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("budget_id"),
        sa.UniqueConstraint("scope", "name", name="uq_cost_budgets_scope_name"),
    )


def downgrade() -> None:
    op.drop_table("cost_budgets")
    op.drop_table("gpu_price_overrides")
