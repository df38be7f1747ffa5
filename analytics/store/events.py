"""The event log: every event the service recorded (from alerts or its own use cases), once per
dedup key."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Column, Connection, Index, String, Table, Text, insert, select

from analytics.store.tables import metadata
from analytics.store.types import UtcDateTime

# Migration 0003_webhooks creates it.
events = Table(
    "events",
    metadata,
    Column("event_id", String(40), primary_key=True),
    Column("event_type", String(40), nullable=False),
    Column("occurred_at", UtcDateTime, nullable=False),
    # The payload's ``data`` object, JSON.
    Column("data", Text, nullable=False),
    # Suppresses repeats: e.g. an alert's fingerprint and startsAt; null: never a repeat.
    Column("dedup_key", String(255), unique=True),
    Index("ix_events_type_time", "event_type", "occurred_at"),
)


@dataclass(frozen=True)
class EventRecord:
    event_id: str
    event_type: str
    occurred_at: datetime
    data: str
    dedup_key: str | None


def seen(conn: Connection, dedup_key: str) -> bool:
    query = select(events.c.event_id).where(events.c.dedup_key == dedup_key)
    return conn.execute(query).first() is not None


def insert_event(
    conn: Connection,
    event_id: str,
    event_type: str,
    occurred_at: datetime,
    data_json: str,
    dedup_key: str | None,
) -> None:
    conn.execute(
        insert(events).values(
            event_id=event_id,
            event_type=event_type,
            occurred_at=occurred_at,
            data=data_json,
            dedup_key=dedup_key,
        )
    )


def recent(
    conn: Connection, limit: int, event_type: str | None = None, since: datetime | None = None
) -> list[EventRecord]:
    query = select(events).order_by(events.c.occurred_at.desc(), events.c.event_id).limit(limit)
    if event_type is not None:
        query = query.where(events.c.event_type == event_type)
    if since is not None:
        query = query.where(events.c.occurred_at >= since)
    return [EventRecord(**row._mapping) for row in conn.execute(query)]
