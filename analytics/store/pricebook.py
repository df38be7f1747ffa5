"""Price-book overrides set through the API (admin), kept apart from the catalogue's prices.

The ``gpu_prices`` table is rewritten from the catalogue and the settings at every start-up
(store.catalog.sync_catalogue); a price set through the API must survive restarts, so it lives
here and wins over both.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Column, Connection, Float, ForeignKey, String, Table, delete, insert, select

from analytics.store.tables import devices, metadata
from analytics.store.types import UtcDateTime

# Migration 0003_cost creates it.
gpu_price_overrides = Table(
    "gpu_price_overrides",
    metadata,
    Column("model_id", String(64), ForeignKey("gpu_models.model_id"), primary_key=True),
    Column("price_per_hour", Float, nullable=False),
    # Where the number came from, as the admin stated it (a quote, a contract, a tariff).
    Column("source", String(256), nullable=False),
    Column("set_by", String(160)),
    Column("updated_at", UtcDateTime, nullable=False),
)


@dataclass(frozen=True)
class PriceOverride:
    model_id: str
    price_per_hour: float
    source: str
    set_by: str | None
    updated_at: datetime


def overrides(conn: Connection) -> dict[str, PriceOverride]:
    return {
        row.model_id: PriceOverride(
            row.model_id, row.price_per_hour, row.source, row.set_by, row.updated_at
        )
        for row in conn.execute(select(gpu_price_overrides))
    }


def put_override(conn: Connection, override: PriceOverride) -> None:
    """Insert or replace the model's override (inside the caller's write transaction)."""
    delete_override(conn, override.model_id)
    conn.execute(
        insert(gpu_price_overrides).values(
            model_id=override.model_id,
            price_per_hour=override.price_per_hour,
            source=override.source,
            set_by=override.set_by,
            updated_at=override.updated_at,
        )
    )


def delete_override(conn: Connection, model_id: str) -> bool:
    result = conn.execute(
        delete(gpu_price_overrides).where(gpu_price_overrides.c.model_id == model_id)
    )
    return bool(result.rowcount)


def purchase_costs(conn: Connection) -> dict[str, float]:
    """Purchase cost (USD) of every registered device that has one, by device id and by uuid."""
    query = select(devices.c.device_id, devices.c.gpu_uuid, devices.c.purchase_cost).where(
        devices.c.purchase_cost.is_not(None)
    )
    costs: dict[str, float] = {}
    for row in conn.execute(query):
        costs[row.device_id] = float(row.purchase_cost)
        if row.gpu_uuid:
            costs[row.gpu_uuid] = float(row.purchase_cost)
    return costs
