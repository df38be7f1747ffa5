"""The success and error envelopes, and a Blueprint whose responses are wrapped in them.

A paged list's envelope carries ``pagination`` beside ``data`` only when the request asked for a
page (analytics.api.paging); without page parameters it is the plain envelope, unchanged.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import flask_smorest
from marshmallow import Schema, fields

from analytics.api.fast_dump import FastDumpSchema
from analytics.api.fields import UtcDateTime, doc
from analytics.api.paging import PageQuerySchema, PaginationSchema, pagination
from analytics.clock import SystemClock
from analytics.paging import Page

_clock = SystemClock()
_envelopes: dict[tuple[type[Schema], bool, bool], type[Schema]] = {}
_PAGE_QUERY = PageQuerySchema()


def success(data: Any) -> dict[str, Any]:
    if isinstance(data, Page):
        return {
            "status": "success",
            "data": data.content,
            "pagination": pagination(data),
            "timestamp": _clock.now(),
        }
    return {"status": "success", "data": data, "timestamp": _clock.now()}


def envelope_schema(schema: type[Schema], many: bool = False, paged: bool = False) -> type[Schema]:
    """``{"status": "success", "data": <schema>, "timestamp": ...}`` as a named schema;
    ``paged`` adds the optional ``pagination`` member."""
    key = (schema, many, paged)
    if key not in _envelopes:
        base = schema.__name__.removesuffix("Schema")
        members: dict[str, fields.Field[Any]] = {}
        if paged:
            members["pagination"] = fields.Nested(
                PaginationSchema,
                metadata=doc(
                    "Only when page or size was given: this page and the size of the whole "
                    "list. Absent from a whole-list answer."
                ),
            )
        # Planned dumps (analytics.api.fast_dump): lists of thousands of devices and pods.
        _envelopes[key] = FastDumpSchema.from_dict(
            {
                "status": fields.String(
                    required=True, metadata=doc('Always "success".', example="success")
                ),
                "data": fields.Nested(
                    schema,
                    many=many,
                    required=True,
                    metadata=doc(f"The payload: {'a list of ' if many else ''}{base}."),
                ),
                **members,
                "timestamp": UtcDateTime(
                    required=True, metadata=doc("When the response was made, UTC.")
                ),
            },
            name=f"{base}{'List' if many else ''}{'Page' if paged else ''}Envelope",
        )
    return _envelopes[key]


class ErrorSchema(Schema):
    code = fields.String(
        required=True, metadata=doc("Error code, e.g. RESOURCE_NOT_FOUND (see docs).")
    )
    message = fields.String(required=True, metadata=doc("What went wrong, for people."))
    details = fields.String(
        required=True,
        allow_none=True,
        metadata=doc(
            "More about what went wrong, for people (for a validation failure, every field's "
            "messages in one line); null when the message says it all."
        ),
    )
    fields_ = fields.Dict(
        data_key="fields",
        keys=fields.String(),
        metadata=doc(
            "VALIDATION_ERROR and INVALID_PARAMETER only: each field (or query or path "
            "parameter) that failed, with its messages; nested objects and list items nest."
        ),
    )
    context = fields.Dict(
        keys=fields.String(),
        metadata=doc(
            "Structured data about the error when it has any: e.g. the closest candidates of "
            "INSUFFICIENT_RESOURCES, the role and required role of FORBIDDEN."
        ),
    )
    retryAfter = fields.Integer(
        metadata=doc("RATE_LIMIT_EXCEEDED only: seconds until the window resets.")
    )


class ErrorEnvelopeSchema(Schema):
    status = fields.String(required=True, metadata=doc('Always "error".', example="error"))
    error = fields.Nested(ErrorSchema, required=True, metadata=doc("The error."))
    timestamp = UtcDateTime(required=True, metadata=doc("When the response was made, UTC."))


class ApiBlueprint(flask_smorest.Blueprint):  # type: ignore[misc]
    """A flask-smorest Blueprint whose ``envelope_response`` wraps the view's data."""

    def arguments(self, schema: type[Schema] | Schema, **kwargs: Any) -> Any:
        """flask-smorest's ``arguments`` with one schema instance for every request (given a
        class, webargs would build a schema per request, deep-copying all its fields)."""
        return super().arguments(schema() if isinstance(schema, type) else schema, **kwargs)

    def envelope_response(
        self, status_code: int, schema: type[Schema], *, many: bool = False, **kwargs: Any
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        documented = self.response(status_code, envelope_schema(schema, many), **kwargs)

        def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
            @functools.wraps(view)
            def wrapped(*args: Any, **kw: Any) -> Any:
                return success(view(*args, **kw))

            result: Callable[..., Any] = documented(wrapped)
            return result

        return decorator

    def paged_response(
        self, status_code: int, schema: type[Schema], *, many: bool = False, **kwargs: Any
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """``envelope_response`` for a fleet-wide list: the view also takes ``page`` (a
        PageRequest, or None for the whole list) and returns the whole result or a Page."""
        documented = self.response(status_code, envelope_schema(schema, many, paged=True), **kwargs)
        parsed = self.arguments(_PAGE_QUERY, location="query")

        def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
            @functools.wraps(view)
            def wrapped(*args: Any, **kw: Any) -> Any:
                *rest, page = args
                return success(view(*rest, page=page, **kw))

            result: Callable[..., Any] = documented(parsed(wrapped))
            return result

        return decorator
