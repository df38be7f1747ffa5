"""The login_failures table: failed logins per bucket (a user or a client address) and window.

In the main database, so every worker and replica counts the same failures (on SQLite and on
PostgreSQL alike). Windows older than the current one are pruned when a bucket opens a new one.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from analytics.store.tables import login_failures


def record_failure(conn: Connection, bucket: str, window_start: int) -> int:
    """Count one failure; the bucket's count in this window afterwards."""
    dialect = sqlite if conn.dialect.name == "sqlite" else postgresql
    statement = (
        dialect.insert(login_failures)
        .values(bucket=bucket, window_start=window_start, count=1)
        .on_conflict_do_update(
            index_elements=[login_failures.c.bucket, login_failures.c.window_start],
            set_={"count": login_failures.c.count + 1},
        )
        .returning(login_failures.c.count)
    )
    count = int(conn.execute(statement).scalar_one())
    if count == 1:
        conn.execute(delete(login_failures).where(login_failures.c.window_start < window_start))
    return count


def failures(conn: Connection, buckets: Sequence[str], window_start: int) -> dict[str, int]:
    """Each bucket's failures in the window starting at ``window_start`` (absent: none)."""
    rows = conn.execute(
        select(login_failures.c.bucket, login_failures.c.count).where(
            login_failures.c.bucket.in_(list(buckets)),
            login_failures.c.window_start == window_start,
        )
    )
    return {bucket: int(count) for bucket, count in rows}


def clear(conn: Connection, bucket: str) -> None:
    conn.execute(delete(login_failures).where(login_failures.c.bucket == bucket))
