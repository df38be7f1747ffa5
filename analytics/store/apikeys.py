"""The api_keys table: hashed keys, their roles and the user each acts for."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from analytics.store.tables import api_keys, users


@dataclass(frozen=True)
class ApiKeyRecord:
    key_id: str
    name: str
    role: str
    key_hash: str
    revoked: bool
    username: str | None = None
    created_at: datetime | None = None
    revoked_at: datetime | None = None
    # The key's user as it is now (None: no user, or the user row is gone).
    user_role: str | None = None
    user_disabled: bool | None = None
    user_team: str | None = None


def insert_key(
    conn: Connection,
    key_id: str,
    name: str,
    role: str,
    key_hash: str,
    now: datetime,
    username: str | None = None,
) -> None:
    conn.execute(
        insert(api_keys).values(
            key_id=key_id,
            name=name,
            role=role,
            key_hash=key_hash,
            created_at=now,
            username=username,
        )
    )


def _select() -> Any:
    return select(
        api_keys,
        users.c.role.label("user_role"),
        users.c.disabled.label("user_disabled"),
        users.c.team.label("user_team"),
    ).select_from(api_keys.outerjoin(users, users.c.username == api_keys.c.username))


def _record(row: Any) -> ApiKeyRecord:
    return ApiKeyRecord(
        key_id=row.key_id,
        name=row.name,
        role=row.role,
        key_hash=row.key_hash,
        revoked=row.revoked_at is not None,
        username=row.username,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
        user_role=row.user_role,
        user_disabled=row.user_disabled,
        user_team=row.user_team,
    )


def find_by_hash(conn: Connection, key_hash: str) -> ApiKeyRecord | None:
    row = conn.execute(_select().where(api_keys.c.key_hash == key_hash)).first()
    return _record(row) if row is not None else None


def get_key(conn: Connection, key_id: str) -> ApiKeyRecord | None:
    row = conn.execute(_select().where(api_keys.c.key_id == key_id)).first()
    return _record(row) if row is not None else None


def list_keys(conn: Connection, username: str | None = None) -> list[ApiKeyRecord]:
    query = _select().order_by(api_keys.c.created_at, api_keys.c.key_id)
    if username is not None:
        query = query.where(api_keys.c.username == username)
    return [_record(row) for row in conn.execute(query)]


def revoke_key(conn: Connection, key_id: str, now: datetime) -> bool:
    """Revoke a key; False when it does not exist. Revoking twice keeps the first time."""
    result = conn.execute(
        update(api_keys)
        .where(api_keys.c.key_id == key_id, api_keys.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return bool(result.rowcount == 1) or get_key(conn, key_id) is not None
