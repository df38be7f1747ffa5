"""Rate-limit counter storage shared by every worker: a SQL table, or process memory."""

from __future__ import annotations

import threading
from typing import Protocol

from sqlalchemy import Connection, bindparam, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from analytics.store.db import Database
from analytics.store.tables import rate_limit_counters


class CounterStore(Protocol):
    def hit(self, bucket: str, window_start: int) -> int:
        """Count one request in (bucket, window) and return the count so far."""
        ...


class SqlCounterStore:
    """Counters in a table: shared by all processes that use the same database.

    One UPSERT per request in its own short write transaction. Windows older than the previous
    one are deleted when a bucket opens a new window.
    """

    def __init__(self, database: Database) -> None:
        self._database = database
        dialect = sqlite if database.is_sqlite else postgresql
        table = rate_limit_counters
        # Built once: this runs on every request.
        self._upsert = (
            dialect.insert(table)
            .values(bucket=bindparam("b_bucket"), window_start=bindparam("b_window"), count=1)
            .on_conflict_do_update(
                index_elements=[table.c.bucket, table.c.window_start],
                set_={"count": table.c.count + 1},
            )
            .returning(table.c.count)
        )
        self._prune = delete(table).where(table.c.window_start < bindparam("b_oldest"))

    def hit(self, bucket: str, window_start: int) -> int:
        def run(conn: Connection) -> int:
            params = {"b_bucket": bucket, "b_window": window_start}
            count = int(conn.execute(self._upsert, params).scalar_one())
            if count == 1:
                conn.execute(self._prune, {"b_oldest": window_start - 60})
            return count

        return self._database.write(run)

    def peek(self, bucket: str, window_start: int) -> int:
        with self._database.read() as conn:
            value = conn.execute(
                select(rate_limit_counters.c.count)
                .where(rate_limit_counters.c.bucket == bucket)
                .where(rate_limit_counters.c.window_start == window_start)
            ).scalar()
        return int(value or 0)


class MemoryCounterStore:
    """Counters in this process only: for a single worker or tests, never for several workers."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, int], int] = {}

    def hit(self, bucket: str, window_start: int) -> int:
        with self._lock:
            key = (bucket, window_start)
            self._counts[key] = self._counts.get(key, 0) + 1
            if self._counts[key] == 1:
                for old in [k for k in self._counts if k[1] < window_start - 60]:
                    del self._counts[old]
            return self._counts[key]
