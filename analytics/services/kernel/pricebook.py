"""The price book: USD per GPU-hour of each model, where each number came from, and the price
of one device (book price, or on-prem amortisation of its purchase cost).

Precedence, highest first: a price set through the API (``PUT /gpu/cost/prices/{modelId}``,
admin; kept in its own table, so it survives restarts), the ``price_overrides`` setting, the
catalogue's default (gpucatalog/models.py: median public on-demand offers, 2026). The book is read
from the database on every use, so a change made through one gunicorn worker holds in all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from analytics.clock import Clock
from analytics.errors import ResourceNotFound
from analytics.services.kernel.pricing import mig_share
from analytics.settings import MigPricing
from analytics.store import catalog as catalog_store
from analytics.store import pricebook as pricebook_store
from analytics.store.db import Database
from gpucatalog import model_by_id

HOURS_PER_YEAR = 8760.0
PriceOrigin = Literal["api", "settings", "catalogue"]


@dataclass(frozen=True)
class ModelPrice:
    model_id: str
    model_name: str
    memory_gb: float
    architecture: str
    mig_support: bool
    price_per_hour: float | None
    source: str
    as_of: str
    origin: PriceOrigin
    catalogue_price_per_hour: float | None
    catalogue_source: str
    set_by: str | None = None


@dataclass(frozen=True)
class DevicePrice:
    """What one GPU costs per hour, and on what basis."""

    price_per_hour: float
    basis: Literal["book", "amortized", "unpriced"]
    source: str


class PriceBook:
    def __init__(
        self,
        database: Database,
        clock: Clock,
        mig_pricing: MigPricing,
        amortization_lifetime_years: float = 0.0,
    ) -> None:
        self._db = database
        self._clock = clock
        self.mig_pricing: MigPricing = mig_pricing
        self.amortization_lifetime_years = amortization_lifetime_years

    # -- reading ----------------------------------------------------------------------------

    def prices(self, conn: Any | None = None) -> dict[str, ModelPrice]:
        """Every model with its effective price, by model id; read on ``conn`` when the caller
        holds a transaction already."""
        if conn is None:
            with self._db.read() as own:
                return self.prices(own)
        models = catalog_store.models(conn)
        overrides = pricebook_store.overrides(conn)
        book: dict[str, ModelPrice] = {}
        for model_id, model in sorted(models.items()):
            default: float | None
            try:
                catalogue = model_by_id(model_id)
                default, default_source = catalogue.default_price_per_hour, catalogue.price_source
            except KeyError:
                default, default_source = None, ""
            override = overrides.get(model_id)
            price: float | None
            if override is not None:
                price, source = override.price_per_hour, override.source
                as_of = override.updated_at.date().isoformat()
                origin: PriceOrigin = "api"
            else:
                price, source, as_of = model.price_per_hour, model.price_source, model.price_as_of
                origin = "settings" if source == catalog_store.OVERRIDE_SOURCE else "catalogue"
            book[model_id] = ModelPrice(
                model_id=model_id,
                model_name=model.model_name,
                memory_gb=model.memory_gb,
                architecture=model.architecture,
                mig_support=model.mig_support,
                price_per_hour=price,
                source=source,
                as_of=as_of,
                origin=origin,
                catalogue_price_per_hour=default,
                catalogue_source=default_source,
                set_by=override.set_by if override is not None else None,
            )
        return book

    def hourly_prices(self, conn: Any | None = None) -> dict[str, float | None]:
        """Each model's price per GPU-hour as everything is charged and shown (an API price,
        else the settings', else the catalogue's), by model id: the one price lookup of the
        inventory, MIG, allocation and overview answers, read per request so a price set
        through any worker holds at once."""
        return {model_id: entry.price_per_hour for model_id, entry in self.prices(conn).items()}

    def price(self, model_id: str) -> ModelPrice:
        book = self.prices()
        if model_id not in book:
            raise _unknown(model_id, book)
        return book[model_id]

    def device_price(
        self, book: dict[str, ModelPrice], model_id: str, purchase_cost: float | None
    ) -> DevicePrice:
        """A device's hourly price: amortised purchase cost when that is configured and known,
        else its model's book price; 0 ("unpriced") for a model without a price."""
        if self.amortization_lifetime_years > 0 and purchase_cost:
            hours = self.amortization_lifetime_years * HOURS_PER_YEAR
            return DevicePrice(
                purchase_cost / hours,
                "amortized",
                f"purchaseCost {purchase_cost:g} USD over "
                f"{self.amortization_lifetime_years:g} years",
            )
        entry = book.get(model_id)
        if entry is None or entry.price_per_hour is None:
            return DevicePrice(0.0, "unpriced", "no price in the book")
        return DevicePrice(entry.price_per_hour, "book", entry.source)

    def share(self, model_id: str, compute_slices: int, memory_slices: int) -> float:
        """The fraction of its GPU a MIG instance is charged (the ``mig_pricing`` rule)."""
        return mig_share(model_id, compute_slices, memory_slices, self.mig_pricing)

    # -- changing ---------------------------------------------------------------------------

    def set_price(
        self, model_id: str, price_per_hour: float, source: str | None, actor: str | None
    ) -> ModelPrice:
        book = self.prices()
        if model_id not in book:
            raise _unknown(model_id, book)
        override = pricebook_store.PriceOverride(
            model_id=model_id,
            price_per_hour=float(price_per_hour),
            source=source or "set through the API",
            set_by=actor,
            updated_at=self._clock.now(),
        )
        self._db.write(lambda conn: pricebook_store.put_override(conn, override))
        return self.price(model_id)

    def clear_price(self, model_id: str) -> ModelPrice:
        """Remove the API override: the settings override or the catalogue price applies."""
        book = self.prices()
        if model_id not in book:
            raise _unknown(model_id, book)
        self._db.write(lambda conn: pricebook_store.delete_override(conn, model_id))
        return self.price(model_id)

    def purchase_costs(self) -> dict[str, float]:
        """Purchase costs of registered devices, by device id and by uuid (amortisation)."""
        if self.amortization_lifetime_years <= 0:
            return {}
        with self._db.read() as conn:
            return pricebook_store.purchase_costs(conn)


def _unknown(model_id: str, book: dict[str, ModelPrice]) -> ResourceNotFound:
    return ResourceNotFound(
        f"GPU model {model_id} is not in the price book.",
        {"modelId": model_id, "knownModels": sorted(book)},
    )
