"""PostgreSQL in the tests: one real server per test run, a fresh database per test, and the
``databases`` marker that runs a test on SQLite and on PostgreSQL.

A test (or module, through ``pytestmark``) marked ``@pytest.mark.databases`` whose fixtures
reach ``database_url`` (the analytics ``settings``, ``live_server``) runs once per backend:
``database_url`` is "" for SQLite (the service's own file in its data directory) and the URL of
a new database for PostgreSQL. Unmarked tests get SQLite only, or PostgreSQL with
``GPU_TEST_DATABASE=postgresql``. tests/conftest.py imports these.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator

import pytest

from devstack.postgres import THROWAWAY, PostgresServer

BACKENDS = ("sqlite", "postgresql")
_names = itertools.count(1)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "databases(*backends): run on each backend (default: sqlite and postgresql) through "
        "the database_url fixture",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    marker = metafunc.definition.get_closest_marker("databases")
    if marker is None or "database_url" not in metafunc.fixturenames:
        return
    backends = marker.args or BACKENDS
    metafunc.parametrize("database_url", backends, indirect=True, ids=list(backends))


def new_database_name(prefix: str = "test") -> str:
    return f"{prefix}_{os.getpid()}_{next(_names)}"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server for the whole run (fsync off: the tests never crash the server)."""
    with PostgresServer(settings=THROWAWAY) as server:
        yield server


@pytest.fixture(scope="session")
def postgres_template(postgres_server: PostgresServer) -> str:
    """A database migrated once to every head, which the per-test databases copy."""
    from analytics.store import migrate  # not at import: every test session loads this module
    from analytics.store.db import Database

    name = new_database_name("template")
    database = Database(postgres_server.create_database(name))
    try:
        migrate.upgrade(database)
    finally:
        database.dispose()
    return name


@pytest.fixture
def postgres_url(postgres_server: PostgresServer, postgres_template: str) -> Iterator[str]:
    """A fresh, migrated database of its own for one test; dropped afterwards."""
    name = new_database_name()
    url = postgres_server.create_database(name, template=postgres_template)
    yield url
    postgres_server.drop_database(name)


@pytest.fixture
def database_url(request: pytest.FixtureRequest) -> str:
    """The service's ``database_url`` setting: "" (SQLite) unless parametrized, or unless
    ``GPU_TEST_DATABASE=postgresql`` moves every unmarked test onto PostgreSQL."""
    backend = getattr(request, "param", os.environ.get("GPU_TEST_DATABASE", "sqlite"))
    if backend == "sqlite":
        return ""
    if backend == "postgresql":
        url: str = request.getfixturevalue("postgres_url")
        return url
    raise ValueError(f"unknown backend {backend!r}")
