"""The mig_instances table: desired and observed instances, and which of them are free.

Rows marked ``retiring`` (deleted from the desired layout, still reported by the exporter) are
invisible here but for :func:`retiring_instances` and :func:`instance_numbers`; the inventory
sync (analytics.store.sync) sees them and removes each once the exporter no longer reports it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, exists, func, insert, select, update

from analytics.paging import PageRequest
from analytics.store.devices import active_allocation
from analytics.store.holders import held
from analytics.store.paging import page_rows
from analytics.store.rows import record, records
from analytics.store.tables import allocations, devices, mig_instances


@dataclass(frozen=True)
class MigInstanceRecord:
    instance_id: str
    device_id: str
    node_name: str
    device_index: int
    model_id: str
    device_status: str
    profile: str
    start_slice: int
    memory_slices: int
    compute_slices: int
    memory_gb: float
    desired: bool
    observed: bool
    mig_uuid: str | None
    gpu_instance_id: int | None
    compute_instance_id: int | None
    created_at: datetime
    observed_at: datetime | None
    allocation_id: str | None
    # A pod holds it (the exporter's attribution), with or without a ledger allocation.
    held_by_pod: bool

    @property
    def free(self) -> bool:
        """Free to allocate, as the allocator sees it."""
        return self.allocation_id is None and not self.held_by_pod


def _query(now: datetime, *, retiring: bool = False) -> Any:
    holder = (
        select(allocations.c.allocation_id)
        .where(allocations.c.resource_id == mig_instances.c.instance_id)
        .where(active_allocation(now))
        .limit(1)
        .scalar_subquery()
    )
    return (
        select(
            mig_instances,
            devices.c.node_name,
            devices.c.device_index,
            devices.c.model_id,
            devices.c.status.label("device_status"),
            holder.label("allocation_id"),
            held(mig_instances.c.instance_id).label("held_by_pod"),
        )
        .select_from(mig_instances.join(devices))
        .where(mig_instances.c.retiring.is_(retiring))
        .order_by(devices.c.node_name, devices.c.device_index, mig_instances.c.instance_id)
    )


def _record(row: Any) -> MigInstanceRecord:
    return record(MigInstanceRecord, row)


def instances(
    conn: Connection, now: datetime, *, device_id: str | None = None, free_only: bool = False
) -> list[MigInstanceRecord]:
    """By node name, GPU index, then instance id (a unique key)."""
    return records(MigInstanceRecord, conn.execute(_instances(now, device_id, free_only)))


def page_free_instances(
    conn: Connection, now: datetime, page: PageRequest
) -> tuple[list[MigInstanceRecord], int]:
    """``page`` of ``instances(free_only=True)`` and how many there are in all."""
    rows, total = page_rows(conn, _instances(now, None, True), page)
    return records(MigInstanceRecord, rows), total


def _instances(now: datetime, device_id: str | None, free_only: bool) -> Any:
    query = _query(now)
    if device_id is not None:
        query = query.where(mig_instances.c.device_id == device_id)
    if free_only:
        allocated = (
            exists()
            .where(allocations.c.resource_id == mig_instances.c.instance_id)
            .where(active_allocation(now))
        )
        query = (
            query.where(~allocated)
            .where(~held(mig_instances.c.instance_id))
            .where(devices.c.status.in_(("ACTIVE", "MIG_ENABLED")))
        )
    return query


def insert_instances(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        conn.execute(insert(mig_instances), list(rows))


def retire_instances(conn: Connection, device_id: str) -> None:
    """Take every instance of the GPU out of its layout: those the exporter never reported go,
    those it reports stay as ``retiring`` until it stops reporting them (the cluster applies the
    change later; until then the sync must not take them for unmanaged ones)."""
    mine = mig_instances.c.device_id == device_id
    conn.execute(delete(mig_instances).where(mine).where(mig_instances.c.observed.is_(False)))
    conn.execute(update(mig_instances).where(mine).values(desired=False, retiring=True))


def retiring_instances(conn: Connection, now: datetime, device_id: str) -> list[MigInstanceRecord]:
    """The GPU's retiring instances, by instance id: what it still has of a deleted layout."""
    query = _query(now, retiring=True).where(mig_instances.c.device_id == device_id)
    return records(MigInstanceRecord, conn.execute(query))


def instance_numbers(conn: Connection, device_id: str) -> set[int]:
    """The numbers of the GPU's instance ids in use, retiring ones included (ids are unique)."""
    ids = conn.execute(
        select(mig_instances.c.instance_id).where(mig_instances.c.device_id == device_id)
    ).scalars()
    return {int(instance_id.rsplit("-", 1)[1]) for instance_id in ids}


def nodes_with_drift(conn: Connection) -> list[str]:
    """Nodes with a GPU whose layout the cluster has not applied yet: a desired instance not
    reported, or a retiring one still reported. Sorted."""
    unapplied = (mig_instances.c.desired.is_(True) & mig_instances.c.observed.is_(False)) | (
        mig_instances.c.retiring.is_(True)
    )
    query = (
        select(devices.c.node_name)
        .select_from(mig_instances.join(devices))
        .where(unapplied)
        .distinct()
        .order_by(devices.c.node_name)
    )
    return list(conn.execute(query).scalars())


def count_instances(conn: Connection) -> int:
    return int(
        conn.execute(
            select(func.count())
            .select_from(mig_instances)
            .where(mig_instances.c.retiring.is_(False))
        ).scalar_one()
    )
