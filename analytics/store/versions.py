"""Cheap fingerprints of stored state, for caches of answers computed from it.

A fingerprint changes whenever the state an answer read may have changed; it is one small
query, so a cache can check it on every request and never serve an answer older than a change.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, select

from analytics.store.pricebook import gpu_price_overrides
from analytics.store.tables import allocation_events, devices, gpu_prices


def cost_inputs(conn: Connection) -> tuple[Any, ...]:
    """What a cost answer reads besides Prometheus: the ledger (every change is an allocation
    event), the price book (catalogue and settings prices, API overrides) and the devices
    (models, purchase costs)."""
    row = conn.execute(
        select(
            select(func.max(allocation_events.c.event_id)).scalar_subquery(),
            select(func.max(gpu_prices.c.updated_at)).scalar_subquery(),
            select(func.count()).select_from(gpu_price_overrides).scalar_subquery(),
            select(func.max(gpu_price_overrides.c.updated_at)).scalar_subquery(),
            select(func.max(devices.c.updated_at)).scalar_subquery(),
            select(func.count()).select_from(devices).scalar_subquery(),
        )
    ).one()
    return tuple(row)
