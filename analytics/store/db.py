"""The database handle: engine set-up (SQLite pragmas, PostgreSQL isolation), read and write
transactions with retries, and the one-writer-at-a-time rule on both backends."""

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

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError

log = logging.getLogger(__name__)

T = TypeVar("T")

# Execution option marking a connection whose transactions take the write lock up front.
_WRITE = "gpu_analytics_write"
_BUSY_RETRIES = 8
# PostgreSQL: the transaction-scoped advisory lock every serialised write takes first. Advisory
# locks are per database, so only writers of the same database wait for each other.
WRITE_LOCK_KEY = 0x6770_755F_6C65_6467  # "gpu_ledg"
_TAKE_WRITE_LOCK = text("SELECT pg_advisory_xact_lock(:key)").bindparams(key=WRITE_LOCK_KEY)
# PostgreSQL errors that only say "run the transaction again": serialization_failure,
# deadlock_detected, lock_not_available.
_RETRY_SQLSTATES = frozenset({"40001", "40P01", "55P03"})
_LIBPQ_DRIVERS = ("psycopg", "psycopg2")
# A session idle inside a transaction this long (a stuck worker holding the write lock) is
# ended by the server, which releases its locks.
_IDLE_IN_TRANSACTION_MS = 60_000


class Database:
    """One engine per process; ``write`` runs a function in a serialised write transaction."""

    def __init__(self, url: str, *, busy_timeout_ms: int = 5000) -> None:
        """``busy_timeout_ms``: how long one write waits for the write lock before it is
        retried (SQLite's ``busy_timeout``; PostgreSQL's ``lock_timeout``)."""
        self.url = make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        options: dict[str, Any] = {}
        if not self.is_sqlite:
            # Write transactions rely on READ COMMITTED: each statement after the write lock
            # sees every transaction committed before it (a snapshot taken at BEGIN would not).
            options = {"pool_pre_ping": True, "isolation_level": "READ COMMITTED"}
            if self.url.get_driver_name() in _LIBPQ_DRIVERS and "options" not in self.url.query:
                options["connect_args"] = {"options": _session_options(busy_timeout_ms)}
        self.engine: Engine = create_engine(url, **options)
        self._writer_queue: WriterQueue | None = None
        if self.is_sqlite:
            _configure_sqlite(self.engine, busy_timeout_ms)
            database = self.url.database
            if database and database != ":memory:" and not database.startswith("file:"):
                self._writer_queue = WriterQueue(Path(database + "-writer.lock"))

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection in a read transaction: one consistent snapshot for all its statements
        (SQLite under WAL; PostgreSQL at REPEATABLE READ, which costs a read-only transaction
        nothing and never fails it)."""
        with self.engine.connect() as conn:
            if not self.is_sqlite:
                conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                yield conn

    def write(self, work: Callable[[Connection], T], *, serialized: bool = True) -> T:
        """Run ``work`` in a write transaction, retried when the database is busy.

        Writers take turns on both backends, across every gunicorn worker, process and
        replica sharing the database, so ``work`` may read, decide and write (pick a free GPU,
        expire due allocations, settle a delivery) without another writer changing what it
        read. On SQLite the transaction starts with ``BEGIN IMMEDIATE``, so writers queue on
        the database lock instead of failing at commit. On PostgreSQL it is a READ COMMITTED
        transaction whose first statement takes a transaction-scoped advisory lock
        (``pg_advisory_xact_lock``, released at commit or rollback, also when the client
        dies); reads never wait for it. ``serialized=False`` skips that lock on PostgreSQL,
        for a write that is one atomic statement (the rate-limit UPSERT).
        ``work`` must be safe to run again: it sees only what its own transaction did.
        Serialization failures and deadlocks on PostgreSQL are retried like SQLite's busy.

        On a SQLite file, writers first queue on an ``flock`` of a lock file next to the
        database (``WriterQueue``): SQLite's own busy handler polls with sleeps of 1, 2, 5,
        10, 15, 20, 25... ms, so under contention a writer would sleep well past the moment
        the lock was freed; the kernel's queue hands the lock over at once. The transaction
        and ``busy_timeout`` stay as they are (for writers outside this class).
        """
        lock = serialized and not self.is_sqlite
        if self._writer_queue is None:
            return self._write(work, lock)
        with self._writer_queue:
            return self._write(work, lock)

    def _write(self, work: Callable[[Connection], T], lock: bool) -> T:
        for attempt in range(_BUSY_RETRIES + 1):
            try:
                with (
                    self.engine.connect().execution_options(**{_WRITE: True}) as conn,
                    conn.begin(),
                ):
                    if lock:
                        conn.execute(_TAKE_WRITE_LOCK)
                    return work(conn)
            except OperationalError as exc:
                if attempt == _BUSY_RETRIES or not _is_busy(exc):
                    raise
                log.debug("database busy, retrying (attempt %d): %s", attempt + 1, exc.orig)
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
    if getattr(exc.orig, "sqlstate", None) in _RETRY_SQLSTATES:
        return True
    message = str(exc.orig).lower()
    return "database is locked" in message or "database is busy" in message


def _session_options(busy_timeout_ms: int) -> str:
    """libpq ``options`` for PostgreSQL sessions: like SQLite's busy timeout, a lock wait
    (the write lock included) gives up after ``busy_timeout_ms`` and the write is retried."""
    return (
        f"-c lock_timeout={int(busy_timeout_ms)} "
        f"-c idle_in_transaction_session_timeout={_IDLE_IN_TRANSACTION_MS}"
    )


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
