"""Persistent state: SQLAlchemy Core tables, repositories and Alembic migrations."""
