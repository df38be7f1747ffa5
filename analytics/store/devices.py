"""The devices table: registration, lookups with allocation state, status changes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, exists, func, insert, literal_column, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement

from analytics.paging import PageRequest
from analytics.store.holders import held
from analytics.store.paging import page_rows
from analytics.store.rows import record, records
from analytics.store.tables import allocations, devices, mig_instances


class DuplicateDevice(Exception):
    """A device with this id, node/index or GPU UUID is already registered."""


@dataclass(frozen=True)
class DeviceRecord:
    device_id: str
    node_name: str
    device_index: int
    model_id: str
    status: str
    serial_number: str | None
    pci_address: str | None
    gpu_uuid: str | None
    driver_version: str | None
    firmware_version: str | None
    purchase_cost: float | None
    purchase_date: datetime | None
    warranty_expiry_date: datetime | None
    source: str
    registered_at: datetime
    updated_at: datetime
    last_seen_at: datetime | None
    product_name: str | None
    presence: str | None
    # Not free to allocate: a live ledger allocation or a pod holding it (see taken()).
    allocated: bool
    mig_instance_count: int


# 'ALLOCATED' written into the SQL, not bound: SQLite re-prepares a statement at every run when
# a bound value could make a partial index usable (uq_allocations_active_resource is one, on
# status = 'ALLOCATED'): 50-250 us a statement, most of an allocation's SQL time.
ALLOCATED: ColumnElement[str] = literal_column("'ALLOCATED'")


def active_allocation(now: datetime) -> ColumnElement[bool]:
    """An allocation that holds its resource at ``now`` (expiry may not be written yet)."""
    return (allocations.c.status == ALLOCATED) & or_(
        allocations.c.planned_release_time.is_(None),
        allocations.c.planned_release_time > now,
    )


def taken(now: datetime) -> ColumnElement[bool]:
    """The device is not free to allocate, as the allocator sees it: a live ledger allocation
    on it or one of its MIG instances, or a pod holding it or one of its MIG instances."""
    ledger = (
        exists().where(allocations.c.device_id == devices.c.device_id).where(active_allocation(now))
    )
    held_slice = (
        exists()
        .where(mig_instances.c.device_id == devices.c.device_id)
        .where(held(mig_instances.c.instance_id))
    )
    return ledger | held(devices.c.device_id) | held_slice


def _query(now: datetime) -> Any:
    allocated = taken(now)
    mig_count = (
        select(func.count())
        .where(mig_instances.c.device_id == devices.c.device_id)
        .scalar_subquery()
    )
    return select(
        devices, allocated.label("allocated"), mig_count.label("mig_instance_count")
    ).order_by(devices.c.node_name, devices.c.device_index)


def _record(row: Any) -> DeviceRecord:
    return record(DeviceRecord, row)


def insert_device(conn: Connection, values: Mapping[str, Any]) -> None:
    try:
        with conn.begin_nested():
            conn.execute(insert(devices).values(**values))
    except IntegrityError as exc:
        raise DuplicateDevice(str(exc.orig)) from exc


def find_conflict(conn: Connection, device_id: str, gpu_uuid: str | None) -> str | None:
    """Which registered device clashes with a new one (same id or same GPU UUID), if any."""
    condition = devices.c.device_id == device_id
    if gpu_uuid:
        condition = condition | (devices.c.gpu_uuid == gpu_uuid)
    return conn.execute(select(devices.c.device_id).where(condition)).scalar()


def get_device(conn: Connection, device_id: str, now: datetime) -> DeviceRecord | None:
    row = conn.execute(_query(now).where(devices.c.device_id == device_id)).first()
    return _record(row) if row else None


def lock_device(conn: Connection, device_id: str, now: datetime) -> DeviceRecord | None:
    """The device, row-locked for the rest of the transaction where the backend has row locks."""
    row = conn.execute(
        _query(now).where(devices.c.device_id == device_id).with_for_update(of=devices)
    ).first()
    return _record(row) if row else None


@dataclass(frozen=True)
class DeviceFilter:
    """Which devices a list shows; ``free_only``: not taken()."""

    node_name: str | None = None
    model_id: str | None = None
    statuses: tuple[str, ...] | None = None
    free_only: bool = False

    def where(self, now: datetime) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = []
        if self.node_name is not None:
            found.append(devices.c.node_name == self.node_name)
        if self.model_id is not None:
            found.append(devices.c.model_id == self.model_id)
        if self.statuses is not None:
            found.append(devices.c.status.in_(self.statuses))
        if self.free_only:
            found.append(~taken(now))
        return found


def list_devices(
    conn: Connection, now: datetime, shown: DeviceFilter = DeviceFilter()
) -> list[DeviceRecord]:
    """Devices in (node_name, device_index) order, a unique key."""
    return records(DeviceRecord, conn.execute(_query(now).where(*shown.where(now))))


def page_devices(
    conn: Connection, now: datetime, page: PageRequest, shown: DeviceFilter = DeviceFilter()
) -> tuple[list[DeviceRecord], int]:
    """``page`` of :func:`list_devices` and how many rows it has in all."""
    rows, total = page_rows(conn, _query(now).where(*shown.where(now)), page)
    return records(DeviceRecord, rows), total


@dataclass(frozen=True)
class FleetRecord:
    """The columns the fleet-wide health and overview read for every device."""

    device_id: str
    node_name: str
    device_index: int
    model_id: str
    status: str
    gpu_uuid: str | None
    presence: str | None
    allocated: bool


def list_fleet(conn: Connection, now: datetime) -> list[FleetRecord]:
    """Every device, few columns: a tenth of :func:`list_devices`' time at 512 devices (most of
    which is building 21-field rows in Python, not SQLite)."""
    query = select(
        devices.c.device_id,
        devices.c.node_name,
        devices.c.device_index,
        devices.c.model_id,
        devices.c.status,
        devices.c.gpu_uuid,
        devices.c.presence,
        taken(now).label("allocated"),
    ).order_by(devices.c.node_name, devices.c.device_index)
    return [FleetRecord(*row) for row in conn.execute(query)]


def set_status(conn: Connection, device_id: str, status: str, now: datetime) -> None:
    conn.execute(
        update(devices)
        .where(devices.c.device_id == device_id)
        .values(status=status, updated_at=now)
    )
