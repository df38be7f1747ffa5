"""What the inventory sync reads and writes: the job lease, its last result, device identity and
presence, observed MIG instances, and GPUs whose product the catalogue does not know."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, or_, select, update

from analytics.store.devices import active_allocation
from analytics.store.tables import (
    allocations,
    devices,
    mig_instances,
    sync_state,
    unrecognized_gpus,
)


@dataclass(frozen=True)
class SyncStateRecord:
    name: str
    holder: str | None
    lease_expires_at: datetime | None
    last_started_at: datetime | None
    last_finished_at: datetime | None
    last_trigger: str | None
    last_status: str | None
    last_result: str | None


def state(conn: Connection, name: str) -> SyncStateRecord:
    row = conn.execute(select(sync_state).where(sync_state.c.name == name)).first()
    if row is None:
        return SyncStateRecord(name, None, None, None, None, None, None, None)
    return SyncStateRecord(**row._mapping)


def acquire_lease(
    conn: Connection, name: str, holder: str, now: datetime, expires_at: datetime
) -> bool:
    """Take the job's lease if it is free, expired or already ours; True when taken.

    One conditional UPDATE: atomic on every backend, so at most one holder across all
    processes and replicas sharing the database.
    """
    if conn.execute(select(sync_state.c.name).where(sync_state.c.name == name)).first() is None:
        conn.execute(insert(sync_state).values(name=name))
    result = conn.execute(
        update(sync_state)
        .where(sync_state.c.name == name)
        .where(
            or_(
                sync_state.c.holder.is_(None),
                sync_state.c.lease_expires_at.is_(None),
                sync_state.c.lease_expires_at <= now,
                sync_state.c.holder == holder,
            )
        )
        .values(holder=holder, lease_expires_at=expires_at, last_started_at=now)
    )
    return bool(result.rowcount == 1)


def finish(
    conn: Connection,
    name: str,
    holder: str,
    finished_at: datetime,
    trigger: str,
    status: str,
    result_json: str,
) -> None:
    """Record the run's outcome and release the lease (only if still ours)."""
    conn.execute(
        update(sync_state)
        .where(sync_state.c.name == name)
        .where(sync_state.c.holder == holder)
        .values(
            holder=None,
            lease_expires_at=None,
            last_finished_at=finished_at,
            last_trigger=trigger,
            last_status=status,
            last_result=result_json,
        )
    )


# -- devices ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class InventoryRow:
    device_id: str
    node_name: str
    device_index: int
    model_id: str
    status: str
    gpu_uuid: str | None
    serial_number: str | None
    pci_address: str | None
    driver_version: str | None
    firmware_version: str | None
    product_name: str | None
    presence: str | None


def inventory_rows(conn: Connection, nodes: Sequence[str] | None = None) -> list[InventoryRow]:
    columns = [devices.c[name] for name in InventoryRow.__dataclass_fields__]
    query = select(*columns)
    if nodes is not None:
        query = query.where(devices.c.node_name.in_(list(nodes)))
    return [InventoryRow(**row._mapping) for row in conn.execute(query)]


def update_device(
    conn: Connection, device_id: str, values: Mapping[str, Any], now: datetime
) -> None:
    conn.execute(
        update(devices).where(devices.c.device_id == device_id).values(**values, updated_at=now)
    )


def touch_seen(conn: Connection, device_ids: Iterable[str], now: datetime) -> None:
    """Set last_seen_at of the reported devices (one statement per batch)."""
    ids = [{"target": device_id} for device_id in device_ids]
    if ids:
        conn.execute(
            update(devices)
            .where(devices.c.device_id == bindparam("target"))
            .values(last_seen_at=now),
            ids,
        )


# -- MIG -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MigRow:
    instance_id: str
    device_id: str
    profile: str
    start_slice: int
    memory_slices: int
    compute_slices: int
    desired: bool
    observed: bool
    mig_uuid: str | None
    gpu_instance_id: int | None
    compute_instance_id: int | None
    # Deleted from the desired layout, still reported (analytics.store.mig.retire_instances).
    retiring: bool


def mig_rows(conn: Connection, device_ids: Sequence[str]) -> list[MigRow]:
    if not device_ids:
        return []
    columns = [mig_instances.c[name] for name in MigRow.__dataclass_fields__]
    query = (
        select(*columns)
        .where(mig_instances.c.device_id.in_(list(device_ids)))
        .order_by(mig_instances.c.device_id, mig_instances.c.instance_id)
    )
    return [MigRow(**row._mapping) for row in conn.execute(query)]


def update_mig_instance(conn: Connection, instance_id: str, values: Mapping[str, Any]) -> None:
    conn.execute(
        update(mig_instances).where(mig_instances.c.instance_id == instance_id).values(**values)
    )


def delete_mig_instances(conn: Connection, instance_ids: Sequence[str]) -> None:
    if instance_ids:
        conn.execute(
            delete(mig_instances).where(mig_instances.c.instance_id.in_(list(instance_ids)))
        )


def held_resources(conn: Connection, now: datetime) -> set[str]:
    """Resource ids (devices and MIG instances) that a live allocation holds."""
    query = select(allocations.c.resource_id).where(active_allocation(now))
    return {row.resource_id for row in conn.execute(query)}


# -- unrecognised GPUs -----------------------------------------------------------------------


@dataclass(frozen=True)
class UnrecognizedGpu:
    gpu_uuid: str
    node_name: str
    device_index: int
    product_name: str
    first_seen_at: datetime
    last_seen_at: datetime


def record_unrecognized(
    conn: Connection, gpu_uuid: str, node_name: str, device_index: int, product: str, now: datetime
) -> bool:
    """Remember a GPU of an unknown product; True when it is new."""
    existing = conn.execute(
        select(unrecognized_gpus.c.gpu_uuid).where(unrecognized_gpus.c.gpu_uuid == gpu_uuid)
    ).first()
    values = {
        "node_name": node_name,
        "device_index": device_index,
        "product_name": product,
        "last_seen_at": now,
    }
    if existing is None:
        conn.execute(
            insert(unrecognized_gpus).values(gpu_uuid=gpu_uuid, first_seen_at=now, **values)
        )
        return True
    conn.execute(
        update(unrecognized_gpus).where(unrecognized_gpus.c.gpu_uuid == gpu_uuid).values(**values)
    )
    return False


def unrecognized(conn: Connection) -> list[UnrecognizedGpu]:
    query = select(unrecognized_gpus).order_by(
        unrecognized_gpus.c.node_name, unrecognized_gpus.c.device_index
    )
    return [UnrecognizedGpu(**row._mapping) for row in conn.execute(query)]
