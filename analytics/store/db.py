"""The database handle: engine set-up (SQLite pragmas), read and write transactions with retries."""

from __future__ import annotations

import fcntl
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError

log = logging.getLogger(__name__)

T = TypeVar("T")

# Execution option marking a connection whose transactions take the write lock up front.
_WRITE = "gpu_analytics_write"
_BUSY_RETRIES = 8


class Database:
    """One engine per process; ``write`` runs a function in a serialised write transaction."""

    def __init__(self, url: str, *, busy_timeout_ms: int = 5000) -> None:
        self.url = make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        self.engine: Engine = create_engine(url, pool_pre_ping=not self.is_sqlite)
        self._writer_queue: WriterQueue | None = None
        if self.is_sqlite:
            _configure_sqlite(self.engine, busy_timeout_ms)
            database = self.url.database
            if database and database != ":memory:" and not database.startswith("file:"):
                self._writer_queue = WriterQueue(Path(database + "-writer.lock"))

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection in a read transaction (a consistent snapshot under WAL)."""
        with self.engine.connect() as conn, conn.begin():
            yield conn

    def write(self, work: Callable[[Connection], T]) -> T:
        """Run ``work`` in a write transaction, retried when the database is busy.

        On SQLite the transaction starts with ``BEGIN IMMEDIATE``, so writers from every
        gunicorn worker queue on the database lock instead of failing at commit; on PostgreSQL
        it is an ordinary transaction and the work takes row locks (``FOR UPDATE``) where needed.
        ``work`` must be safe to run again: it sees only what its own transaction did.

        On a SQLite file, writers first queue on an ``flock`` of a lock file next to the
        database (``WriterQueue``): SQLite's own busy handler polls with sleeps of 1, 2, 5,
        10, 15, 20, 25... ms, so under contention a writer would sleep well past the moment
        the lock was freed; the kernel's queue hands the lock over at once. The transaction
        and ``busy_timeout`` stay as they are (for writers outside this class).
        """
        if self._writer_queue is None:
            return self._write(work)
        with self._writer_queue:
            return self._write(work)

    def _write(self, work: Callable[[Connection], T]) -> T:
        for attempt in range(_BUSY_RETRIES + 1):
            try:
                with (
                    self.engine.connect().execution_options(**{_WRITE: True}) as conn,
                    conn.begin(),
                ):
                    return work(conn)
            except OperationalError as exc:
                if attempt == _BUSY_RETRIES or not _is_busy(exc):
                    raise
                log.debug("database busy, retrying (attempt %d)", attempt + 1)
                time.sleep(min(0.002 * 2**attempt, 0.2) * random.uniform(0.5, 1.5))
        raise AssertionError("unreachable")

    def dispose(self) -> None:
        self.engine.dispose()
        if self._writer_queue is not None:
            self._writer_queue.close()


class WriterQueue:
    """An exclusive lock shared by every thread and process on the host: ``with queue: ...``.

    A thread lock (threaded workers) then an ``flock`` on ``path``, opened once per process,
    after a fork too: a descriptor inherited across fork shares its lock with the parent.
    Re-entrant within a thread, so a write inside a write does not deadlock.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._thread_lock = threading.RLock()
        self._depth = 0
        self._pid = -1
        self._fd = -1

    def _descriptor(self) -> int:
        pid = os.getpid()
        if self._pid != pid or self._fd < 0:
            if self._fd >= 0:
                # Inherited: closing our copy leaves the parent's descriptor and lock alone.
                os.close(self._fd)
            self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self._pid = pid
            self._depth = 0
        return self._fd

    def __enter__(self) -> None:
        self._thread_lock.acquire()
        try:
            fd = self._descriptor()
            if self._depth == 0:
                fcntl.flock(fd, fcntl.LOCK_EX)
            self._depth += 1
        except BaseException:
            self._thread_lock.release()
            raise

    def close(self) -> None:
        """Close this process's descriptor (reopened by the next ``with``)."""
        with self._thread_lock:
            if self._depth == 0 and self._fd >= 0 and self._pid == os.getpid():
                os.close(self._fd)
                self._fd = -1
                self._pid = -1

    def __exit__(self, *_exc: object) -> None:
        try:
            self._depth -= 1
            if self._depth == 0:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._thread_lock.release()


def _is_busy(exc: DBAPIError) -> bool:
    text = str(exc.orig).lower()
    return "database is locked" in text or "database is busy" in text


def _configure_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event below emit BEGIN, so a write can say IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # NORMAL is durable across application crashes in WAL mode; only an OS crash or
        # power loss may roll back the last commits.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get(_WRITE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
