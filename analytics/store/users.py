"""The users table: accounts with their password hash, role, team and disabled flag."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from analytics.store.tables import users


@dataclass(frozen=True)
class UserRecord:
    username: str
    password_hash: str
    role: str
    team: str | None
    disabled: bool
    created_at: datetime
    updated_at: datetime


def _record(row: Any) -> UserRecord:
    return UserRecord(**row._mapping)


def insert_user(conn: Connection, record: UserRecord) -> None:
    conn.execute(insert(users).values(**record.__dict__))


def get_user(conn: Connection, username: str) -> UserRecord | None:
    row = conn.execute(select(users).where(users.c.username == username)).first()
    return _record(row) if row is not None else None


def list_users(conn: Connection) -> list[UserRecord]:
    return [_record(row) for row in conn.execute(select(users).order_by(users.c.username))]


def update_user(conn: Connection, username: str, **values: Any) -> bool:
    result = conn.execute(update(users).where(users.c.username == username).values(**values))
    return bool(result.rowcount == 1)
