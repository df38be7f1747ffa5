"""Pages of fleet-wide lists: what the service says of the whole list when asked for one page.

List methods that take ``page`` and ``size`` return a :class:`Page`, a ``list`` of the rows
(so code written for whole lists keeps working) with ``pagination``: None when the whole list
was asked for, else the service's :class:`Pagination`. Pages count from 1; a page past the end
is empty and still carries the total.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TypeVar

from k8s_gpu_client.models._base import ApiModel

_T = TypeVar("_T")


@dataclass(kw_only=True)
class Pagination(ApiModel):
    """The ``pagination`` member of a paged answer."""

    page: int | None = None
    size: int | None = None
    total_elements: int | None = None
    total_pages: int | None = None


@dataclass(kw_only=True)
class PagedModel(ApiModel):
    """An object holding a fleet-wide list, which a page and size cut to one page."""

    # "envelope": the envelope carries it beside data; not read from data, nor in to_api().
    pagination: Pagination | None = field(default=None, compare=False, metadata={"envelope": True})
    """None for the whole list, else this page and the size of the whole list."""


class Page(list[_T]):
    """The rows of one page (or of the whole list), and ``pagination`` when a page was asked."""

    def __init__(self, rows: Iterable[_T] = (), pagination: Pagination | None = None) -> None:
        super().__init__(rows)
        self.pagination = pagination

    @property
    def total_elements(self) -> int:
        """Rows in the whole list: the service's count, or this list's length when whole."""
        if self.pagination is not None and self.pagination.total_elements is not None:
            return self.pagination.total_elements
        return len(self)

    @property
    def total_pages(self) -> int:
        """Pages in the whole list (1 for a whole, non-empty list)."""
        if self.pagination is not None and self.pagination.total_pages is not None:
            return self.pagination.total_pages
        return 1 if self else 0

    def __repr__(self) -> str:
        return f"Page({list.__repr__(self)}, pagination={self.pagination!r})"
