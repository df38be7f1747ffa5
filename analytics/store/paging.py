"""One page of a query's rows in SQL (LIMIT/OFFSET) and the count of all of them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row, func, select

from analytics.paging import PageRequest


def page_rows(conn: Connection, query: Any, page: PageRequest) -> tuple[Sequence[Row[Any]], int]:
    """``page`` of ``query`` (which must have a total ORDER BY) and the rows of the whole query.

    The count is a second statement in the same transaction; a first page shorter than the page
    size is the whole list, so it needs none.
    """
    rows = conn.execute(query.limit(page.size).offset(page.offset)).all()
    if page.number == 1 and len(rows) < page.size:
        return rows, len(rows)
    counted = select(func.count()).select_from(query.order_by(None).subquery())
    return rows, int(conn.execute(counted).scalar_one())
