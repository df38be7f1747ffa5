"""The allocation ledger: inserts guarded by the active-resource unique index, queries, expiry."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, case, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement

from analytics.paging import PageRequest
from analytics.store.devices import ALLOCATED, active_allocation
from analytics.store.holders import device_holders
from analytics.store.paging import page_rows
from analytics.store.pricebook import gpu_price_overrides
from analytics.store.rows import record, records
from analytics.store.tables import allocation_events, allocations, devices, mig_instances

ACTIVE_INDEX = "uq_allocations_active_resource"


class ResourceTaken(Exception):
    """Another transaction holds an active allocation on this resource (unique index)."""


@dataclass(frozen=True)
class AllocationRecord:
    allocation_id: str
    resource_type: str
    resource_id: str
    device_id: str
    node_name: str
    model_id: str
    mig_profile: str | None
    namespace: str
    pod_name: str
    container_name: str | None
    workload_type: str | None
    user_id: str | None
    team_id: str | None
    project_id: str | None
    batch_id: str | None
    required_memory_gb: float
    allocated_memory_gb: float
    cost_per_hour: float
    max_cost_per_hour: float | None
    status: str
    allocation_time: datetime
    planned_release_time: datetime | None
    release_time: datetime | None
    cost_accrued: float | None


@dataclass(frozen=True)
class AllocationEvent:
    status: str
    at: datetime
    actor: str | None


@dataclass(frozen=True)
class Candidate:
    """A device or MIG instance free to allocate, with what pricing and placement need."""

    resource_type: str
    resource_id: str
    device_id: str
    node_name: str
    device_index: int
    model_id: str
    memory_gb: float
    mig_profile: str | None
    compute_slices: int | None
    memory_slices: int | None
    observed: bool
    # As the exporter's attribution last showed (store.holders): the requesting pod holds it,
    # another pod holds it.
    held_by_requester: bool = False
    held_by_other: bool = False
    # The price set through the API for its model (the price book), if any: USD per GPU-hour.
    price_override: float | None = None
    # Resources of its class (see CLASS_SAMPLE) the query found, itself included.
    peers: int = 1


# The hot path (allocate/release) runs these prebuilt statements with bound values: building
# a statement per request costs more than executing it.
_NOW: Any = bindparam("now")


def _active_at_now() -> Any:
    return (allocations.c.status == ALLOCATED) & or_(
        allocations.c.planned_release_time.is_(None),
        allocations.c.planned_release_time > _NOW,
    )


_INSERT = insert(allocations)
_INSERT_EVENT = insert(allocation_events)
_END = (
    update(allocations)
    .where(allocations.c.allocation_id == bindparam("b_allocation_id"))
    .where(allocations.c.status == ALLOCATED)
    .values(
        status=bindparam("b_status"),
        release_time=bindparam("b_release_time"),
        cost_accrued=bindparam("b_cost_accrued"),
    )
)
_DUE = (
    select(allocations)
    .where(allocations.c.status == ALLOCATED)
    .where(allocations.c.planned_release_time <= _NOW)
)
_GET = select(allocations).where(allocations.c.allocation_id == bindparam("allocation_id"))
# Who holds each resource, as flags for the requesting pod (bound: namespace, pod): one
# aggregate over the holders, joined once per row (correlated EXISTS would run per reference).
_REQUESTER = (device_holders.c.namespace == bindparam("namespace")) & (
    device_holders.c.pod == bindparam("pod")
)
_HOLDERS = (
    select(
        device_holders.c.resource_id,
        func.max(case((_REQUESTER, 1), else_=0)).label("mine"),
        func.max(case((_REQUESTER, 0), else_=1)).label("other"),
    )
    .group_by(device_holders.c.resource_id)
    .subquery("holders")
)
_HOLDER_FLAGS = (
    func.coalesce(_HOLDERS.c.mine, 0).label("held_by_requester"),
    func.coalesce(_HOLDERS.c.other, 0).label("held_by_other"),
    # The price set through the API for the model (the price book), if any.
    gpu_price_overrides.c.price_per_hour.label("price_override"),
)

# Resources of one class are interchangeable to the allocator (same memory and price: a GPU
# model; for MIG instances a model and profile, seen by the exporter or not): of each class
# only the first few in its order (node, index, id) come back, with the size of the class, so
# an allocation reads O(models) rows, not O(fleet). Resources held by another pod are left out;
# those the requesting pod holds come back in classes of their own, all of them.
CLASS_SAMPLE = 3


def _by_class(query: Any, class_columns: Sequence[str], order_columns: Sequence[str]) -> Any:
    rows = query.subquery()
    partition = [*(rows.c[name] for name in class_columns), rows.c.held_by_requester]
    order = [rows.c[name] for name in order_columns]
    ranked = (
        select(
            rows,
            func.row_number().over(partition_by=partition, order_by=order).label("rank"),
            # The same window (one sort), framed over the whole class.
            func.count()
            .over(partition_by=partition, order_by=order, rows=(None, None))
            .label("peers"),
        )
        .where((rows.c.held_by_other == 0) | (rows.c.held_by_requester == 1))
        .subquery()
    )
    return select(ranked).where((ranked.c.rank <= CLASS_SAMPLE) | (ranked.c.held_by_requester == 1))


# Whole GPUs and MIG instances the allocator may give: ACTIVE GPUs without a MIG layout, and
# instances on ACTIVE or MIG_ENABLED GPUs. _FREE_* are those without a live allocation.
_DEVICE_ROWS = (
    select(
        devices.c.device_id,
        devices.c.node_name,
        devices.c.device_index,
        devices.c.model_id,
        *_HOLDER_FLAGS,
    )
    .select_from(
        devices.outerjoin(_HOLDERS, _HOLDERS.c.resource_id == devices.c.device_id).outerjoin(
            gpu_price_overrides, gpu_price_overrides.c.model_id == devices.c.model_id
        )
    )
    .where(devices.c.status == "ACTIVE")
    .where(devices.c.device_id.not_in(select(mig_instances.c.device_id)))
)
_DEVICE_CLASS = (("model_id",), ("node_name", "device_index", "device_id"))
_DEVICES = _by_class(_DEVICE_ROWS, *_DEVICE_CLASS)
_FREE_DEVICES = _by_class(
    _DEVICE_ROWS.where(
        devices.c.device_id.not_in(select(allocations.c.device_id).where(_active_at_now()))
    ),
    *_DEVICE_CLASS,
)
_MIG_ROWS = (
    select(
        mig_instances.c.instance_id,
        mig_instances.c.device_id,
        mig_instances.c.profile,
        mig_instances.c.memory_gb,
        mig_instances.c.compute_slices,
        mig_instances.c.memory_slices,
        mig_instances.c.observed,
        devices.c.node_name,
        devices.c.device_index,
        devices.c.model_id,
        *_HOLDER_FLAGS,
    )
    .select_from(
        mig_instances.join(devices)
        .outerjoin(_HOLDERS, _HOLDERS.c.resource_id == mig_instances.c.instance_id)
        .outerjoin(gpu_price_overrides, gpu_price_overrides.c.model_id == devices.c.model_id)
    )
    .where(devices.c.status.in_(("ACTIVE", "MIG_ENABLED")))
)
_MIG_CLASS = (("model_id", "profile", "observed"), ("node_name", "device_index", "instance_id"))
_MIG = _by_class(_MIG_ROWS, *_MIG_CLASS)
_FREE_MIG = _by_class(
    _MIG_ROWS.where(
        mig_instances.c.instance_id.not_in(
            select(allocations.c.resource_id).where(_active_at_now())
        )
    ),
    *_MIG_CLASS,
)


def _record(row: Any) -> AllocationRecord:
    return record(AllocationRecord, row)


def insert_allocation(
    conn: Connection, values: Mapping[str, Any], actor: str | None, now: datetime
) -> None:
    """Insert an ALLOCATED row; ResourceTaken when the resource already has one.

    Writers take turns (``Database.write``: SQLite's write lock, PostgreSQL's advisory lock),
    so the candidates a writer read are still free here; the unique index is the backstop for
    a writer that skipped the lock. No savepoint: a refused insert ends the transaction (on
    PostgreSQL it could not go on), and the caller retries it whole.
    """
    try:
        conn.execute(_INSERT, dict(values))
    except IntegrityError as exc:
        if "resource_id" in str(exc.orig) or ACTIVE_INDEX in str(exc.orig):
            raise ResourceTaken(values["resource_id"]) from exc
        raise
    record_event(conn, values["allocation_id"], "ALLOCATED", now, actor)


def record_event(
    conn: Connection, allocation_id: str, status: str, at: datetime, actor: str | None
) -> None:
    conn.execute(
        _INSERT_EVENT,
        {"allocation_id": allocation_id, "status": status, "at": at, "actor": actor},
    )


def end_allocation(
    conn: Connection,
    record: AllocationRecord,
    status: str,
    at: datetime,
    cost_accrued: float,
    actor: str | None,
) -> None:
    conn.execute(
        _END,
        {
            "b_allocation_id": record.allocation_id,
            "b_status": status,
            "b_release_time": at,
            "b_cost_accrued": cost_accrued,
        },
    )
    record_event(conn, record.allocation_id, status, at, actor)


def due_for_expiry(conn: Connection, now: datetime) -> list[AllocationRecord]:
    return records(AllocationRecord, conn.execute(_DUE, {"now": now}))


def get_allocation(conn: Connection, allocation_id: str) -> AllocationRecord | None:
    row = conn.execute(_GET, {"allocation_id": allocation_id}).first()
    return _record(row) if row else None


def events(conn: Connection, allocation_id: str) -> list[AllocationEvent]:
    query = (
        select(allocation_events.c.status, allocation_events.c.at, allocation_events.c.actor)
        .where(allocation_events.c.allocation_id == allocation_id)
        .order_by(allocation_events.c.event_id)
    )
    return [AllocationEvent(row.status, row.at, row.actor) for row in conn.execute(query)]


def list_allocations(
    conn: Connection,
    now: datetime,
    *,
    active_only: bool,
    status: str | None = None,
    filters: Mapping[str, str | None] | None = None,
    planned_before: datetime | None = None,
    overlapping_since: datetime | None = None,
) -> list[AllocationRecord]:
    """Ledger rows by allocation time, then id (a unique key); ``active_only`` reads expiry from
    the clock, not from the stored status."""
    where = _ledger_filters(now, active_only, status, filters, planned_before, overlapping_since)
    return records(AllocationRecord, conn.execute(_ledger(where)))


def page_allocations(
    conn: Connection,
    now: datetime,
    page: PageRequest,
    *,
    active_only: bool,
    filters: Mapping[str, str | None] | None = None,
) -> tuple[list[AllocationRecord], int]:
    """``page`` of :func:`list_allocations` and how many rows it has in all."""
    where = _ledger_filters(now, active_only, None, filters, None, None)
    rows, total = page_rows(conn, _ledger(where), page)
    return records(AllocationRecord, rows), total


def _ledger(where: list[ColumnElement[bool]]) -> Any:
    return (
        select(allocations)
        .where(*where)
        .order_by(allocations.c.allocation_time, allocations.c.allocation_id)
    )


def _ledger_filters(
    now: datetime,
    active_only: bool,
    status: str | None,
    filters: Mapping[str, str | None] | None,
    planned_before: datetime | None,
    overlapping_since: datetime | None,
) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = []
    if active_only:
        found.append(active_allocation(now))
    elif status is not None:
        found.append(allocations.c.status == status)
    for column, value in (filters or {}).items():
        if value is not None:
            found.append(allocations.c[column] == value)
    if planned_before is not None:
        found.append(allocations.c.planned_release_time <= planned_before)
    if overlapping_since is not None:
        found.append(
            (allocations.c.release_time.is_(None))
            | (allocations.c.release_time > overlapping_since)
        )
    return found


def free_devices(
    conn: Connection,
    now: datetime,
    memory_gb: Mapping[str, float],
    requester: tuple[str, str],
    *,
    taken_too: bool = False,
) -> list[Candidate]:
    """Whole GPUs to allocate: ACTIVE, no MIG layout, no live allocation (``taken_too``: with
    or without one), none held by a pod other than ``requester`` (namespace, pod); a sample of
    each class (CLASS_SAMPLE). ``memory_gb``: each model's memory, by model id."""
    namespace, pod = requester
    return [
        Candidate(
            "GPU",
            row.device_id,
            row.device_id,
            row.node_name,
            row.device_index,
            row.model_id,
            memory_gb[row.model_id],
            None,
            None,
            None,
            True,
            bool(row.held_by_requester),
            bool(row.held_by_other),
            row.price_override,
            row.peers,
        )
        for row in conn.execute(
            _DEVICES if taken_too else _FREE_DEVICES,
            {"now": now, "namespace": namespace, "pod": pod},
        )
    ]


def free_mig_instances(
    conn: Connection, now: datetime, requester: tuple[str, str], *, taken_too: bool = False
) -> list[Candidate]:
    """MIG instances to allocate (desired or observed) on ACTIVE or MIG_ENABLED devices, without
    a live allocation (``taken_too``: with or without one); the rest as for devices."""
    namespace, pod = requester
    return [
        Candidate(
            "MIG_INSTANCE",
            row.instance_id,
            row.device_id,
            row.node_name,
            row.device_index,
            row.model_id,
            row.memory_gb,
            row.profile,
            row.compute_slices,
            row.memory_slices,
            row.observed,
            bool(row.held_by_requester),
            bool(row.held_by_other),
            row.price_override,
            row.peers,
        )
        for row in conn.execute(
            _MIG if taken_too else _FREE_MIG, {"now": now, "namespace": namespace, "pod": pod}
        )
    ]


def active_on_resources(conn: Connection, resource_ids: Sequence[str], now: datetime) -> int:
    if not resource_ids:
        return 0
    query = (
        select(allocations.c.allocation_id)
        .where(allocations.c.resource_id.in_(list(resource_ids)))
        .where(active_allocation(now))
    )
    return len(conn.execute(query).all())


def count_active(conn: Connection, now: datetime) -> int:
    """Allocations holding their resource at ``now``."""
    query = select(func.count()).select_from(allocations).where(active_allocation(now))
    return int(conn.execute(query).scalar_one())


@dataclass(frozen=True)
class IdleGpu:
    """A GPU that MIG on demand may carve: nothing on it, nobody holding it."""

    device_id: str
    node_name: str
    device_index: int
    model_id: str
    # The price set through the API for its model (the price book), if any: USD per GPU-hour.
    price_override: float | None


_IDLE_GPU = (
    select(
        devices.c.device_id,
        devices.c.node_name,
        devices.c.device_index,
        devices.c.model_id,
        gpu_price_overrides.c.price_per_hour.label("price_override"),
    )
    .select_from(
        devices.outerjoin(gpu_price_overrides, gpu_price_overrides.c.model_id == devices.c.model_id)
    )
    .where(devices.c.model_id == bindparam("model_id"))
    .where(devices.c.status.in_(("ACTIVE", "MIG_ENABLED")))
    # A GPU the exporter has lost or no longer reports is not one to repartition.
    .where(or_(devices.c.presence.is_(None), devices.c.presence == "REPORTED"))
    .where(devices.c.device_id.not_in(select(mig_instances.c.device_id)))
    .where(devices.c.device_id.not_in(select(allocations.c.device_id).where(_active_at_now())))
    .where(devices.c.device_id.not_in(select(device_holders.c.resource_id)))
    .order_by(devices.c.node_name, devices.c.device_index)
    .limit(1)
)


def idle_gpu(conn: Connection, now: datetime, model_id: str) -> IdleGpu | None:
    """The first GPU (by node, index) of ``model_id`` that is ACTIVE or MIG_ENABLED, reported
    (or registered by hand and never reported), has no MIG instance (desired or observed), no
    live allocation on it or on anything of it, and no pod holding it as the exporter's
    attribution last showed; None when there is none. A GPU with a MIG layout is never
    offered: its instances are the allocator's, and one of them may be in use."""
    row = conn.execute(_IDLE_GPU, {"model_id": model_id, "now": now}).first()
    return record(IdleGpu, row) if row is not None else None
