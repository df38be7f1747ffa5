"""Who holds each GPU and MIG instance, as the exporter's pod attribution last showed it.

The inventory sync replaces the rows of the nodes it read; the allocator keeps a resource held
by another pod out of its candidates (the device plugin has already given it away).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    Index,
    String,
    Table,
    delete,
    exists,
    insert,
    select,
)

from analytics.store.tables import metadata
from analytics.store.types import UtcDateTime

# Migration 0004_holders creates it.
device_holders = Table(
    "device_holders",
    metadata,
    # A device id ({node}-GPU-{nn}) or a MIG instance id ({deviceId}-MIG-{nn}).
    Column("resource_id", String(160), primary_key=True),
    Column("namespace", String(253), primary_key=True),
    Column("pod", String(253), primary_key=True),
    Column("node_name", String(253), nullable=False),
    Column("observed_at", UtcDateTime, nullable=False),
    Index("ix_device_holders_node", "node_name"),
)


def held(resource_id: ColumnElement[str]) -> ColumnElement[bool]:
    """Some pod holds ``resource_id`` (a device or MIG instance id), as the exporter last showed:
    the allocator does not give it to anyone else, so no view may call it free."""
    return exists().where(device_holders.c.resource_id == resource_id)


@dataclass(frozen=True)
class Holder:
    resource_id: str
    namespace: str
    pod: str
    node_name: str


def replace_holders(
    conn: Connection, nodes: Sequence[str] | None, rows: Iterable[Holder], now: datetime
) -> None:
    """The holders of ``nodes`` (all nodes when None) become exactly ``rows``."""
    statement = delete(device_holders)
    if nodes is not None:
        statement = statement.where(device_holders.c.node_name.in_(list(nodes)))
    conn.execute(statement)
    unique = {(r.resource_id, r.namespace, r.pod): r for r in rows}
    if unique:
        conn.execute(
            insert(device_holders),
            [
                {
                    "resource_id": r.resource_id,
                    "namespace": r.namespace,
                    "pod": r.pod,
                    "node_name": r.node_name,
                    "observed_at": now,
                }
                for r in unique.values()
            ],
        )


def holders_by_resource(conn: Connection) -> dict[str, set[tuple[str, str]]]:
    """resource id -> {(namespace, pod)} of every held resource."""
    held: dict[str, set[tuple[str, str]]] = {}
    for row in conn.execute(
        select(device_holders.c.resource_id, device_holders.c.namespace, device_holders.c.pod)
    ):
        held.setdefault(row.resource_id, set()).add((row.namespace, row.pod))
    return held
