"""Domain errors: one base class, one subclass per API error code; mapped to HTTP in api.errors."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar


class AnalyticsError(Exception):
    """Base of every error the service reports to a client; ``code`` is the envelope's code."""

    code: ClassVar[str] = "INTERNAL_ERROR"

    def __init__(self, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class ResourceNotFound(AnalyticsError):
    code = "RESOURCE_NOT_FOUND"


class InvalidParameter(AnalyticsError):
    code = "INVALID_PARAMETER"


class ValidationFailed(AnalyticsError):
    code = "VALIDATION_ERROR"


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
