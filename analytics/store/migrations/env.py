"""Alembic environment: always run with the connection the service hands over (store.migrate)."""

from __future__ import annotations

from alembic import context

from analytics.store.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `gpu-analytics migrate` (analytics.store.migrate)")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
