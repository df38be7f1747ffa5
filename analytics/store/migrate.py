"""Schema migrations: run Alembic (shipped as package data) and tell whether the schema is current."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from analytics.store.db import Database

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revisions() -> tuple[str, ...]:
    """Every head of the migration graph, sorted (one once branches are merged)."""
    return tuple(sorted(ScriptDirectory.from_config(_config()).get_heads()))


def upgrade(database: Database) -> None:
    """Bring the schema to the newest revision; concurrent callers serialise on the write lock."""

    def run(conn: object) -> None:
        config = _config()
        config.attributes["connection"] = conn
        command.upgrade(config, "heads")

    database.write(run)


def current_revisions(database: Database) -> tuple[str, ...]:
    with database.read() as conn:
        return tuple(sorted(MigrationContext.configure(conn).get_current_heads()))
