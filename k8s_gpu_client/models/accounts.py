"""Results of the accounts area (docs/auth.md): users, API keys and the tokens of /auth/token."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from k8s_gpu_client.models._base import ApiModel


@dataclass(kw_only=True)
class User(ApiModel):
    """An account: its login name, role (viewer, operator, admin) and team; never its password."""

    username: str | None = None
    role: str | None = None
    team: str | None = None
    disabled: bool | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(kw_only=True)
class ApiKey(ApiModel):
    """An API key as listed: its id and role, never the key itself."""

    key_id: str | None = None
    name: str | None = None
    role: str | None = None
    username: str | None = None
    created_at: datetime | None = None
    revoked_at: datetime | None = None


@dataclass(kw_only=True)
class NewApiKey(ApiKey):
    """A key just made: ``key`` is the secret itself, shown this once (stored only as a hash)."""

    key: str | None = None


@dataclass(kw_only=True)
class Token(ApiModel):
    """A short-lived Bearer token (JWT) from POST /auth/token; ``expires_in`` is seconds."""

    access_token: str | None = None
    token_type: str | None = None
    expires_in: int | None = None
    expires_at: datetime | None = None
    role: str | None = None
    subject: str | None = None
