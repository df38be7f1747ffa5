"""API keys: creation (shown once), verification against hashes, roles."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
from dataclasses import dataclass
from typing import Any

from analytics.clock import Clock
from analytics.errors import InvalidParameter, Unauthorized, ValidationFailed
from analytics.settings import Secret
from analytics.store import apikeys as key_store
from analytics.store.db import Database
from analytics.text import refused_characters

ROLES = ("viewer", "operator", "admin")
_RANK = {role: rank for rank, role in enumerate(ROLES)}
_KEY_PREFIX = "gak_"
_ID_ALPHABET = string.ascii_lowercase + string.digits


@dataclass(frozen=True)
class Principal:
    """Who is calling: an API key's id, name and role, or nobody."""

    key_id: str | None
    name: str
    role: str | None

    @property
    def authenticated(self) -> bool:
        return self.role is not None

    def has_role(self, role: str) -> bool:
        return self.role is not None and _RANK[self.role] >= _RANK[role]


ANONYMOUS = Principal(None, "anonymous", None)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class NewApiKey:
    key_id: str
    name: str
    role: str
    key: str


class ApiKeyService:
    def __init__(self, database: Database, clock: Clock, admin_key: Secret | None) -> None:
        self._db = database
        self._clock = clock
        self._admin_hash = hash_key(admin_key.value) if admin_key else None

    def create(self, role: str, name: str | None = None) -> NewApiKey:
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
        key = f"{_KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
        label = name or f"{role}-{key_id}"
        now = self._clock.now()

        def run(conn: Any) -> None:
            key_store.insert_key(conn, key_id, label, role, hash_key(key), now)

        self._db.write(run)
        return NewApiKey(key_id, label, role, key)

    def authenticate(self, presented: str) -> Principal:
        """The principal of a presented key; Unauthorized when it is unknown or revoked."""
        digest = hash_key(presented)
        if self._admin_hash is not None and hmac.compare_digest(digest, self._admin_hash):
            return Principal("admin", "admin (settings)", "admin")
        with self._db.read() as conn:
            record = key_store.find_by_hash(conn, digest)
        if record is None or not hmac.compare_digest(record.key_hash, digest) or record.revoked:
            raise Unauthorized("Invalid API key.")
        return Principal(record.key_id, record.name, record.role)
