"""The ``page`` and ``size`` query parameters of fleet-wide lists, and the ``pagination`` member
the success envelope carries when they are given (analytics.paging has the rules)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, post_load, validate

from analytics.api.fields import doc
from analytics.paging import DEFAULT_PAGE_SIZE, MAX_PAGE, MAX_PAGE_SIZE, Page, PageRequest


class PageQuerySchema(Schema):
    page = fields.Integer(
        validate=validate.Range(1, MAX_PAGE),
        metadata=doc(
            f"Page number, from 1 (at most {MAX_PAGE}). Without page and size the whole list is "
            "answered; with either, one page and a pagination object beside data. A page past "
            "the end is empty.",
            example=1,
        ),
    )
    size = fields.Integer(
        validate=validate.Range(1, MAX_PAGE_SIZE),
        metadata=doc(
            f"Rows per page, 1-{MAX_PAGE_SIZE} (default {DEFAULT_PAGE_SIZE} when page is given).",
            example=DEFAULT_PAGE_SIZE,
        ),
    )

    @post_load
    def page_request(self, data: dict[str, int], **_: Any) -> PageRequest | None:
        if not data:
            return None
        return PageRequest(data.get("page", 1), data.get("size", DEFAULT_PAGE_SIZE))


class PaginationSchema(Schema):
    page = fields.Integer(required=True, metadata=doc("This page's number, from 1."))
    size = fields.Integer(required=True, metadata=doc("Rows per page asked for."))
    totalElements = fields.Integer(
        required=True, metadata=doc("Rows in the whole list (all pages), as of this request.")
    )
    totalPages = fields.Integer(
        required=True, metadata=doc("Pages of this size the whole list fills (0 when empty).")
    )


def pagination(page: Page[Any]) -> dict[str, int]:
    return {
        "page": page.request.number,
        "size": page.request.size,
        "totalElements": page.total_elements,
        "totalPages": page.total_pages,
    }
