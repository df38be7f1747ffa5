"""The model catalogue and price book tables: seeding from gpucatalog and reading prices."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, insert, select, update

from analytics.store.tables import gpu_models, gpu_prices
from gpucatalog import MODELS

CATALOGUE_PRICE_AS_OF = "2026"
OVERRIDE_SOURCE = "settings override (GPU_ANALYTICS_PRICE_OVERRIDES)"


@dataclass(frozen=True)
class ModelRecord:
    model_id: str
    model_name: str
    memory_gb: float
    architecture: str
    mig_support: bool
    overheat_threshold_c: float
    price_per_hour: float | None
    price_source: str
    price_as_of: str


def sync_catalogue(conn: Connection, price_overrides: Mapping[str, float], now: datetime) -> None:
    """Insert models the table lacks; set prices to the catalogue default or the override.

    A price already in the book from an earlier override is replaced by the catalogue default
    once the override is removed, so the book always shows where its number came from.
    """
    existing = {row.model_id for row in conn.execute(select(gpu_models.c.model_id))}
    prices = {row.model_id: row for row in conn.execute(select(gpu_prices))}
    for model in MODELS:
        if model.model_id not in existing:
            conn.execute(
                insert(gpu_models).values(
                    model_id=model.model_id,
                    model_name=model.display_name,
                    memory_gb=float(model.memory_gb),
                    architecture=model.architecture,
                    mig_support=model.mig_capable,
                    overheat_threshold_c=model.overheat_threshold_c,
                )
            )
        wanted: tuple[float | None, str]
        if model.model_id in price_overrides:
            wanted = (price_overrides[model.model_id], OVERRIDE_SOURCE)
            as_of = now.date().isoformat()
        else:
            wanted = (model.default_price_per_hour, model.price_source)
            as_of = CATALOGUE_PRICE_AS_OF
        current = prices.get(model.model_id)
        values = {
            "price_per_hour": wanted[0],
            "source": wanted[1],
            "as_of": as_of,
            "updated_at": now,
        }
        if current is None:
            conn.execute(insert(gpu_prices).values(model_id=model.model_id, **values))
        elif (current.price_per_hour, current.source) != wanted:
            conn.execute(
                update(gpu_prices).where(gpu_prices.c.model_id == model.model_id).values(**values)
            )


def models(conn: Connection) -> dict[str, ModelRecord]:
    query = select(
        gpu_models,
        gpu_prices.c.price_per_hour,
        gpu_prices.c.source,
        gpu_prices.c.as_of,
    ).select_from(gpu_models.outerjoin(gpu_prices))
    return {
        row.model_id: ModelRecord(
            row.model_id,
            row.model_name,
            row.memory_gb,
            row.architecture,
            row.mig_support,
            row.overheat_threshold_c,
            row.price_per_hour,
            row.source or "",
            row.as_of or "",
        )
        for row in conn.execute(query)
    }
