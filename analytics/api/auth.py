"""Authentication (API keys, user passwords over HTTP basic, bearer tokens) and role checks,
per request. The order in which credentials are tried is the Authenticator's
(analytics.services.access.authenticator); this module reads the headers and applies the
per-path role rules.
"""

from __future__ import annotations

import base64
import binascii
import re

from flask import request

from analytics.api.context import services
from analytics.errors import Forbidden, Unauthorized
from analytics.services.access.apikeys import ANONYMOUS, Principal

API_PREFIX = "/k8s-monitor/api/v1"
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
WRITE_ROLE = "operator"
ADMIN_ROLE = "admin"
# Reads that need the write role too: webhook URLs carry credentials (Slack and Teams put a
# token in the path), and the delivery log shows where events go.
OPERATOR_READ_PREFIXES = (f"{API_PREFIX}/webhooks",)
# Accounts and keys: the admin role for every method, but for the exceptions below.
ADMIN_PREFIXES = (f"{API_PREFIX}/users", f"{API_PREFIX}/api-keys")
# Any authenticated caller: exchanging credentials for a token, and changing one's own password
# (the view checks that it is one's own).
TOKEN_PATH = f"{API_PREFIX}/auth/token"
_OWN_PASSWORD = re.compile(re.escape(API_PREFIX) + r"/users/[^/]+/password")


def _basic(value: str) -> tuple[str, str]:
    try:
        user, sep, password = base64.b64decode(value, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise Unauthorized("Malformed HTTP basic credentials.") from None
    if not sep or not (password or user):
        raise Unauthorized("Malformed HTTP basic credentials.")
    return user, password


def authenticate() -> Principal:
    """The caller of this request; Unauthorized for credentials that are malformed or wrong,
    RateLimitExceeded for a password login from a name or address with too many failures."""
    auth = services().auth
    key = request.headers.get("X-API-Key")
    if key and key.strip():
        return auth.api_key(key.strip())
    header = request.headers.get("Authorization")
    if not header:
        return ANONYMOUS
    scheme, _, value = header.partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer" and value:
        return auth.bearer(value)
    if scheme.lower() == "basic" and value:
        user, password = _basic(value)
        return auth.basic(user, password, request.remote_addr)
    raise Unauthorized("Unsupported Authorization header: use Bearer <key or token> or Basic.")


def _under(path: str, prefixes: tuple[str, ...]) -> bool:
    return any(path == prefix or path.startswith(prefix + "/") for prefix in prefixes)


def operator_read(path: str) -> bool:
    """Whether reading ``path`` needs the operator or admin role (webhooks)."""
    return _under(path, OPERATOR_READ_PREFIXES)


def authorize(caller: Principal, anonymous_read: bool) -> None:
    """Reads: anyone when anonymous reads are on, else any caller; webhook reads, like writes:
    operator or admin; users and API keys: admin; a token or one's own password: any caller."""
    path = request.path
    if not path.startswith(API_PREFIX):
        return
    if request.method == "OPTIONS":
        # What a path allows: as open as any read.
        if not caller.authenticated and not anonymous_read:
            raise Unauthorized("Authentication required: send an API key, password or token.")
        return
    if path == TOKEN_PATH or (request.method == "PUT" and _OWN_PASSWORD.fullmatch(path)):
        if not caller.authenticated:
            raise Unauthorized("Authentication required: send a password or an API key.")
        return
    if _under(path, ADMIN_PREFIXES):
        _require(caller, ADMIN_ROLE, "Users and API keys are managed by the admin role.")
        return
    reading = request.method in READ_METHODS
    if reading and not operator_read(path):
        if not caller.authenticated and not anonymous_read:
            raise Unauthorized("Authentication required: send an API key, password or token.")
        return
    if not caller.authenticated:
        raise Unauthorized(
            "Authentication required to read webhooks: send operator credentials."
            if reading
            else "Authentication required for changes: send an API key, password or token."
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


def _require(caller: Principal, role: str, why: str) -> None:
    if not caller.authenticated:
        raise Unauthorized(f"Authentication required. {why}")
    if not caller.has_role(role):
        raise Forbidden(
            f"The {caller.role} role may not do this. {why}",
            {"role": caller.role, "requiredRole": role},
        )
