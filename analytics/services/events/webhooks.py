"""Webhook use cases: register (URL checked against the SSRF guard), list, read, change, delete,
the delivery log; and the background work of this process (outbox dispatcher, allocation events).

The secret is write-only: it is stored to sign deliveries and never appears in a view or a log.
"""

from __future__ import annotations

import logging
import secrets
import string
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from analytics.clock import Clock
from analytics.errors import InvalidParameter, ResourceNotFound, ValidationFailed
from analytics.services.events.recorder import EventRecorder
from analytics.services.kernel.events import EventType
from analytics.settings import Settings
from analytics.store import webhooks as webhook_store
from analytics.store.db import Database
from analytics.store.webhooks import DeliveryRecord, WebhookRecord
from analytics.webhooks.dispatcher import Dispatcher, RetryPolicy
from analytics.webhooks.secretbox import PREFIX as SEALED_PREFIX
from analytics.webhooks.secretbox import SecretBox, SecretUnreadable, is_sealed
from analytics.webhooks.ssrf import UrlGuard, UrlRefused, parse_networks

_ID_ALPHABET = string.ascii_uppercase + string.digits
log = logging.getLogger(__name__)


def new_webhook_id() -> str:
    return "WH-" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(8))


@dataclass(frozen=True)
class WebhookView:
    webhook_id: str
    name: str
    url: str
    events: list[str]
    active: bool
    created_by: str | None
    created_at: datetime
    updated_at: datetime
    deliveries: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class TestEventView:
    event_id: str
    webhook_id: str
    event: str
    queued_at: datetime


def guard_from(settings: Settings) -> UrlGuard:
    return UrlGuard(parse_networks(settings.webhook_allowed_cidrs))


def policy_from(settings: Settings) -> RetryPolicy:
    return RetryPolicy(
        timeout_seconds=settings.webhook_timeout_seconds,
        max_attempts=settings.webhook_max_attempts,
        max_age_seconds=float(settings.webhook_max_age_seconds),
        backoff_base_seconds=settings.webhook_backoff_base_seconds,
        backoff_max_seconds=settings.webhook_backoff_max_seconds,
    )


class WebhookService:
    def __init__(
        self,
        database: Database,
        clock: Clock,
        guard: UrlGuard,
        dispatcher: Dispatcher | None = None,
        events: EventRecorder | None = None,
        secrets: SecretBox | None = None,
    ) -> None:
        self._db = database
        self._secrets = secrets or SecretBox(None)
        self._clock = clock
        self._guard = guard
        self.dispatcher = dispatcher
        self._events = events or EventRecorder(database, clock)

    # -- writes ---------------------------------------------------------------------------------

    def create(
        self,
        *,
        name: str,
        url: str,
        events: Sequence[str],
        secret: str,
        active: bool,
        actor: str | None,
    ) -> WebhookView:
        self._check_url(url)
        _check_secret(secret)
        now = self._clock.now()
        webhook_id = new_webhook_id()
        record = WebhookRecord(
            webhook_id=webhook_id,
            name=name,
            url=url,
            events=tuple(dict.fromkeys(events)),
            secret=self._secrets.seal(secret, webhook_id),
            active=active,
            created_by=actor,
            created_at=now,
            updated_at=now,
        )
        self._db.write(lambda conn: webhook_store.insert_webhook(conn, record))
        return _view(record, {})

    def update(self, webhook_id: str, changes: dict[str, Any]) -> WebhookView:
        """Change any of name, url, events, secret, active (absent keys stay as they are)."""
        if "url" in changes:
            self._check_url(changes["url"])
        if "events" in changes:
            changes["events"] = tuple(dict.fromkeys(changes["events"]))
        if "secret" in changes:
            _check_secret(changes["secret"])
            changes["secret"] = self._secrets.seal(changes["secret"], webhook_id)
        now = self._clock.now()

        def run(conn: Any) -> WebhookView:
            if webhook_store.get_webhook(conn, webhook_id) is None:
                raise _not_found(webhook_id)
            webhook_store.update_webhook(conn, webhook_id, **changes, updated_at=now)
            return self._view(conn, webhook_id)

        view = self._db.write(run)
        if self.dispatcher is not None and changes.get("active"):
            self.dispatcher.wake()
        return view

    def send_test(self, webhook_id: str, actor: str | None) -> TestEventView:
        """Queue a signed WEBHOOK_TEST event for this webhook alone (whatever it subscribes
        to); the delivery log shows how it went. 400 for a paused webhook (nothing would be
        sent), 404 for an unknown one."""
        now = self._clock.now()

        def run(conn: Any) -> TestEventView:
            record = webhook_store.get_webhook(conn, webhook_id)
            if record is None:
                raise _not_found(webhook_id)
            if not record.active:
                raise InvalidParameter(
                    f"Webhook {webhook_id} is paused: nothing would be delivered. "
                    'PATCH it with {"active": true} first.',
                    {"webhookId": webhook_id, "active": False},
                )
            data: dict[str, object] = {
                "webhookId": webhook_id,
                "name": record.name,
                "requestedBy": actor,
                "message": "A test delivery from the GPU management service.",
            }
            event_id = self._events.record_in(
                conn, EventType.WEBHOOK_TEST, data, targets=[webhook_id]
            )
            assert event_id is not None  # no dedup key: never a repeat
            return TestEventView(event_id, webhook_id, EventType.WEBHOOK_TEST.value, now)

        view = self._db.write(run)
        if self.dispatcher is not None:
            self.dispatcher.wake()
        return view

    def delete(self, webhook_id: str) -> WebhookView:
        """Remove the webhook with its pending deliveries and log; returns it as it was."""

        def run(conn: Any) -> WebhookView:
            view = self._view(conn, webhook_id)
            webhook_store.delete_webhook(conn, webhook_id)
            return view

        return self._db.write(run)

    # -- reads ----------------------------------------------------------------------------------

    def get(self, webhook_id: str) -> WebhookView:
        with self._db.read() as conn:
            return self._view(conn, webhook_id)

    def list_webhooks(self) -> list[WebhookView]:
        with self._db.read() as conn:
            counts = webhook_store.delivery_counts(conn)
            return [
                _view(r, counts.get(r.webhook_id, {})) for r in webhook_store.list_webhooks(conn)
            ]

    def deliveries(
        self, webhook_id: str, limit: int = 50, status: str | None = None
    ) -> list[DeliveryRecord]:
        now = self._clock.now()
        with self._db.read() as conn:
            if webhook_store.get_webhook(conn, webhook_id) is None:
                raise _not_found(webhook_id)
            return webhook_store.deliveries(conn, webhook_id, now, limit, status)

    # -- internals ------------------------------------------------------------------------------

    def _check_url(self, url: str) -> None:
        try:
            self._guard.resolve(url)
        except UrlRefused as exc:
            raise ValidationFailed(
                f"Webhook URL refused: {exc.reason}.", {"url": [exc.reason]}
            ) from None

    def _view(self, conn: Any, webhook_id: str) -> WebhookView:
        record = webhook_store.get_webhook(conn, webhook_id)
        if record is None:
            raise _not_found(webhook_id)
        counts = webhook_store.delivery_counts(conn, webhook_id)
        return _view(record, counts.get(webhook_id, {}))


def _view(record: WebhookRecord, counts: dict[str, int]) -> WebhookView:
    return WebhookView(
        webhook_id=record.webhook_id,
        name=record.name,
        url=record.url,
        events=list(record.events),
        active=record.active,
        created_by=record.created_by,
        created_at=record.created_at,
        updated_at=record.updated_at,
        deliveries={
            status: counts.get(status, 0)
            for status in (webhook_store.PENDING, webhook_store.DELIVERED, webhook_store.FAILED)
        },
    )


def _check_secret(secret: str) -> None:
    # Without a secrets key a secret is stored as given: one that looked sealed would be
    # misread when signing.
    if is_sealed(secret):
        raise ValidationFailed(
            f"A webhook secret may not start with {SEALED_PREFIX!r}.", {"secret": ["prefix"]}
        )


def encrypt_stored_secrets(database: Database, box: SecretBox) -> int:
    """At start-up: seal the webhook secrets still stored in plain text (rows from before a
    secrets key was configured) or sealed with a previous key, under the current key; or say in
    the log that they stay in plain text. Safe with several replicas starting at once (each row
    is replaced only if unchanged). Returns the number of secrets sealed."""
    with database.read() as conn:
        stored = webhook_store.stored_secrets(conn)
    if not box.encrypting:
        log.warning(
            "webhook secrets are stored in plain text: set GPU_ANALYTICS_SECRETS_KEY "
            "(base64 of 32 random bytes) to encrypt them at rest"
        )
        sealed_rows = sum(is_sealed(secret) for _id, secret in stored)
        if sealed_rows:
            log.error(
                "%d webhook secrets are encrypted but no secrets key is configured: their "
                "deliveries fail until GPU_ANALYTICS_SECRETS_KEY is set again",
                sealed_rows,
            )
        return 0
    stale = [(i, secret) for i, secret in stored if box.stale(secret, i)]
    unreadable = [i for i, secret in stored if is_sealed(secret) and not _opens(box, secret, i)]
    if unreadable:
        log.error(
            "%d webhook secrets do not open with the configured secrets key (nor a previous "
            "one): their deliveries fail until the key that sealed them is configured",
            len(unreadable),
        )

    def run(conn: Any) -> int:
        return sum(
            webhook_store.replace_secret(
                conn, webhook_id, secret, box.seal(box.open(secret, webhook_id), webhook_id)
            )
            for webhook_id, secret in stale
        )

    sealed = database.write(run) if stale else 0
    if sealed:
        log.info("sealed %d webhook secrets under the current secrets key", sealed)
    return sealed


def _opens(box: SecretBox, secret: str, webhook_id: str) -> bool:
    try:
        box.open(secret, webhook_id)
    except SecretUnreadable:
        return False
    return True


def secret_box(settings: Settings) -> SecretBox:
    previous = settings.secrets_key_previous_bytes
    return SecretBox(settings.secrets_key_bytes, [previous] if previous else [])


def _not_found(webhook_id: str) -> ResourceNotFound:
    return ResourceNotFound(f"Webhook {webhook_id} not found.", {"webhookId": webhook_id})


class Job(Protocol):
    """Background work of this process, started after the fork and stopped with the app."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


class Background:
    """This process's background work for events: the outbox dispatcher (on when its
    interval setting is positive) and the jobs it is given (the ledger's allocation sweep)."""

    def __init__(self, jobs: Sequence[Job]) -> None:
        self.jobs = list(jobs)

    def start(self) -> None:
        for job in self.jobs:
            job.start()

    def stop(self) -> None:
        for job in self.jobs:
            job.stop()


def build_webhooks(
    settings: Settings,
    database: Database,
    clock: Clock,
    events: EventRecorder,
    jobs: Sequence[Job] = (),
) -> tuple[WebhookService, Background]:
    """The webhook service and the background work, ``jobs`` included (started by the caller,
    after a fork)."""
    guard = guard_from(settings)
    box = secret_box(settings)
    dispatcher = None
    if settings.webhook_dispatch_interval_seconds > 0:
        dispatcher = Dispatcher(
            database,
            clock,
            guard,
            policy_from(settings),
            poll_interval_seconds=settings.webhook_dispatch_interval_seconds,
            secrets=box,
        )
        events.set_wake(dispatcher.wake)
    service = WebhookService(database, clock, guard, dispatcher, events, box)
    return service, Background([*([dispatcher] if dispatcher is not None else []), *jobs])
