"""The model catalogue and price book as the services read them (loaded once per process)."""

from __future__ import annotations

from analytics.errors import InvalidParameter
from analytics.store import catalog as catalog_store
from analytics.store.catalog import ModelRecord
from analytics.store.db import Database


class Catalogue:
    """Models and their current prices. The book changes only at start-up (settings), so each
    worker reads it once instead of on every allocation."""

    def __init__(self, database: Database) -> None:
        with database.read() as conn:
            self._models = catalog_store.models(conn)

    @property
    def models(self) -> dict[str, ModelRecord]:
        return dict(self._models)

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
