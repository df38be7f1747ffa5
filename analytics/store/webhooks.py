"""Webhooks, their outbox of deliveries (claimed with a lease) and the log of every attempt."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)

from analytics.store.events import events
from analytics.store.tables import metadata
from analytics.store.types import UtcDateTime

# Migration 0003_webhooks creates these three tables.
webhooks = Table(
    "webhooks",
    metadata,
    Column("webhook_id", String(16), primary_key=True),
    Column("name", String(128), nullable=False),
    Column("url", String(2048), nullable=False),
    # JSON list of event types.
    Column("events", Text, nullable=False),
    # The HMAC key: AES-GCM ciphertext (analytics.webhooks.secretbox) when a secrets key is
    # configured, else as given (it must stay readable, to sign); never returned or logged.
    Column("secret", String(1024), nullable=False),
    Column("active", Boolean, nullable=False),
    Column("created_by", String(160)),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

PENDING, DELIVERED, FAILED = "PENDING", "DELIVERED", "FAILED"

# The outbox: one row per (webhook, event). PENDING rows are due at next_attempt_at; a
# dispatcher claims a row by writing its lease, so no two dispatchers send it at once, and a
# dispatcher that dies mid-send leaves a lease that expires and lets another one retry.
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("delivery_id", Integer, primary_key=True, autoincrement=True),
    Column(
        "webhook_id",
        String(16),
        ForeignKey("webhooks.webhook_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("event_id", String(40), ForeignKey("events.event_id"), nullable=False),
    Column("status", String(16), nullable=False),
    # Attempts started (a claim counts one, so a crash loop still ends at max attempts).
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UtcDateTime),
    Column("lease_holder", String(64)),
    Column("lease_expires_at", UtcDateTime),
    Column("last_status_code", Integer),
    Column("last_error", String(500)),
    Column("created_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime),
    UniqueConstraint("webhook_id", "event_id", name="uq_webhook_deliveries_webhook_event"),
    Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    Index("ix_webhook_deliveries_webhook", "webhook_id", "delivery_id"),
)

webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("attempt_id", Integer, primary_key=True, autoincrement=True),
    Column(
        "delivery_id",
        Integer,
        ForeignKey("webhook_deliveries.delivery_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("attempt", Integer, nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("duration_ms", Integer, nullable=False),
    Column("status_code", Integer),
    Column("error", String(500)),
    # DELIVERED, RETRY (another attempt is scheduled) or FAILED (given up).
    Column("outcome", String(16), nullable=False),
    Column("dispatcher", String(64), nullable=False),
    Index("ix_webhook_attempts_delivery", "delivery_id"),
)


# -- webhooks --------------------------------------------------------------------------------


@dataclass(frozen=True)
class WebhookRecord:
    webhook_id: str
    name: str
    url: str
    events: tuple[str, ...]
    secret: str
    active: bool
    created_by: str | None
    created_at: datetime
    updated_at: datetime


def _webhook(row: Any) -> WebhookRecord:
    values = dict(row._mapping)
    values["events"] = tuple(json.loads(values["events"]))
    return WebhookRecord(**values)


def insert_webhook(conn: Connection, record: WebhookRecord) -> None:
    values = {**record.__dict__, "events": json.dumps(list(record.events))}
    conn.execute(insert(webhooks).values(**values))


def update_webhook(conn: Connection, webhook_id: str, **values: Any) -> None:
    if "events" in values:
        values["events"] = json.dumps(list(values["events"]))
    conn.execute(update(webhooks).where(webhooks.c.webhook_id == webhook_id).values(**values))


def get_webhook(conn: Connection, webhook_id: str) -> WebhookRecord | None:
    row = conn.execute(select(webhooks).where(webhooks.c.webhook_id == webhook_id)).first()
    return _webhook(row) if row is not None else None


def list_webhooks(conn: Connection) -> list[WebhookRecord]:
    query = select(webhooks).order_by(webhooks.c.created_at, webhooks.c.webhook_id)
    return [_webhook(row) for row in conn.execute(query)]


def stored_secrets(conn: Connection) -> list[tuple[str, str]]:
    """(webhook_id, stored secret) of every webhook."""
    query = select(webhooks.c.webhook_id, webhooks.c.secret).order_by(webhooks.c.webhook_id)
    return [(row.webhook_id, row.secret) for row in conn.execute(query)]


def replace_secret(conn: Connection, webhook_id: str, old: str, new: str) -> bool:
    """Store ``new`` where the secret is still ``old`` (another replica may have sealed it)."""
    result = conn.execute(
        update(webhooks)
        .where(webhooks.c.webhook_id == webhook_id, webhooks.c.secret == old)
        .values(secret=new)
    )
    return bool(result.rowcount == 1)


def delete_webhook(conn: Connection, webhook_id: str) -> bool:
    # Explicitly, not only by ON DELETE CASCADE: SQLite enforces it only with foreign_keys=ON.
    ids = select(webhook_deliveries.c.delivery_id).where(
        webhook_deliveries.c.webhook_id == webhook_id
    )
    conn.execute(delete(webhook_attempts).where(webhook_attempts.c.delivery_id.in_(ids)))
    conn.execute(delete(webhook_deliveries).where(webhook_deliveries.c.webhook_id == webhook_id))
    result = conn.execute(delete(webhooks).where(webhooks.c.webhook_id == webhook_id))
    return bool(result.rowcount)


def subscribers(conn: Connection, event_type: str) -> list[str]:
    """Ids of the active webhooks subscribed to ``event_type``."""
    rows = conn.execute(
        select(webhooks.c.webhook_id, webhooks.c.events).where(webhooks.c.active.is_(True))
    )
    return [row.webhook_id for row in rows if event_type in json.loads(row.events)]


# -- the outbox ------------------------------------------------------------------------------


def enqueue(conn: Connection, webhook_ids: Sequence[str], event_id: str, now: datetime) -> None:
    if not webhook_ids:
        return
    conn.execute(
        insert(webhook_deliveries),
        [
            {
                "webhook_id": webhook_id,
                "event_id": event_id,
                "status": PENDING,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for webhook_id in webhook_ids
        ],
    )


@dataclass(frozen=True)
class ClaimedDelivery:
    """A delivery this dispatcher holds the lease of, with what it needs to send it."""

    delivery_id: int
    webhook_id: str
    url: str
    secret: str
    event_id: str
    event_type: str
    occurred_at: datetime
    data: str
    attempt: int  # this attempt's number, from 1
    created_at: datetime


def _due(now: datetime) -> Any:
    return and_(
        webhook_deliveries.c.status == PENDING,
        webhook_deliveries.c.next_attempt_at <= now,
        or_(
            webhook_deliveries.c.lease_expires_at.is_(None),
            webhook_deliveries.c.lease_expires_at <= now,
        ),
    )


def has_due(conn: Connection, now: datetime) -> bool:
    """Whether any delivery of an active webhook is due (a read: idle polls take no lock)."""
    query = (
        select(webhook_deliveries.c.delivery_id)
        .join(webhooks, webhooks.c.webhook_id == webhook_deliveries.c.webhook_id)
        .where(_due(now), webhooks.c.active.is_(True))
        .limit(1)
    )
    return conn.execute(query).first() is not None


def claim_due(
    conn: Connection, holder: str, now: datetime, lease_until: datetime, limit: int
) -> list[ClaimedDelivery]:
    """Take the lease of up to ``limit`` due deliveries of active webhooks.

    Each row is taken by a conditional UPDATE that re-checks that it is still due and unleased,
    so two dispatchers (threads, processes or replicas) never both hold one: on SQLite the write
    transaction serialises them, elsewhere the second UPDATE matches no row. ``holder`` must be
    unique per claim.
    """
    candidates = conn.execute(
        select(webhook_deliveries.c.delivery_id)
        .join(webhooks, webhooks.c.webhook_id == webhook_deliveries.c.webhook_id)
        .where(_due(now), webhooks.c.active.is_(True))
        .order_by(webhook_deliveries.c.next_attempt_at, webhook_deliveries.c.delivery_id)
        .limit(limit)
    ).scalars()
    taken: list[int] = []
    for delivery_id in list(candidates):
        result = conn.execute(
            update(webhook_deliveries)
            .where(webhook_deliveries.c.delivery_id == delivery_id, _due(now))
            .values(
                lease_holder=holder,
                lease_expires_at=lease_until,
                attempts=webhook_deliveries.c.attempts + 1,
            )
        )
        if result.rowcount == 1:
            taken.append(delivery_id)
    if not taken:
        return []
    rows = conn.execute(
        select(
            webhook_deliveries.c.delivery_id,
            webhook_deliveries.c.webhook_id,
            webhooks.c.url,
            webhooks.c.secret,
            events.c.event_id,
            events.c.event_type,
            events.c.occurred_at,
            events.c.data,
            webhook_deliveries.c.attempts.label("attempt"),
            webhook_deliveries.c.created_at,
        )
        .join(webhooks, webhooks.c.webhook_id == webhook_deliveries.c.webhook_id)
        .join(events, events.c.event_id == webhook_deliveries.c.event_id)
        .where(webhook_deliveries.c.delivery_id.in_(taken))
        .order_by(webhook_deliveries.c.delivery_id)
    )
    return [ClaimedDelivery(**row._mapping) for row in rows]


@dataclass(frozen=True)
class AttemptResult:
    started_at: datetime
    duration_ms: int
    status_code: int | None
    error: str | None
    outcome: str  # DELIVERED | RETRY | FAILED


def finish_attempt(
    conn: Connection,
    claimed: ClaimedDelivery,
    holder: str,
    result: AttemptResult,
    next_attempt_at: datetime | None,
    now: datetime,
) -> bool:
    """Log the attempt and settle the delivery; False when the lease was no longer ours (the
    row was deleted with its webhook, or the lease expired and another dispatcher took it)."""
    status = {"DELIVERED": DELIVERED, "FAILED": FAILED}.get(result.outcome, PENDING)
    updated = conn.execute(
        update(webhook_deliveries)
        .where(
            webhook_deliveries.c.delivery_id == claimed.delivery_id,
            webhook_deliveries.c.lease_holder == holder,
        )
        .values(
            status=status,
            next_attempt_at=next_attempt_at if status == PENDING else None,
            lease_holder=None,
            lease_expires_at=None,
            last_status_code=result.status_code,
            last_error=result.error,
            finished_at=now if status != PENDING else None,
        )
    )
    if updated.rowcount != 1:
        return False
    conn.execute(
        insert(webhook_attempts).values(
            delivery_id=claimed.delivery_id,
            attempt=claimed.attempt,
            started_at=result.started_at,
            duration_ms=result.duration_ms,
            status_code=result.status_code,
            error=result.error,
            outcome=result.outcome,
            dispatcher=holder.split("/", 1)[0],
        )
    )
    return True


# -- the delivery log ------------------------------------------------------------------------


@dataclass(frozen=True)
class AttemptRecord:
    attempt: int
    started_at: datetime
    duration_ms: int
    status_code: int | None
    error: str | None
    outcome: str


@dataclass(frozen=True)
class DeliveryRecord:
    delivery_id: int
    webhook_id: str
    event_id: str
    event_type: str
    occurred_at: datetime
    status: str
    attempts: int
    next_attempt_at: datetime | None
    leased: bool
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    finished_at: datetime | None
    log: tuple[AttemptRecord, ...]


def deliveries(
    conn: Connection, webhook_id: str, now: datetime, limit: int, status: str | None = None
) -> list[DeliveryRecord]:
    """The webhook's deliveries, newest first, each with its attempts in order."""
    d = webhook_deliveries
    query = (
        select(
            d.c.delivery_id,
            d.c.webhook_id,
            d.c.event_id,
            events.c.event_type,
            events.c.occurred_at,
            d.c.status,
            d.c.attempts,
            d.c.next_attempt_at,
            d.c.lease_expires_at,
            d.c.last_status_code,
            d.c.last_error,
            d.c.created_at,
            d.c.finished_at,
        )
        .join(events, events.c.event_id == d.c.event_id)
        .where(d.c.webhook_id == webhook_id)
        .order_by(d.c.delivery_id.desc())
        .limit(limit)
    )
    if status is not None:
        query = query.where(d.c.status == status)
    rows = list(conn.execute(query))
    ids = [row.delivery_id for row in rows]
    log: dict[int, list[AttemptRecord]] = {i: [] for i in ids}
    if ids:
        attempts = conn.execute(
            select(webhook_attempts)
            .where(webhook_attempts.c.delivery_id.in_(ids))
            .order_by(webhook_attempts.c.attempt_id)
        )
        for a in attempts:
            log[a.delivery_id].append(
                AttemptRecord(
                    a.attempt, a.started_at, a.duration_ms, a.status_code, a.error, a.outcome
                )
            )
    found = []
    for row in rows:
        values = dict(row._mapping)
        lease = values.pop("lease_expires_at")
        values["leased"] = lease is not None and lease > now
        found.append(DeliveryRecord(**values, log=tuple(log[row.delivery_id])))
    return found


def delivery_counts(conn: Connection, webhook_id: str | None = None) -> dict[str, dict[str, int]]:
    """Deliveries by webhook and status."""
    d = webhook_deliveries
    query = select(d.c.webhook_id, d.c.status, func.count()).group_by(d.c.webhook_id, d.c.status)
    if webhook_id is not None:
        query = query.where(d.c.webhook_id == webhook_id)
    counts: dict[str, dict[str, int]] = {}
    for hook, status, count in conn.execute(query):
        counts.setdefault(hook, {})[status] = int(count)
    return counts


def outbox_counts(conn: Connection) -> dict[str, int]:
    """Deliveries by status, over every webhook."""
    rows = conn.execute(
        select(webhook_deliveries.c.status, func.count()).group_by(webhook_deliveries.c.status)
    )
    return {status: int(count) for status, count in rows}
