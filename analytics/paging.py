"""Optional pagination of fleet-wide lists: the page a client asked for and the page it gets.

A list endpoint answers the whole list unless the request carries ``page`` or ``size``
(clients expect whole lists). Pages are numbered from 1; ``size`` is rows per page. A page past
the end is empty and still carries the total, so a client can stop on an empty page or on
``page >= totalPages``. Every paged list has a documented, total sort order (ties broken by a
unique key), so consecutive pages neither overlap nor skip rows while the list does not change.

Lists read from the database push the page into SQL (LIMIT/OFFSET and a COUNT); lists built from
Prometheus joined with the inventory are paged after the join, with :meth:`PageRequest.page_of`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")
C = TypeVar("C")

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
# Bounds the OFFSET a request can put into SQL (a billion rows); no list comes near it.
MAX_PAGE = 1_000_000


@dataclass(frozen=True)
class PageRequest:
    """Page ``number`` (1-based) of ``size`` rows."""

    number: int = 1
    size: int = DEFAULT_PAGE_SIZE

    def __post_init__(self) -> None:
        if not 1 <= self.number <= MAX_PAGE or not 1 <= self.size <= MAX_PAGE_SIZE:
            raise ValueError(f"no such page: number {self.number}, size {self.size}")

    @property
    def offset(self) -> int:
        """Rows before this page."""
        return (self.number - 1) * self.size

    def page_of(self, rows: Sequence[T]) -> Page[list[T]]:
        """This page of ``rows``, a complete list in its documented order."""
        return Page(list(rows[self.offset : self.offset + self.size]), self, len(rows))


@dataclass(frozen=True)
class Page(Generic[C]):
    """One page: ``content`` (the page's rows, or an object holding them) and the total."""

    content: C
    request: PageRequest
    total_elements: int

    @property
    def total_pages(self) -> int:
        return -(-self.total_elements // self.request.size)


def paged(rows: Sequence[T], page: PageRequest | None) -> list[T] | Page[list[T]]:
    """``rows`` whole when no page was asked for, else the page of them (paging after a join)."""
    return list(rows) if page is None else page.page_of(rows)


def paged_within(result: dict[str, Any], key: str, page: PageRequest | None) -> Any:
    """``result`` whole, or a page of it where only ``result[key]`` (a list, or a mapping in its
    insertion order) is cut to the page and every other member stays as computed over all rows."""
    if page is None:
        return result
    rows = result[key]
    if isinstance(rows, Mapping):
        cut = page.page_of(list(rows.items()))
        return Page({**result, key: dict(cut.content)}, page, cut.total_elements)
    cut_rows = page.page_of(rows)
    return Page({**result, key: cut_rows.content}, page, cut_rows.total_elements)
