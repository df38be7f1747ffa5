"""Domain errors: one base class, one subclass per API error code; mapped to HTTP in api.errors.

An error carries three things beside its message, as the envelope shows them: ``details``, a
sentence for people (the seed's ``error.details`` is a string); ``fields``, field name → messages,
for a request that failed validation; ``context``, any other structured data (the closest
candidates, the role that was refused). The second positional argument stays what it always was
to the callers: a string becomes ``details``; a mapping becomes ``fields`` when the error is a
validation error (VALIDATION_ERROR, INVALID_PARAMETER) and the mapping has the shape of field
errors (every value a list of strings or such a mapping), else ``context``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar


def is_field_map(value: Any) -> bool:
    """True for marshmallow's error shape: name → [messages] or name → nested such map."""
    if not isinstance(value, Mapping) or not value:
        return False
    return all(
        (isinstance(v, list) and all(isinstance(m, str) for m in v)) or is_field_map(v)
        for v in value.values()
    )


def field_messages(fields: Mapping[Any, Any], prefix: str = "") -> list[str]:
    """``["a.b: message", ...]`` for a field map: nested names and list indexes joined by dots."""
    lines: list[str] = []
    for name, value in fields.items():
        path = f"{prefix}{name}"
        if isinstance(value, Mapping):
            lines.extend(field_messages(value, path + "."))
        elif isinstance(value, list | tuple):
            lines.extend(f"{path}: {m}" for m in value)
        else:
            lines.append(f"{path}: {value}")
    return lines


def describe_fields(fields: Mapping[Any, Any]) -> str:
    """The ``details`` sentence of a validation failure: ``"a: Missing data ...; b: ..."``."""
    return "; ".join(field_messages(fields))


class AnalyticsError(Exception):
    """Base of every error the service reports to a client; ``code`` is the envelope's code."""

    code: ClassVar[str] = "INTERNAL_ERROR"
    # Whether a field-shaped mapping given as the second argument is the request's field errors.
    carries_fields: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        details: Any = None,
        *,
        fields: Mapping[str, Any] | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        # A sentence; typed Any because older callers assign a mapping here after construction
        # (read by envelope() as the constructor would have placed it).
        self.details: Any = None
        self.fields: dict[str, Any] | None = dict(fields) if fields is not None else None
        self.context: dict[str, Any] | None = dict(context) if context is not None else None
        self.absorb(details)

    def absorb(self, details: Any) -> None:
        """Put a legacy ``details`` value where it belongs (see the module docstring)."""
        text, fields, context = split_details(details, self.carries_fields)
        if text is not None:
            self.details = text
        if fields:
            self.fields = {**(self.fields or {}), **fields}
        if context:
            self.context = {**(self.context or {}), **context}

    def envelope(self) -> dict[str, Any]:
        """``details``, ``fields`` (validation only) and ``context`` as the envelope shows them.

        Code that set ``details`` to a mapping after construction (``exc.details = {...}``, as
        the batch allocator does to name the failing request) is answered as the constructor
        would have placed it.
        """
        text, fields, context = split_details(self.details, self.carries_fields)
        fields = {**(self.fields or {}), **(fields or {})}
        context = {**(self.context or {}), **(context or {})}
        if text is None and fields:
            text = describe_fields(fields)
        members: dict[str, Any] = {"details": text}
        if fields:
            members["fields"] = fields
        if context:
            members["context"] = context
        return members


def split_details(
    details: Any, carries_fields: bool
) -> tuple[str | None, dict[str, Any] | None, dict[str, Any] | None]:
    """(text, fields, context) of a legacy ``details`` value."""
    if details is None or isinstance(details, str):
        return details, None, None
    if carries_fields and is_field_map(details):
        return None, dict(details), None
    if isinstance(details, Mapping):
        return None, None, dict(details)
    return None, None, {"value": details}


class ResourceNotFound(AnalyticsError):
    code = "RESOURCE_NOT_FOUND"


class InvalidParameter(AnalyticsError):
    """A query or path parameter (or a reference in the request) is wrong: 400."""

    code = "INVALID_PARAMETER"
    carries_fields = True


class ValidationFailed(AnalyticsError):
    """The JSON body is wrong: 400."""

    code = "VALIDATION_ERROR"
    carries_fields = True


class ResourceAlreadyExists(AnalyticsError):
    code = "RESOURCE_ALREADY_EXISTS"


class GpuNotAvailable(AnalyticsError):
    code = "GPU_NOT_AVAILABLE"


class MigNotSupported(AnalyticsError):
    code = "MIG_NOT_SUPPORTED"


class InsufficientResources(AnalyticsError):
    code = "INSUFFICIENT_RESOURCES"


class AllocationFailed(AnalyticsError):
    code = "ALLOCATION_FAILED"


class CostLimitExceeded(AnalyticsError):
    code = "COST_LIMIT_EXCEEDED"


class Unauthorized(AnalyticsError):
    code = "UNAUTHORIZED"


class Forbidden(AnalyticsError):
    code = "FORBIDDEN"


class RateLimitExceeded(AnalyticsError):
    code = "RATE_LIMIT_EXCEEDED"

    def __init__(self, message: str, retry_after_s: int, headers: Mapping[str, str]) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
        self.headers = dict(headers)


class StoreUnavailable(AnalyticsError):
    """The database cannot be reached or its schema is not current."""

    code = "SERVICE_UNAVAILABLE"


class MetricsUnavailable(AnalyticsError):
    """Prometheus cannot be reached, timed out or answered 5xx: metric-backed data is unknown."""

    code = "METRICS_UNAVAILABLE"


class PromQueryError(AnalyticsError):
    """Prometheus refused a query (4xx or ``status: error``): a bug in our query, not the caller's.

    The client sees a plain 500; the query and Prometheus's answer go to the log.
    """

    code = "INTERNAL_ERROR"

    def __init__(self, query: str, reason: str) -> None:
        super().__init__("Internal server error.")
        self.query = query
        self.reason = reason
