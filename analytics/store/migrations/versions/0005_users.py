"""users: accounts with scrypt password hashes; API keys tied to a user; failed-login counters;
webhook secrets widened to hold their ciphertext

Revision ID: 0005_users
Revises: 0004_holders
Create Date: 2026-12-07 17:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from analytics.store.types import UtcDateTime

revision = "0005_users"
down_revision = "0004_holders"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=256), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("team", sa.String(length=128), nullable=True),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("username"),
    )
    # Keys made before accounts existed have no user (NULL) and keep working as they did.
    op.add_column("api_keys", sa.Column("username", sa.String(length=64), nullable=True))
    op.create_index("ix_api_keys_username", "api_keys", ["username"])
    op.create_table(
        "login_failures",
        sa.Column("bucket", sa.String(length=200), nullable=False),
        sa.Column("window_start", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("bucket", "window_start"),
    )
    # AES-GCM ciphertext of a 256-character secret, base64 with its prefix, is under 400
    # characters. SQLite does not enforce VARCHAR lengths, and widening there would rebuild the
    # table (and, with foreign keys on, cascade to the deliveries): PostgreSQL only.
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column(
            "webhooks",
            "secret",
            existing_type=sa.String(length=256),
            type_=sa.String(length=1024),
            existing_nullable=False,
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column(
            "webhooks",
            "secret",
            existing_type=sa.String(length=1024),
            type_=sa.String(length=256),
            existing_nullable=False,
        )
    op.drop_table("login_failures")
    op.drop_index("ix_api_keys_username", table_name="api_keys")
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("username")
    op.drop_table("users")
