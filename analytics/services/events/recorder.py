"""Events: the catalogue of event types, and the recorder that logs an event and queues one
webhook delivery per subscribed, active webhook in the same transaction (the outbox).

Producers: the Alertmanager receiver (alerts mapped to hardware and exporter events) and the
service's own use cases (allocation failures and expiry, MIG layouts, budgets). docs/webhooks.md
lists every type with its ``data`` fields.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from analytics.clock import Clock, format_utc
from analytics.errors import InvalidParameter
from analytics.services.kernel.events import EVENT_TYPES
from analytics.store import events as event_store
from analytics.store import webhooks as webhook_store
from analytics.store.db import Database

log = logging.getLogger(__name__)


def new_event_id() -> str:
    return "evt_" + secrets.token_hex(12)


def _json_default(value: object) -> object:
    if isinstance(value, datetime):
        return format_utc(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"cannot serialise {type(value).__name__} in event data")


def encode_data(data: Mapping[str, object]) -> str:
    return json.dumps(data, default=_json_default, allow_nan=False, separators=(",", ":"))


class EventRecorder:
    """``record`` persists an event and enqueues its deliveries in one write transaction;
    ``record_in`` does the same inside a transaction the caller already holds."""

    def __init__(
        self, database: Database, clock: Clock, wake: Callable[[], None] | None = None
    ) -> None:
        self._db = database
        self._clock = clock
        self._wake = wake

    def set_wake(self, wake: Callable[[], None] | None) -> None:
        """A callback run when an event queued deliveries (the local dispatcher's nudge)."""
        self._wake = wake

    def record(
        self, event_type: str, data: dict[str, object], *, dedup_key: str | None = None
    ) -> None:
        """Persist the event and queue its deliveries; a repeated ``dedup_key`` is a no-op."""
        self.record_once(event_type, data, dedup_key=dedup_key)

    def record_once(
        self, event_type: str, data: Mapping[str, object], *, dedup_key: str | None = None
    ) -> bool:
        """``record``, telling whether the event was new (False: a repeat of ``dedup_key``)."""
        recorded = self._db.write(
            lambda conn: self.record_in(conn, event_type, data, dedup_key=dedup_key)
        )
        if recorded is not None and self._wake is not None:
            self._wake()  # again, now that the deliveries are committed
        return recorded is not None

    def seen(self, dedup_key: str) -> bool:
        """Whether an event with this dedup key was recorded."""
        with self._db.read() as conn:
            return event_store.seen(conn, dedup_key)

    def record_in(
        self,
        conn: Any,
        event_type: str,
        data: Mapping[str, object],
        *,
        dedup_key: str | None = None,
        occurred_at: datetime | None = None,
        targets: Sequence[str] | None = None,
    ) -> str | None:
        """Inside the caller's write transaction; the event id, or None for a repeat. The
        deliveries go to the webhooks subscribed to the type, or to ``targets`` when given."""
        if event_type not in EVENT_TYPES:
            raise InvalidParameter(
                f"Unknown event type {event_type!r}.", {"eventTypes": list(EVENT_TYPES)}
            )
        if dedup_key is not None and event_store.seen(conn, dedup_key):
            return None
        now = self._clock.now()
        event_id = new_event_id()
        event_store.insert_event(
            conn, event_id, event_type, occurred_at or now, encode_data(data), dedup_key
        )
        subscribers = (
            list(targets) if targets is not None else webhook_store.subscribers(conn, event_type)
        )
        webhook_store.enqueue(conn, subscribers, event_id, now)
        log.info(
            "event %s %s recorded, %d delivery(ies) queued", event_type, event_id, len(subscribers)
        )
        if subscribers and self._wake is not None:
            # Before the commit: the dispatcher may look before the rows are visible; then
            # the wake after the commit (``record``) or its next poll finds them.
            self._wake()
        return event_id
