"""API keys: creation (shown once, tied to a user), verification against hashes, revocation;
the caller (Principal) and the roles."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from analytics.clock import Clock
from analytics.errors import (
    Forbidden,
    InvalidParameter,
    ResourceNotFound,
    Unauthorized,
    ValidationFailed,
)
from analytics.settings import ROLES, Secret
from analytics.store import apikeys as key_store
from analytics.store import users as user_store
from analytics.store.apikeys import ApiKeyRecord
from analytics.store.db import Database
from analytics.text import refused_characters

_RANK = {role: rank for rank, role in enumerate(ROLES)}
KEY_PREFIX = "gak_"
_ID_ALPHABET = string.ascii_lowercase + string.digits


def role_rank(role: str) -> int:
    return _RANK[role]


def lower_role(first: str, second: str) -> str:
    return first if _RANK[first] <= _RANK[second] else second


@dataclass(frozen=True)
class Principal:
    """Who is calling: an API key, a user (password or token), an OIDC subject, or nobody.

    ``method``: apikey, password, token (issued by POST /auth/token), oidc or anonymous.
    """

    key_id: str | None
    name: str
    role: str | None
    username: str | None = None
    team: str | None = None
    method: str = "apikey"

    @property
    def authenticated(self) -> bool:
        return self.role is not None

    def has_role(self, role: str) -> bool:
        return self.role is not None and _RANK[self.role] >= _RANK[role]

    @property
    def account(self) -> str | None:
        """The local account calling (password, own token, or a key of a user); None for an
        external (OIDC) subject, whose name may coincide with a local account's."""
        return None if self.method == "oidc" else self.username

    @property
    def subject(self) -> str:
        """Whom rate limits and the expensive-request gate count: the key, else the account."""
        if self.key_id is not None:
            return f"key:{self.key_id}"
        prefix = "oidc" if self.method == "oidc" else "user"
        return f"{prefix}:{self.username}"

    @property
    def actor(self) -> str:
        """The caller as the ledger records it: ``keyId:name`` for keys (as before accounts),
        ``user:NAME`` for accounts, ``oidc:SUBJECT`` for external tokens."""
        if self.key_id is not None:
            return f"{self.key_id}:{self.name}"
        return self.subject


ANONYMOUS = Principal(None, "anonymous", None, method="anonymous")


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class NewApiKey:
    key_id: str
    name: str
    role: str
    key: str
    username: str | None = None
    created_at: datetime | None = None


@dataclass(frozen=True)
class ApiKeyView:
    key_id: str
    name: str
    role: str
    username: str | None
    created_at: datetime | None
    revoked_at: datetime | None


def _view(record: ApiKeyRecord) -> ApiKeyView:
    return ApiKeyView(
        record.key_id,
        record.name,
        record.role,
        record.username,
        record.created_at,
        record.revoked_at,
    )


class ApiKeyService:
    def __init__(self, database: Database, clock: Clock, admin_key: Secret | None) -> None:
        self._db = database
        self._clock = clock
        self._admin_hash = hash_key(admin_key.value) if admin_key else None

    def create(self, role: str, name: str | None = None, username: str | None = None) -> NewApiKey:
        """A new key, returned in full this once. With ``username`` the key acts for that
        user: its role may not exceed the user's (403), and it stops working while the user is
        disabled."""
        if role not in ROLES:
            raise InvalidParameter(f"Unknown role {role!r}; use one of {', '.join(ROLES)}.")
        # The name is echoed in logs and the ledger (actor "id:name"): as plain as any name.
        refused = refused_characters(name or "")
        if refused:
            raise ValidationFailed(
                "The key name must not contain control or bidirectional formatting characters: "
                + ", ".join(refused)
                + ".",
                {"name": refused},
            )
        key_id = "".join(secrets.choice(_ID_ALPHABET) for _ in range(8))
        key = f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
        label = name or (f"{username}-{key_id}" if username else f"{role}-{key_id}")
        now = self._clock.now()

        def run(conn: Any) -> None:
            if username is not None:
                user = user_store.get_user(conn, username)
                if user is None:
                    raise ResourceNotFound(f"User {username} not found.", {"username": username})
                if user.disabled:
                    raise InvalidParameter(f"User {username} is disabled.")
                if _RANK[role] > _RANK[user.role]:
                    raise Forbidden(
                        f"A key of user {username} may have at most their role, {user.role}.",
                        {"role": role, "userRole": user.role},
                    )
            key_store.insert_key(conn, key_id, label, role, hash_key(key), now, username)

        self._db.write(run)
        return NewApiKey(key_id, label, role, key, username, now)

    def authenticate(self, presented: str) -> Principal:
        """The principal of a presented key; Unauthorized when it is unknown or revoked, or
        its user is disabled or gone."""
        digest = hash_key(presented)
        if self._admin_hash is not None and hmac.compare_digest(digest, self._admin_hash):
            return Principal("admin", "admin (settings)", "admin")
        with self._db.read() as conn:
            record = key_store.find_by_hash(conn, digest)
        if record is None or not hmac.compare_digest(record.key_hash, digest) or record.revoked:
            raise Unauthorized("Invalid API key.")
        return self._principal(record)

    def check(self, key_id: str) -> Principal:
        """The principal of a key by id, as it is now (for tokens issued from a key)."""
        if key_id == "admin" and self._admin_hash is not None:
            return Principal("admin", "admin (settings)", "admin")
        with self._db.read() as conn:
            record = key_store.get_key(conn, key_id)
        if record is None or record.revoked:
            raise Unauthorized("The API key this token was issued for is revoked.")
        return self._principal(record)

    @staticmethod
    def _principal(record: ApiKeyRecord) -> Principal:
        role, team = record.role, record.user_team
        if record.username is not None:
            if record.user_role is None or record.user_disabled:
                raise Unauthorized("Invalid API key: its user is disabled.")
            # A user demoted after the key was made: the key follows them down.
            role = lower_role(role, record.user_role)
        return Principal(record.key_id, record.name, role, record.username, team, "apikey")

    def list_keys(self, username: str | None = None) -> list[ApiKeyView]:
        with self._db.read() as conn:
            return [_view(record) for record in key_store.list_keys(conn, username)]

    def revoke(self, key_id: str) -> ApiKeyView:
        """Revoke a key (idempotent); 404 for an unknown id."""
        now = self._clock.now()

        def run(conn: Any) -> ApiKeyView:
            if not key_store.revoke_key(conn, key_id, now):
                raise ResourceNotFound(f"API key {key_id} not found.", {"keyId": key_id})
            record = key_store.get_key(conn, key_id)
            assert record is not None
            return _view(record)

        return self._db.write(run)
