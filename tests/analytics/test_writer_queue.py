"""SQLite writers queue on a host-wide flock before BEGIN IMMEDIATE (store.db.WriterQueue);
on both backends, write transactions take turns (store.db.Database.write)."""

from __future__ import annotations

import multiprocessing
import os
import threading
from pathlib import Path

import pytest
from sqlalchemy import Connection, text

from analytics.store import migrate
from analytics.store.db import Database, WriterQueue
from tests.analytics.test_postgres_store import run_processes


def _add_one(queue: WriterQueue, counter: Path, times: int) -> None:
    """Read-modify-write a number in a file under the queue: lost updates if it excludes no one."""
    fd = os.open(counter, os.O_RDWR)
    try:
        for _ in range(times):
            with queue:
                value = int(os.pread(fd, 16, 0) or b"0")
                os.sched_yield()
                os.pwrite(fd, str(value + 1).encode().ljust(16), 0)
    finally:
        os.close(fd)


def test_queue_excludes_forked_processes_and_threads(tmp_path: Path) -> None:
    counter = tmp_path / "counter"
    counter.write_bytes(b"0".ljust(16))
    queue = WriterQueue(tmp_path / "writer.lock")
    with queue:  # opened here first: the forked children inherit this descriptor
        pass
    context = multiprocessing.get_context("fork")
    children = [context.Process(target=_add_one, args=(queue, counter, 500)) for _ in range(3)]
    threads = [threading.Thread(target=_add_one, args=(queue, counter, 500)) for _ in range(3)]
    for worker in (*children, *threads):
        worker.start()
    for thread in threads:
        thread.join(timeout=60)
    for child in children:
        child.join(timeout=60)
        assert child.exitcode == 0
    assert int(counter.read_bytes()) == 6 * 500


def test_queue_is_reentrant_in_a_thread(tmp_path: Path) -> None:
    queue = WriterQueue(tmp_path / "writer.lock")
    with queue, queue:
        pass
    queue.close()
    with queue:  # reopened after close
        pass


def test_sqlite_file_databases_use_a_lock_file_next_to_them(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'analytics.db'}")
    assert database.write(lambda conn: conn.execute(text("SELECT 1")).scalar_one()) == 1
    assert (tmp_path / "analytics.db-writer.lock").exists()
    database.dispose()
    memory = Database("sqlite://")
    assert memory.write(lambda conn: conn.execute(text("SELECT 2")).scalar_one()) == 2


def _add_one_through_writes(url: str, times: int) -> None:
    """Read-modify-write a row through ``Database.write``: lost updates unless writers take
    turns (SQLite: BEGIN IMMEDIATE; PostgreSQL: the advisory write lock)."""
    database = Database(url)
    query = text("SELECT holder FROM sync_state WHERE name = 'inventory'")
    update = text("UPDATE sync_state SET holder = :value WHERE name = 'inventory'")

    def add(conn: Connection) -> None:
        value = int(conn.execute(query).scalar_one() or 0)
        os.sched_yield()
        conn.execute(update, {"value": str(value + 1)})

    try:
        for _ in range(times):
            database.write(add)
    finally:
        database.dispose()


@pytest.mark.databases
def test_writes_take_turns_across_processes_and_threads(tmp_path: Path, database_url: str) -> None:
    url = database_url or f"sqlite:///{tmp_path / 'analytics.db'}"
    setup = Database(url)
    migrate.upgrade(setup)  # a no-op on the migrated PostgreSQL copy
    setup.dispose()
    threads = [threading.Thread(target=_add_one_through_writes, args=(url, 60)) for _ in range(2)]
    for thread in threads:
        thread.start()
    run_processes(_add_one_through_writes, [(url, 60), (url, 60)])
    for thread in threads:
        thread.join(timeout=120)
    check = Database(url)
    with check.read() as conn:
        total = conn.execute(text("SELECT holder FROM sync_state")).scalar_one()
    check.dispose()
    assert int(total) == 4 * 60
