"""The outbox dispatcher: claims due deliveries with a lease, signs and POSTs them, logs every
attempt and schedules retries with exponential backoff and jitter.

Every gunicorn worker (and replica) may run one; the lease taken in the claim's write
transaction makes sure one delivery is in flight in one place at a time. A dispatcher that dies
mid-send leaves its lease to expire, after which another one retries: delivery is at least once,
and the ``X-Webhook-Event-Id`` header lets receivers drop repeats.
"""

from __future__ import annotations

import json
import logging
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from analytics.clock import Clock, format_utc
from analytics.store import webhooks as webhook_store
from analytics.store.db import Database
from analytics.store.webhooks import AttemptResult, ClaimedDelivery
from analytics.webhooks import signing
from analytics.webhooks.secretbox import SecretBox, SecretUnreadable
from analytics.webhooks.ssrf import UrlGuard, UrlRefused
from analytics.webhooks.transport import SendResult, post

log = logging.getLogger(__name__)

Sender = Callable[..., SendResult]


@dataclass(frozen=True)
class RetryPolicy:
    timeout_seconds: float = 5.0
    max_attempts: int = 10
    max_age_seconds: float = 86_400.0
    backoff_base_seconds: float = 2.0
    backoff_max_seconds: float = 600.0

    def backoff_seconds(self, attempt: int, rng: random.Random) -> float:
        """Delay after failed attempt ``attempt`` (1, 2, ...): base * 2^(attempt-1), capped,
        with "equal jitter" (between half and all of it) so receivers coming back from an
        outage are not hit by every dispatcher at once."""
        ceiling = min(self.backoff_max_seconds, self.backoff_base_seconds * 2 ** (attempt - 1))
        return float(ceiling / 2 + rng.uniform(0, ceiling / 2))

    def gives_up(self, attempt: int, age_seconds: float) -> bool:
        return attempt >= self.max_attempts or age_seconds >= self.max_age_seconds


def _process_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident() % 100_000}"[:40]


class Dispatcher:
    """``run_once`` sends what is due now; ``start`` runs it in a daemon thread."""

    batch_size = 4

    def __init__(
        self,
        database: Database,
        clock: Clock,
        guard: UrlGuard,
        policy: RetryPolicy,
        *,
        sender: Sender = post,
        rng: random.Random | None = None,
        poll_interval_seconds: float = 1.0,
        secrets: SecretBox | None = None,
    ) -> None:
        self._db = database
        # Opens secrets sealed at rest; the default (no key) reads plain-text secrets only.
        self._secrets = secrets or SecretBox(None)
        self._clock = clock
        self._guard = guard
        self.policy = policy
        self._send = sender
        self._rng = rng or random.Random()
        self.poll_interval_seconds = poll_interval_seconds
        # Long enough to send a whole batch (connect and read may each take the timeout).
        self.lease_seconds = self.batch_size * (2 * policy.timeout_seconds + 1) + 10
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # -- one pass -------------------------------------------------------------------------------

    def run_once(self) -> int:
        """Claim and send due deliveries until none is left; the number of attempts made."""
        made = 0
        while not self._stopped.is_set():
            holder = f"{_process_id()}/{uuid.uuid4().hex[:16]}"
            claimed = self._claim(holder)
            if not claimed:
                return made
            for delivery in claimed:
                self._deliver(delivery, holder)
                made += 1
        return made

    def _claim(self, holder: str) -> list[ClaimedDelivery]:
        with self._db.read() as conn:
            if not webhook_store.has_due(conn, self._clock.now()):
                return []

        def run(conn: Any) -> list[ClaimedDelivery]:
            now = self._clock.now()
            until = now + timedelta(seconds=self.lease_seconds)
            return webhook_store.claim_due(conn, holder, now, until, self.batch_size)

        return self._db.write(run)

    def _deliver(self, delivery: ClaimedDelivery, holder: str) -> None:
        started = self._clock.now()
        began = time.monotonic()
        result = self._attempt(delivery, started)
        duration_ms = int((time.monotonic() - began) * 1000)
        now = self._clock.now()
        if result.ok:
            outcome, next_at = "DELIVERED", None
        elif self.policy.gives_up(delivery.attempt, (now - delivery.created_at).total_seconds()):
            outcome, next_at = "FAILED", None
        else:
            delay = self.policy.backoff_seconds(delivery.attempt, self._rng)
            outcome, next_at = "RETRY", now + timedelta(seconds=delay)
        attempt = AttemptResult(started, duration_ms, result.status_code, result.error, outcome)

        def run(conn: Any) -> bool:
            return webhook_store.finish_attempt(conn, delivery, holder, attempt, next_at, now)

        settled = self._db.write(run)
        # The URL's path may hold a token (Slack-style URLs): log the webhook id only.
        log.log(
            logging.INFO if result.ok else logging.WARNING,
            "webhook %s delivery %d (%s %s) attempt %d: %s%s",
            delivery.webhook_id,
            delivery.delivery_id,
            delivery.event_type,
            delivery.event_id,
            delivery.attempt,
            outcome,
            f" ({result.error})" if result.error else "",
        )
        if not settled:
            log.warning("delivery %d: lease lost before it was settled", delivery.delivery_id)

    def _attempt(self, delivery: ClaimedDelivery, started: datetime) -> SendResult:
        try:
            target, addresses = self._guard.resolve(delivery.url)
        except UrlRefused as exc:
            return SendResult(None, f"refused: {exc.reason}"[:300])
        try:
            secret = self._secrets.open(delivery.secret, delivery.webhook_id)
        except SecretUnreadable as exc:
            # Retried like a failed send: restoring the key lets the delivery go out.
            return SendResult(None, f"not sent: {exc}")
        body, signature = signing.signed_body(
            secret,
            delivery.event_type,
            format_utc(delivery.occurred_at),
            json.loads(delivery.data),
        )
        # The body (and its seed signature) is the same on every retry; this attempt's own time
        # and signature are what let a receiver refuse a replay after a few minutes.
        sent_at = int(started.timestamp())
        headers = {
            signing.TIMESTAMP_HEADER: str(sent_at),
            signing.ATTEMPT_SIGNATURE_HEADER: signing.attempt_signature(secret, body, sent_at),
            signing.SIGNATURE_HEADER: signature,
            signing.EVENT_HEADER: delivery.event_type,
            signing.EVENT_ID_HEADER: delivery.event_id,
            signing.DELIVERY_HEADER: str(delivery.delivery_id),
            "X-Webhook-Attempt": str(delivery.attempt),
        }
        return self._send(target, addresses[0], body, headers, self.policy.timeout_seconds)

    # -- the thread -----------------------------------------------------------------------------

    def wake(self) -> None:
        """Look for work now (an event was just recorded in this process)."""
        self._wake.set()

    def start(self) -> None:
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stopped.clear()
            self._thread = threading.Thread(
                target=self._loop, name="webhook-dispatcher", daemon=True
            )
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopped.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _loop(self) -> None:
        while not self._stopped.is_set():
            self._wake.clear()
            try:
                self.run_once()
            except Exception:
                # A database hiccup must not end the thread; the next poll tries again.
                log.exception("webhook dispatcher pass failed")
            self._wake.wait(self.poll_interval_seconds)
