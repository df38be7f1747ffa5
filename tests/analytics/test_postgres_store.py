"""The store on PostgreSQL: migrations match the tables, writers retry serialization failures
and give up on a lock held too long, readers never wait, and the rate-limit UPSERT counts
exactly without the write lock."""

from __future__ import annotations

import importlib
import json
import multiprocessing
import pkgutil
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, text
from sqlalchemy.exc import OperationalError

import analytics.store
from analytics.store import migrate
from analytics.store.db import Database
from analytics.store.ratelimits import SqlCounterStore
from analytics.store.tables import metadata
from devstack.postgres import PostgresServer
from tests.pg_fixtures import new_database_name


@pytest.fixture
def empty_database(postgres_server: PostgresServer) -> str:
    """A new database without any schema (not a copy of the migrated template)."""
    return postgres_server.create_database(new_database_name("empty"))


def test_migrations_build_exactly_the_declared_tables(empty_database: str) -> None:
    for module in pkgutil.iter_modules(analytics.store.__path__, "analytics.store."):
        importlib.import_module(module.name)  # each declares its tables on the one metadata
    database = Database(empty_database)
    try:
        migrate.upgrade(database)
        assert migrate.current_revisions(database) == migrate.head_revisions()
        with database.read() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, metadata) == []
            where = conn.execute(
                text(
                    "SELECT pg_get_expr(i.indpred, i.indrelid) FROM pg_index i "
                    "JOIN pg_class c ON c.oid = i.indexrelid "
                    "WHERE c.relname = 'uq_allocations_active_resource'"
                )
            ).scalar_one()
        # The partial unique index: one live allocation per resource, on PostgreSQL too.
        assert where == "((status)::text = 'ALLOCATED'::text)"
        migrate.upgrade(database)  # a second run (another replica starting) changes nothing
    finally:
        database.dispose()


def test_serialization_failures_are_retried(postgres_url: str) -> None:
    database = Database(postgres_url)
    attempts = []

    def work(conn: Connection) -> int:
        attempts.append(1)
        if len(attempts) == 1:  # the server says: this transaction must run again
            conn.execute(text("DO $$ BEGIN RAISE EXCEPTION USING ERRCODE = '40001'; END $$"))
        return int(conn.execute(text("SELECT 7")).scalar_one())

    try:
        assert database.write(work) == 7
        assert len(attempts) == 2
        with pytest.raises(Exception, match="division by zero"):  # other errors are not
            database.write(lambda conn: conn.execute(text("SELECT 1/0")))
    finally:
        database.dispose()


def _hit(url: str, bucket: str, times: int, out: Path) -> None:
    database = Database(url)
    counts = [SqlCounterStore(database).hit(bucket, 600) for _ in range(times)]
    database.dispose()
    out.write_text(json.dumps(counts))


def run_processes(target: Callable[..., None], argument_lists: list[tuple[object, ...]]) -> None:
    """Run ``target`` in spawned processes; each must exit 0 within two minutes (none is left
    behind when one does not)."""
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=target, args=args) for args in argument_lists]
    try:
        for process in processes:
            process.start()
        for process in processes:
            process.join(timeout=120)
            assert process.exitcode == 0
    finally:
        for process in processes:
            if process.is_alive():
                process.kill()
                process.join(timeout=10)


def test_rate_limit_upserts_count_exactly_across_processes(
    postgres_url: str, tmp_path: Path
) -> None:
    outputs = [tmp_path / f"counts-{n}.json" for n in range(3)]
    run_processes(_hit, [(postgres_url, "key:abc", 40, out) for out in outputs])
    counts = [count for out in outputs for count in json.loads(out.read_text())]
    # Each hit saw a distinct count: none lost, none counted twice.
    assert sorted(counts) == list(range(1, 121))
    database = Database(postgres_url)
    try:
        assert SqlCounterStore(database).peek("key:abc", 600) == 120
        assert SqlCounterStore(database).hit("key:abc", 660) == 1  # the next window
        assert SqlCounterStore(database).peek("key:abc", 600) == 120  # the previous stays
        assert SqlCounterStore(database).hit("key:abc", 780) == 1
        assert SqlCounterStore(database).peek("key:abc", 600) == 0  # older ones are pruned
    finally:
        database.dispose()


def test_readers_do_not_wait_for_a_writer(postgres_url: str) -> None:
    database = Database(postgres_url)
    inside = threading.Event()
    release = threading.Event()

    def slow_write(conn: Connection) -> None:
        conn.execute(text("UPDATE sync_state SET holder = 'slow' WHERE name = 'inventory'"))
        inside.set()
        assert release.wait(timeout=30)

    writer = threading.Thread(target=database.write, args=(slow_write,))
    writer.start()
    try:
        assert inside.wait(timeout=30)
        with database.read() as conn:  # the committed state, at once
            holder = conn.execute(text("SELECT holder FROM sync_state")).scalar_one()
        assert holder is None
    finally:
        release.set()
        writer.join(timeout=30)
        database.dispose()


def test_a_writer_holding_the_lock_too_long_makes_others_give_up(postgres_url: str) -> None:
    holder = Database(postgres_url)
    waiter = Database(postgres_url, busy_timeout_ms=50)
    inside = threading.Event()
    release = threading.Event()

    def hold(conn: Connection) -> None:
        inside.set()
        assert release.wait(timeout=60)

    thread = threading.Thread(target=holder.write, args=(hold,))
    thread.start()
    try:
        assert inside.wait(timeout=30)
        started = time.monotonic()
        with pytest.raises(OperationalError, match="lock timeout"):
            waiter.write(lambda conn: None)
        # Each of the 9 tries waited its lock_timeout; none hung.
        assert 9 * 0.05 <= time.monotonic() - started < 20
        release.set()
        thread.join(timeout=30)
        assert waiter.write(lambda conn: conn.execute(text("SELECT 3")).scalar_one()) == 3
    finally:
        release.set()
        thread.join(timeout=30)
        holder.dispose()
        waiter.dispose()


def test_a_read_sees_one_snapshot(postgres_url: str) -> None:
    database = Database(postgres_url)
    query = text("SELECT count(*) FROM rate_limit_counters")
    try:
        with database.read() as conn:
            before = conn.execute(query).scalar_one()
            database.write(
                lambda w: w.execute(text("INSERT INTO rate_limit_counters VALUES ('b', 1, 1)"))
            )
            assert conn.execute(query).scalar_one() == before  # committed after our snapshot
        with database.read() as conn:
            assert conn.execute(query).scalar_one() == before + 1
    finally:
        database.dispose()
