"""The model catalogue as the services read it (loaded once per process)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from analytics.errors import InvalidParameter
from analytics.store import catalog as catalog_store
from analytics.store.catalog import ModelRecord
from analytics.store.db import Database


class Catalogue:
    """The GPU models (memory, architecture, MIG support, overheating threshold), read once per
    worker: they change only with a migration. A model's price is not read here but from
    PriceBook.hourly_prices, which sees prices set through the API at once."""

    def __init__(self, database: Database) -> None:
        with database.read() as conn:
            self._models = catalog_store.models(conn)
        self._memory_gb = MappingProxyType({k: m.memory_gb for k, m in self._models.items()})

    @property
    def models(self) -> dict[str, ModelRecord]:
        return dict(self._models)

    @property
    def memory_gb(self) -> Mapping[str, float]:
        """Each model's memory in GB, by model id (read-only)."""
        return self._memory_gb

    def model(self, model_id: str) -> ModelRecord:
        try:
            return self._models[model_id]
        except KeyError:
            raise InvalidParameter(
                f"Unknown GPU model {model_id!r}.",
                {"modelId": model_id, "knownModels": sorted(self._models)},
            ) from None

    def find(self, model_id: str) -> ModelRecord | None:
        return self._models.get(model_id)
