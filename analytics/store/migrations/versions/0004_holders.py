"""holders: who holds each GPU and MIG instance (from the exporter's pod attribution); merges the
cost and webhook branches

Revision ID: 0004_holders
Revises: 0003_cost, 0003_webhooks
Create Date: 2026-11-26 11:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from analytics.store.types import UtcDateTime

revision = "0004_holders"
down_revision = ("0003_cost", "0003_webhooks")
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "device_holders",
        sa.Column("resource_id", sa.String(length=160), nullable=False),
        sa.Column("namespace", sa.String(length=253), nullable=False),
        sa.Column("pod", sa.String(length=253), nullable=False),
        sa.Column("node_name", sa.String(length=253), nullable=False),
        sa.Column("observed_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("resource_id", "namespace", "pod"),
    )
    op.create_index("ix_device_holders_node", "device_holders", ["node_name"])


def downgrade() -> None:
    op.drop_index("ix_device_holders_node", table_name="device_holders")
    op.drop_table("device_holders")
