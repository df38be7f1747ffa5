"""Expiry of allocations past their planned release time, written inside write transactions.

Reads never wait for this: they treat an ALLOCATED row whose plannedReleaseTime has passed as
expired (store.devices.active_allocation). Every write that could take or free a resource calls
``expire_due`` first, so the ledger row becomes EXPIRED, its cost is settled at the planned time
and the resource's unique active-allocation slot is free again, all in that same transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from analytics.services.kernel.events import EventSink, EventType
from analytics.store import allocations as allocation_store
from analytics.store.allocations import AllocationRecord


def hours_between(start: datetime, end: datetime) -> float:
    return max((end - start).total_seconds(), 0.0) / 3600.0


def accrued_cost(cost_per_hour: float, start: datetime, end: datetime) -> float:
    return round(cost_per_hour * hours_between(start, end), 4)


def expire_due(
    conn: Any, now: datetime, actor: str | None = None, events: EventSink | None = None
) -> int:
    """End every allocation past its planned release; with ``events``, record an
    ALLOCATION_EXPIRED for each in the same transaction."""
    expired = allocation_store.due_for_expiry(conn, now)
    for record in expired:
        end = record.planned_release_time or now
        cost = accrued_cost(record.cost_per_hour, record.allocation_time, end)
        allocation_store.end_allocation(conn, record, "EXPIRED", end, cost, actor or "expiry")
        if events is not None:
            events.record_in(
                conn,
                EventType.ALLOCATION_EXPIRED,
                expired_event_data(record, end, cost),
                dedup_key=f"ALLOCATION_EXPIRED:{record.allocation_id}",
            )
    return len(expired)


def expired_event_data(record: AllocationRecord, end: datetime, cost: float) -> dict[str, object]:
    return {
        "allocationId": record.allocation_id,
        "namespace": record.namespace,
        "podName": record.pod_name,
        "deviceId": record.device_id,
        "nodeName": record.node_name,
        "allocatedResource": record.resource_id,
        "plannedReleaseTime": record.planned_release_time,
        "releaseTime": end,
        "costAccrued": cost,
        "severity": "INFO",
    }
