"""Query rows to the store's frozen record dataclasses."""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

R = TypeVar("R")
_FIELDS: dict[type[Any], tuple[str, ...]] = {}


def record(cls: type[R], row: Any) -> R:
    """``cls`` (a dataclass) built from the row's columns of the same names (the row may have
    more). Lists of thousands of rows build thousands of records: the names are looked up
    once per class, and the row's mapping once per row."""
    names = _FIELDS.get(cls)
    if names is None:
        names = _FIELDS[cls] = tuple(field.name for field in dataclasses.fields(cls))  # type: ignore[arg-type]
    mapping = row._mapping  # a new RowMapping on every access
    return cls(**{name: mapping[name] for name in names})
