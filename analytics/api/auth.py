"""Authentication (API key as Bearer, X-API-Key or HTTP basic) and role checks, per request.

HTTP basic carries the API key as the password; the user name is free text (logged only). A
client that can only send a user name may send the key as the user name with an empty password.
"""

from __future__ import annotations

import base64
import binascii

from flask import request

from analytics.api.context import services
from analytics.errors import Forbidden, Unauthorized
from analytics.services.access.apikeys import ANONYMOUS, Principal

API_PREFIX = "/k8s-monitor/api/v1"
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
WRITE_ROLE = "operator"
# Reads that need the write role too: webhook URLs carry credentials (Slack and Teams put a
# token in the path), and the delivery log shows where events go.
OPERATOR_READ_PREFIXES = (f"{API_PREFIX}/webhooks",)


def presented_key() -> str | None:
    """The API key in the request's headers; Unauthorized when a header is malformed."""
    key = request.headers.get("X-API-Key")
    if key:
        return key.strip()
    header = request.headers.get("Authorization")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer" and value:
        return value
    if scheme.lower() == "basic" and value:
        try:
            user, sep, password = base64.b64decode(value, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise Unauthorized("Malformed HTTP basic credentials.") from None
        if sep and (password or user):
            return password or user
    raise Unauthorized("Unsupported Authorization header: use Bearer <key> or Basic.")


def authenticate() -> Principal:
    key = presented_key()
    if key is None:
        return ANONYMOUS
    return services().api_keys.authenticate(key)


def operator_read(path: str) -> bool:
    """Whether reading ``path`` needs the operator or admin role (webhooks)."""
    return any(path == prefix or path.startswith(prefix + "/") for prefix in OPERATOR_READ_PREFIXES)


def authorize(caller: Principal, anonymous_read: bool) -> None:
    """Reads: anyone when anonymous reads are on, else any key; webhook reads, like writes:
    operator or admin."""
    if not request.path.startswith(API_PREFIX):
        return
    reading = request.method in READ_METHODS
    if reading and (request.method == "OPTIONS" or not operator_read(request.path)):
        if not caller.authenticated and not anonymous_read:
            raise Unauthorized("Authentication required: send an API key.")
        return
    if not caller.authenticated:
        raise Unauthorized(
            "Authentication required to read webhooks: send an operator API key."
            if reading
            else "Authentication required for changes: send an API key."
        )
    if not caller.has_role(WRITE_ROLE):
        raise Forbidden(
            f"The {caller.role} role may not read webhooks (their URLs carry credentials); "
            f"that needs the {WRITE_ROLE} or admin role."
            if reading
            else f"The {caller.role} role may only read; changes need the {WRITE_ROLE} or "
            "admin role.",
            {"role": caller.role, "requiredRole": WRITE_ROLE},
        )
