"""The one place that turns errors into HTTP statuses and the error envelope.

Rule (docs/errors.md): 400 when the request is malformed or names something unknown
(INVALID_PARAMETER for query and path values, VALIDATION_ERROR for anything in the JSON body);
409 when the cluster's current state blocks a request that could succeed later; 422 when the
request could never succeed as asked; 404 for unknown ids and paths.

The envelope's ``error`` holds ``code``, ``message`` and ``details`` (a sentence, as the seed
writes it, or null); ``fields`` (field name → messages) when validation failed; ``context``
(structured data: candidates, limits, roles) when the error has any.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException

from analytics.clock import SystemClock
from analytics.errors import AnalyticsError, PromQueryError, RateLimitExceeded, describe_fields

log = logging.getLogger(__name__)
_clock = SystemClock()

STATUS_BY_CODE: dict[str, int] = {
    "INVALID_PARAMETER": 400,
    "VALIDATION_ERROR": 400,
    "UNAUTHORIZED": 401,
    "FORBIDDEN": 403,
    "RESOURCE_NOT_FOUND": 404,
    "METHOD_NOT_ALLOWED": 405,
    "RESOURCE_ALREADY_EXISTS": 409,
    "GPU_NOT_AVAILABLE": 409,
    "INSUFFICIENT_RESOURCES": 409,
    "ALLOCATION_FAILED": 409,
    "PAYLOAD_TOO_LARGE": 413,
    "UNSUPPORTED_MEDIA_TYPE": 415,
    "MIG_NOT_SUPPORTED": 422,
    "COST_LIMIT_EXCEEDED": 422,
    "RATE_LIMIT_EXCEEDED": 429,
    "INTERNAL_ERROR": 500,
    "METRICS_UNAVAILABLE": 503,
    "SERVICE_UNAVAILABLE": 503,
}

_HTTP_CODES = {
    400: "VALIDATION_ERROR",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "RESOURCE_NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    429: "RATE_LIMIT_EXCEEDED",
}

_AUTH_CHALLENGE = 'Bearer realm="gpu-analytics", Basic realm="gpu-analytics"'


def error_document(
    code: str, message: str, details: str | None = None, **extra: Any
) -> dict[str, Any]:
    """The error envelope: ``{"status": "error", "error": {...}, "timestamp": ...}``; ``extra``
    adds members beside ``details`` (``fields``, ``context``, ``retryAfter``)."""
    return {
        "status": "error",
        "error": {"code": code, "message": message, "details": details, **extra},
        "timestamp": _clock.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def error_response(
    status: int, code: str, message: str, details: str | None = None, **extra: Any
) -> Response:
    response = jsonify(error_document(code, message, details, **extra))
    response.status_code = status
    return response


def _field_error(code: str, message: str, fields: dict[str, Any]) -> Response:
    return error_response(400, code, message, describe_fields(fields) or None, fields=fields)


def handle_domain_error(exc: AnalyticsError) -> Response:
    status = STATUS_BY_CODE.get(exc.code, 500)
    if isinstance(exc, PromQueryError):
        # Our query is wrong: log it (never the credentials, which live in headers only).
        log.error("Prometheus refused a query: %s; query: %s", exc.reason, exc.query)
    members = exc.envelope()
    if isinstance(exc, RateLimitExceeded):
        response = error_response(
            status, exc.code, exc.message, **members, retryAfter=exc.retry_after_s
        )
        response.headers.update(exc.headers)
        response.headers["Retry-After"] = str(exc.retry_after_s)
        return response
    response = error_response(status, exc.code, exc.message, **members)
    if status == 401:
        response.headers["WWW-Authenticate"] = _AUTH_CHALLENGE
    return response


def handle_http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    data = getattr(exc, "data", None) or {}
    messages = data.get("messages")
    if status == 422 and isinstance(messages, dict):
        # webargs: the schema refused a request part. A bad JSON body is VALIDATION_ERROR;
        # bad query or path values are INVALID_PARAMETER. Both are 400: the client must change
        # the request.
        locations = set(messages)
        if locations <= {"json", "form", "files"}:
            fields = messages.get("json", messages)
            return _field_error("VALIDATION_ERROR", "Request body is invalid.", fields)
        merged: dict[str, Any] = {}
        for part in messages.values():
            merged.update(part)
        return _field_error("INVALID_PARAMETER", "Invalid query or path parameter.", merged)
    if status == 400:
        detail = exc.description if isinstance(exc.description, str) else None
        if isinstance(messages, dict) and set(messages) == {"json"}:
            # webargs could not decode the body: no field to name.
            detail = " ".join(str(m) for m in messages["json"]) or detail
        elif isinstance(messages, dict) and messages:
            return _field_error(
                "VALIDATION_ERROR", "Malformed request body: expected a JSON document.", messages
            )
        return error_response(
            400, "VALIDATION_ERROR", "Malformed request body: expected a JSON document.", detail
        )
    if status == 404:
        return error_response(404, "RESOURCE_NOT_FOUND", "No such resource or path.")
    if status == 405:
        response = error_response(405, "METHOD_NOT_ALLOWED", "Method not allowed on this path.")
        valid = getattr(exc, "valid_methods", None)
        if valid:
            response.headers["Allow"] = ", ".join(sorted(valid))
        return response
    if status == 413:
        return error_response(413, "PAYLOAD_TOO_LARGE", "Request body is too large.")
    if status >= 500:
        return error_response(status, "INTERNAL_ERROR", "Internal server error.")
    code = _HTTP_CODES.get(status, "INVALID_PARAMETER")
    return error_response(status, code, exc.description or exc.name)


def handle_unexpected(exc: Exception) -> Response:
    if isinstance(exc, HTTPException):
        return handle_http_error(exc)
    log.exception("unhandled error")
    return error_response(500, "INTERNAL_ERROR", "Internal server error.")


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(AnalyticsError, handle_domain_error)
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(Exception, handle_unexpected)
