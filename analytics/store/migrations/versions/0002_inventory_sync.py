"""inventory sync: device presence and product name, observed MIG ids, unrecognised GPUs,
the sync lease and last result

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 09:15:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from analytics.store.types import UtcDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("product_name", sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column("presence", sa.String(length=16), nullable=True))
    with op.batch_alter_table("mig_instances", schema=None) as batch_op:
        batch_op.add_column(sa.Column("compute_instance_id", sa.Integer(), nullable=True))
    op.create_table(
        "unrecognized_gpus",
        sa.Column("gpu_uuid", sa.String(length=64), nullable=False),
        sa.Column("node_name", sa.String(length=253), nullable=False),
        sa.Column("device_index", sa.Integer(), nullable=False),
        sa.Column("product_name", sa.String(length=128), nullable=False),
        sa.Column("first_seen_at", UtcDateTime(), nullable=False),
        sa.Column("last_seen_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("gpu_uuid"),
    )
    op.create_table(
        "sync_state",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("holder", sa.String(length=128), nullable=True),
        sa.Column("lease_expires_at", UtcDateTime(), nullable=True),
        sa.Column("last_started_at", UtcDateTime(), nullable=True),
        sa.Column("last_finished_at", UtcDateTime(), nullable=True),
        sa.Column("last_trigger", sa.String(length=16), nullable=True),
        sa.Column("last_status", sa.String(length=16), nullable=True),
        sa.Column("last_result", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("name"),
    )
    op.execute("INSERT INTO sync_state (name) VALUES ('inventory')")


def downgrade() -> None:
    op.drop_table("sync_state")
    op.drop_table("unrecognized_gpus")
    with op.batch_alter_table("mig_instances", schema=None) as batch_op:
        batch_op.drop_column("compute_instance_id")
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_column("presence")
        batch_op.drop_column("product_name")
