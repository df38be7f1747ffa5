"""The SDK's exceptions: one class per API error code, all under :class:`GpuClientError`.

An error answer of the service (``{"status": "error", "error": {"code", "message",
"details", "fields", "context"}}``) becomes the class registered for its code, carrying the code,
message, ``details`` (a sentence, or None), ``fields`` (field or parameter name → messages, for
VALIDATION_ERROR and INVALID_PARAMETER), ``context`` (other structured data, e.g. the closest
candidates of INSUFFICIENT_RESOURCES), HTTP status and, for 429, ``retry_after`` seconds. A code this SDK version does not know still
becomes an :class:`ApiError` with that code; an answer that is not an envelope (a proxy's HTML
page) becomes one with code ``HTTP_<status>``. Network failures are :class:`TransportError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar


class GpuClientError(Exception):
    """Base of every exception the SDK raises."""


class TransportError(GpuClientError):
    """The service could not be reached, or the connection broke."""


class RequestTimeoutError(TransportError):
    """No answer within the client's timeout."""


class ApiError(GpuClientError):
    """The service answered with an error envelope."""

    CODE: ClassVar[str] = ""
    """The error code this class stands for."""

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        details: str | None = None,
        fields: Mapping[str, Any] | None = None,
        context: Mapping[str, Any] | None = None,
        status: int | None = None,
        retry_after: float | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        # Instances carry the code they were raised for (the class's, or an unknown one).
        self.code: str = code or type(self).CODE
        self.details = details
        self.fields: dict[str, Any] = dict(fields or {})
        self.context: dict[str, Any] = dict(context or {})
        self.status = status
        self.retry_after = retry_after
        self.body = body

    def __str__(self) -> str:
        status = f" (HTTP {self.status})" if self.status is not None else ""
        return f"{self.code}{status}: {self.message}"


class ResourceNotFoundError(ApiError):
    CODE = "RESOURCE_NOT_FOUND"


class GpuNotAvailableError(ApiError):
    CODE = "GPU_NOT_AVAILABLE"


class MigNotSupportedError(ApiError):
    CODE = "MIG_NOT_SUPPORTED"


class AllocationFailedError(ApiError):
    CODE = "ALLOCATION_FAILED"


class InvalidParameterError(ApiError):
    CODE = "INVALID_PARAMETER"


class InsufficientResourcesError(ApiError):
    CODE = "INSUFFICIENT_RESOURCES"


class CostLimitExceededError(ApiError):
    CODE = "COST_LIMIT_EXCEEDED"


class ValidationError(ApiError):
    CODE = "VALIDATION_ERROR"


class UnauthorizedError(ApiError):
    CODE = "UNAUTHORIZED"


class ForbiddenError(ApiError):
    CODE = "FORBIDDEN"


class RateLimitExceededError(ApiError):
    CODE = "RATE_LIMIT_EXCEEDED"


class InternalServerError(ApiError):
    CODE = "INTERNAL_ERROR"


class MetricsUnavailableError(ApiError):
    CODE = "METRICS_UNAVAILABLE"


class ResourceAlreadyExistsError(ApiError):
    CODE = "RESOURCE_ALREADY_EXISTS"


class MethodNotAllowedError(ApiError):
    CODE = "METHOD_NOT_ALLOWED"


class PayloadTooLargeError(ApiError):
    CODE = "PAYLOAD_TOO_LARGE"


class UnsupportedMediaTypeError(ApiError):
    CODE = "UNSUPPORTED_MEDIA_TYPE"


class ServiceUnavailableError(ApiError):
    CODE = "SERVICE_UNAVAILABLE"


ERROR_CLASSES: dict[str, type[ApiError]] = {
    cls.CODE: cls
    for cls in (
        ResourceNotFoundError,
        GpuNotAvailableError,
        MigNotSupportedError,
        AllocationFailedError,
        InvalidParameterError,
        InsufficientResourcesError,
        CostLimitExceededError,
        ValidationError,
        UnauthorizedError,
        ForbiddenError,
        RateLimitExceededError,
        InternalServerError,
        MetricsUnavailableError,
        ResourceAlreadyExistsError,
        MethodNotAllowedError,
        PayloadTooLargeError,
        UnsupportedMediaTypeError,
        ServiceUnavailableError,
    )
}


def error_from_response(
    status: int, body: Any, headers: Mapping[str, str] | None = None
) -> ApiError:
    """The exception for an error answer: ``body`` is the decoded JSON (or None, or text)."""
    error = body.get("error") if isinstance(body, Mapping) else None
    retry_after = _retry_after(error, headers)
    if not isinstance(error, Mapping) or not isinstance(error.get("code"), str):
        text = body if isinstance(body, str) else ""
        message = f"HTTP {status} without an error envelope" + (f": {text[:200]}" if text else "")
        return ApiError(
            message, code=f"HTTP_{status}", status=status, retry_after=retry_after, body=body
        )
    code = error["code"]
    cls = ERROR_CLASSES.get(code, ApiError)
    details = error.get("details")
    fields = error.get("fields")
    context = error.get("context")
    # ``details`` is a string; a structured one (an older server) is kept under context.
    legacy = None if details is None or isinstance(details, str) else details
    if not isinstance(context, Mapping):
        context = None if legacy is None else {"details": legacy}
    return cls(
        str(error.get("message") or code),
        code=code,
        details=None if legacy is not None else details,
        fields=fields if isinstance(fields, Mapping) else None,
        context=context,
        status=status,
        retry_after=retry_after,
        body=body,
    )


def _retry_after(error: Any, headers: Mapping[str, str] | None) -> float | None:
    """Seconds from the envelope's ``retryAfter`` or the ``Retry-After`` header (seconds form)."""
    candidates: list[Any] = []
    if isinstance(error, Mapping):
        candidates.append(error.get("retryAfter"))
    if headers is not None:
        candidates.append(headers.get("Retry-After"))
    for value in candidates:
        if value is None or isinstance(value, bool):
            continue
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            continue
        if seconds >= 0:
            return seconds
    return None
