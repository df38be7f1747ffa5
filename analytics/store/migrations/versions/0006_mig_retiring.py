"""mig_instances.retiring: an instance taken out of the desired layout that the exporter still
reports, kept until the GPU's new layout is applied so the inventory sync does not record it
again as unmanaged

Revision ID: 0006_mig_retiring
Revises: 0005_users
Create Date: 2026-12-08 01:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_mig_retiring"
down_revision = "0005_users"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # ADD COLUMN with a constant default: no table rebuild on SQLite or PostgreSQL.
    op.add_column(
        "mig_instances",
        sa.Column("retiring", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    # The retiring rows were deleted from the layout: without the column they would read as
    # unmanaged instances, which is what they were before this revision.
    with op.batch_alter_table("mig_instances") as batch:
        batch.drop_column("retiring")
