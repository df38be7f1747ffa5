"""Allocation events over time: a periodic sweep that ends allocations past their planned
release (ALLOCATION_EXPIRED) and announces those due within the notice window
(ALLOCATION_EXPIRING), without waiting for the next write to the ledger.

Every worker may run it: each pass is one write transaction, and the dedup keys (one expiring
and one expired event per allocation) make a second pass a no-op.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from analytics.clock import Clock
from analytics.services.kernel.events import EventSink, EventType, expiring_dedup_key
from analytics.services.kernel.periodic import Periodic
from analytics.services.ledger.expiry import expire_due
from analytics.store import allocations as allocation_store
from analytics.store.db import Database

log = logging.getLogger(__name__)


class AllocationEvents:
    def __init__(
        self,
        database: Database,
        clock: Clock,
        events: EventSink,
        notice_hours: float,
        interval_seconds: float,
    ) -> None:
        self._db = database
        self._clock = clock
        self._events = events
        self.notice = timedelta(hours=notice_hours)
        self.interval_seconds = interval_seconds
        self._job = Periodic("allocation-events", self.run_once, interval_seconds)

    def run_once(self) -> dict[str, int]:
        """One sweep; how many allocations expired and how many expiring events were new."""

        def run(conn: Any) -> dict[str, int]:
            now = self._clock.now()
            expired = expire_due(conn, now, "expiry", self._events)
            announced = 0
            due = allocation_store.list_allocations(
                conn, now, active_only=True, planned_before=now + self.notice
            )
            for record in due:
                planned = record.planned_release_time
                if planned is None:
                    continue
                event_id = self._events.record_in(
                    conn,
                    EventType.ALLOCATION_EXPIRING,
                    {
                        "allocationId": record.allocation_id,
                        "namespace": record.namespace,
                        "podName": record.pod_name,
                        "deviceId": record.device_id,
                        "nodeName": record.node_name,
                        "allocatedResource": record.resource_id,
                        "plannedReleaseTime": planned,
                        "secondsLeft": max(int((planned - now).total_seconds()), 0),
                        "severity": "INFO",
                        "status": "FIRING",
                    },
                    dedup_key=expiring_dedup_key(record.allocation_id),
                )
                announced += event_id is not None
            return {"expired": expired, "expiring": announced}

        return self._db.write(run)

    def start(self) -> None:
        self._job.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._job.stop(timeout)
