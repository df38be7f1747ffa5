"""Query rows to the store's frozen record dataclasses."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
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


def records(cls: type[R], rows: Iterable[Any]) -> list[R]:
    """:func:`record` of every row of one result: the columns' positions are found once, from
    the first row, and each record is built from its row's tuple (a fleet of 8,000 devices
    spent a tenth of a second in ``row._mapping``)."""
    names = _FIELDS.get(cls)
    if names is None:
        names = _FIELDS[cls] = tuple(field.name for field in dataclasses.fields(cls))  # type: ignore[arg-type]
    found: list[R] = []
    positions: list[int] | None = None
    for row in rows:
        if positions is None:
            columns = {name: i for i, name in enumerate(row._fields)}
            positions = [columns[name] for name in names]
        found.append(cls(*[row[i] for i in positions]))
    return found
