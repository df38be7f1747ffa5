"""State the service exports as gauges on its own /metrics, read from the store at scrape time:
MIG layout drift per GPU, planned releases of live allocations, the webhook outbox by state.

The alert rules of the gpu-analytics group (alerts/gpu-alerts.yml) are written on these series.
"""

from __future__ import annotations

from collections.abc import Iterable

from analytics.clock import Clock
from analytics.store import allocations as allocation_store
from analytics.store import mig as mig_store
from analytics.store import webhooks as webhook_store
from analytics.store.db import Database

Sample = tuple[tuple[str, ...], float]


class StateMetrics:
    def __init__(self, database: Database, clock: Clock) -> None:
        self._db = database
        self._clock = clock

    def mig_layout_drift(self) -> Iterable[Sample]:
        """``(node, device_id) -> 1`` when a GPU with MIG instances has one that is desired but
        not observed (PENDING) or observed but not desired (UNMANAGED), else 0; observed state
        comes from the inventory sync."""
        with self._db.read() as conn:
            records = mig_store.instances(conn, self._clock.now())
        drift: dict[tuple[str, str], float] = {}
        for r in records:
            key = (r.node_name, r.device_id)
            drifted = 1.0 if r.desired != r.observed else 0.0
            drift[key] = max(drift.get(key, 0.0), drifted)
        return sorted(drift.items())

    def planned_releases(self) -> Iterable[Sample]:
        """``(allocation_id, namespace, pod) -> unix seconds`` of live allocations that have a
        planned release time."""
        now = self._clock.now()
        with self._db.read() as conn:
            records = allocation_store.list_allocations(conn, now, active_only=True)
        return [
            ((r.allocation_id, r.namespace, r.pod_name), r.planned_release_time.timestamp())
            for r in records
            if r.planned_release_time is not None
        ]

    def outbox(self) -> Iterable[Sample]:
        """``(status,) -> deliveries`` over every webhook, each state always present."""
        with self._db.read() as conn:
            counts = webhook_store.outbox_counts(conn)
        states = (webhook_store.PENDING, webhook_store.DELIVERED, webhook_store.FAILED)
        return [((state,), float(counts.get(state, 0))) for state in states]
