"""initial schema: catalogue, price book, devices, MIG, ledger, keys

Revision ID: 0001
Revises:
Create Date: 2026-11-26 08:17:32.033147
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from analytics.store.types import UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "api_keys",
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("revoked_at", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("key_id"),
        sa.UniqueConstraint("key_hash"),
    )
    op.create_table(
        "gpu_models",
        sa.Column("model_id", sa.String(length=64), nullable=False),
        sa.Column("model_name", sa.String(length=128), nullable=False),
        sa.Column("memory_gb", sa.Float(), nullable=False),
        sa.Column("architecture", sa.String(length=64), nullable=False),
        sa.Column("mig_support", sa.Boolean(), nullable=False),
        sa.Column("overheat_threshold_c", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("model_id"),
    )
    op.create_table(
        "rate_limit_counters",
        sa.Column("bucket", sa.String(length=200), nullable=False),
        sa.Column("window_start", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("bucket", "window_start"),
    )
    op.create_table(
        "devices",
        sa.Column("device_id", sa.String(length=128), nullable=False),
        sa.Column("node_name", sa.String(length=253), nullable=False),
        sa.Column("device_index", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("serial_number", sa.String(length=64), nullable=True),
        sa.Column("pci_address", sa.String(length=32), nullable=True),
        sa.Column("gpu_uuid", sa.String(length=64), nullable=True),
        sa.Column("driver_version", sa.String(length=32), nullable=True),
        sa.Column("firmware_version", sa.String(length=32), nullable=True),
        sa.Column("purchase_cost", sa.Float(), nullable=True),
        sa.Column("purchase_date", UtcDateTime(), nullable=True),
        sa.Column("warranty_expiry_date", UtcDateTime(), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("registered_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("last_seen_at", UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["gpu_models.model_id"],
        ),
        sa.PrimaryKeyConstraint("device_id"),
        sa.UniqueConstraint("gpu_uuid"),
        sa.UniqueConstraint("node_name", "device_index", name="uq_devices_node_index"),
    )
    op.create_table(
        "gpu_prices",
        sa.Column("model_id", sa.String(length=64), nullable=False),
        sa.Column("price_per_hour", sa.Float(), nullable=True),
        sa.Column("source", sa.String(length=256), nullable=False),
        sa.Column("as_of", sa.String(length=32), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["gpu_models.model_id"],
        ),
        sa.PrimaryKeyConstraint("model_id"),
    )
    op.create_table(
        "allocations",
        sa.Column("allocation_id", sa.String(length=16), nullable=False),
        sa.Column("resource_type", sa.String(length=16), nullable=False),
        sa.Column("resource_id", sa.String(length=160), nullable=False),
        sa.Column("device_id", sa.String(length=128), nullable=False),
        sa.Column("node_name", sa.String(length=253), nullable=False),
        sa.Column("model_id", sa.String(length=64), nullable=False),
        sa.Column("mig_profile", sa.String(length=32), nullable=True),
        sa.Column("namespace", sa.String(length=63), nullable=False),
        sa.Column("pod_name", sa.String(length=253), nullable=False),
        sa.Column("container_name", sa.String(length=253), nullable=True),
        sa.Column("workload_type", sa.String(length=64), nullable=True),
        sa.Column("user_id", sa.String(length=128), nullable=True),
        sa.Column("team_id", sa.String(length=128), nullable=True),
        sa.Column("project_id", sa.String(length=128), nullable=True),
        sa.Column("batch_id", sa.String(length=32), nullable=True),
        sa.Column("required_memory_gb", sa.Float(), nullable=False),
        sa.Column("allocated_memory_gb", sa.Float(), nullable=False),
        sa.Column("cost_per_hour", sa.Float(), nullable=False),
        sa.Column("max_cost_per_hour", sa.Float(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("allocation_time", UtcDateTime(), nullable=False),
        sa.Column("planned_release_time", UtcDateTime(), nullable=True),
        sa.Column("release_time", UtcDateTime(), nullable=True),
        sa.Column("cost_accrued", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.device_id"],
        ),
        sa.PrimaryKeyConstraint("allocation_id"),
    )
    with op.batch_alter_table("allocations", schema=None) as batch_op:
        batch_op.create_index("ix_allocations_device", ["device_id", "status"], unique=False)
        batch_op.create_index("ix_allocations_namespace", ["namespace"], unique=False)
        batch_op.create_index(
            "ix_allocations_status_release", ["status", "planned_release_time"], unique=False
        )
        batch_op.create_index(
            "uq_allocations_active_resource",
            ["resource_id"],
            unique=True,
            sqlite_where=sa.text("status = 'ALLOCATED'"),
            postgresql_where=sa.text("status = 'ALLOCATED'"),
        )

    op.create_table(
        "mig_instances",
        sa.Column("instance_id", sa.String(length=160), nullable=False),
        sa.Column("device_id", sa.String(length=128), nullable=False),
        sa.Column("profile", sa.String(length=32), nullable=False),
        sa.Column("start_slice", sa.Integer(), nullable=False),
        sa.Column("memory_slices", sa.Integer(), nullable=False),
        sa.Column("compute_slices", sa.Integer(), nullable=False),
        sa.Column("memory_gb", sa.Float(), nullable=False),
        sa.Column("desired", sa.Boolean(), nullable=False),
        sa.Column("observed", sa.Boolean(), nullable=False),
        sa.Column("mig_uuid", sa.String(length=64), nullable=True),
        sa.Column("gpu_instance_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("observed_at", UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.device_id"],
        ),
        sa.PrimaryKeyConstraint("instance_id"),
    )
    with op.batch_alter_table("mig_instances", schema=None) as batch_op:
        batch_op.create_index("ix_mig_instances_device", ["device_id"], unique=False)

    op.create_table(
        "allocation_events",
        sa.Column("event_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("allocation_id", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=True),
        sa.ForeignKeyConstraint(
            ["allocation_id"],
            ["allocations.allocation_id"],
        ),
        sa.PrimaryKeyConstraint("event_id"),
    )
    with op.batch_alter_table("allocation_events", schema=None) as batch_op:
        batch_op.create_index("ix_allocation_events_allocation", ["allocation_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("allocation_events", schema=None) as batch_op:
        batch_op.drop_index("ix_allocation_events_allocation")

    op.drop_table("allocation_events")
    with op.batch_alter_table("mig_instances", schema=None) as batch_op:
        batch_op.drop_index("ix_mig_instances_device")

    op.drop_table("mig_instances")
    with op.batch_alter_table("allocations", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_allocations_active_resource",
            sqlite_where=sa.text("status = 'ALLOCATED'"),
            postgresql_where=sa.text("status = 'ALLOCATED'"),
        )
        batch_op.drop_index("ix_allocations_status_release")
        batch_op.drop_index("ix_allocations_namespace")
        batch_op.drop_index("ix_allocations_device")

    op.drop_table("allocations")
    op.drop_table("gpu_prices")
    op.drop_table("devices")
    op.drop_table("rate_limit_counters")
    op.drop_table("gpu_models")
    op.drop_table("api_keys")
