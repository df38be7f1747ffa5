"""Marshmallow fields and helpers every schema uses: UTC timestamps with Z, names without
control characters, descriptions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from marshmallow import ValidationError, fields

from analytics.clock import format_utc, parse_utc
from analytics.text import refused_characters


def doc(description: str, **extra: Any) -> dict[str, Any]:
    """Field metadata for the OpenAPI document: every field says what it is and its unit."""
    return {"description": description, **extra}


class UtcDateTime(fields.Field[datetime]):
    """ISO-8601 in UTC with a ``Z``; input may carry any offset (naive input is taken as UTC)."""

    def _serialize(self, value: datetime | None, attr: Any, obj: Any, **kwargs: Any) -> Any:
        return None if value is None else format_utc(value)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> datetime:
        if not isinstance(value, str):
            raise ValidationError("Not a valid ISO-8601 date-time string.")
        try:
            return parse_utc(value)
        except ValueError as exc:
            raise ValidationError(
                "Not a valid ISO-8601 date-time between the years 1 and 9999 in UTC, "
                "e.g. 2025-08-04T12:00:00Z."
            ) from exc


class Text(fields.String):
    """A string without control, bidirectional-formatting or line-separator characters
    (analytics.text): every name, id, label and other free text a request may carry.
    ``multiline=True`` also takes tab, line feed and carriage return (alert descriptions)."""

    def __init__(self, *args: Any, multiline: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.multiline = multiline

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str:
        text: str = super()._deserialize(value, attr, data, **kwargs)
        refused = refused_characters(text, multiline=self.multiline)
        if refused:
            raise ValidationError(
                "Must not contain control or bidirectional formatting characters: "
                + ", ".join(refused)
                + "."
            )
        return text


class FoldedChoice(Text):
    """One of ``choices``, matched without regard to case and given to the view in the spelling
    listed. The document lists one spelling of each (client generators turn values that differ
    only in case into clashing names)."""

    def __init__(self, choices: Sequence[str], *args: Any, **kwargs: Any) -> None:
        self.choices = tuple(choices)
        self._by_folded = {c.casefold(): c for c in self.choices}
        metadata = {**kwargs.pop("metadata", {}), "enum": list(self.choices)}
        super().__init__(*args, metadata=metadata, **kwargs)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        chosen = self._by_folded.get(text.casefold())
        if chosen is None:
            raise ValidationError(f"Must be one of: {', '.join(self.choices)} (any case).")
        return chosen


def known_gpu_model(model_id: str) -> None:
    """A marshmallow validator: ``model_id`` is in the catalogue. An unknown model in a body is
    VALIDATION_ERROR with the field named (in a query it is the service's INVALID_PARAMETER)."""
    from analytics.api.context import services  # the request's app; fields load without one

    models = services().catalogue.models
    if model_id not in models:
        raise ValidationError(
            f"Unknown GPU model {model_id!r}; known models: {', '.join(sorted(models))}."
        )
