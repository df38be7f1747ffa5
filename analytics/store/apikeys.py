"""The api_keys table: hashed keys and their roles."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, insert, select

from analytics.store.tables import api_keys


@dataclass(frozen=True)
class ApiKeyRecord:
    key_id: str
    name: str
    role: str
    key_hash: str
    revoked: bool


def insert_key(
    conn: Connection, key_id: str, name: str, role: str, key_hash: str, now: datetime
) -> None:
    conn.execute(
        insert(api_keys).values(
            key_id=key_id, name=name, role=role, key_hash=key_hash, created_at=now
        )
    )


def find_by_hash(conn: Connection, key_hash: str) -> ApiKeyRecord | None:
    row = conn.execute(select(api_keys).where(api_keys.c.key_hash == key_hash)).first()
    if row is None:
        return None
    return ApiKeyRecord(row.key_id, row.name, row.role, row.key_hash, row.revoked_at is not None)
