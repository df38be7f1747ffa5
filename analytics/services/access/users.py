"""Accounts: create, list, read, disable/enable, set passwords, and verify a password login.

The password hash never leaves this module's records: views carry everything else.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from analytics.clock import Clock
from analytics.errors import (
    Forbidden,
    InvalidParameter,
    ResourceAlreadyExists,
    ResourceNotFound,
    Unauthorized,
    ValidationFailed,
)
from analytics.services.access.apikeys import KEY_PREFIX, Principal
from analytics.services.access.passwords import dummy_hash, hash_password, verify_password
from analytics.settings import ROLES
from analytics.store import users as user_store
from analytics.store.db import Database
from analytics.store.users import UserRecord
from analytics.text import refused_characters

# No ":" (HTTP basic splits on the first one), no spaces; what Kubernetes and most IdPs allow.
USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
PASSWORD_MIN_LENGTH = 12
PASSWORD_MAX_LENGTH = 1024


@dataclass(frozen=True)
class UserView:
    username: str
    role: str
    team: str | None
    disabled: bool
    created_at: datetime
    updated_at: datetime


def _view(record: UserRecord) -> UserView:
    return UserView(
        record.username,
        record.role,
        record.team,
        record.disabled,
        record.created_at,
        record.updated_at,
    )


def check_password_rules(password: str) -> None:
    if not PASSWORD_MIN_LENGTH <= len(password) <= PASSWORD_MAX_LENGTH:
        raise ValidationFailed(
            f"A password must be {PASSWORD_MIN_LENGTH} to {PASSWORD_MAX_LENGTH} characters.",
            {"password": ["length"]},
        )
    if password.startswith(KEY_PREFIX):
        # HTTP basic takes a password with the key prefix as an API key (compatibility).
        raise ValidationFailed(
            f"A password may not start with {KEY_PREFIX!r}, the API key prefix.",
            {"password": ["prefix"]},
        )


def generate_password() -> str:
    """A random password for rotation (about 190 bits)."""
    return secrets.token_urlsafe(24)


def _not_found(username: str) -> ResourceNotFound:
    return ResourceNotFound(f"User {username} not found.", {"username": username})


class UserService:
    def __init__(self, database: Database, clock: Clock) -> None:
        self._db = database
        self._clock = clock

    def create(self, username: str, password: str, role: str, team: str | None = None) -> UserView:
        if not USERNAME.fullmatch(username):
            raise ValidationFailed(
                "A user name is 1-64 letters, digits, '.', '_', '@' or '-', starting with a "
                "letter or digit.",
                {"username": ["format"]},
            )
        if role not in ROLES:
            raise ValidationFailed(f"Unknown role {role!r}; use one of {', '.join(ROLES)}.")
        if team is not None and (refused_characters(team) or not 1 <= len(team) <= 128):
            raise ValidationFailed("A team is 1-128 characters without control characters.")
        check_password_rules(password)
        now = self._clock.now()
        record = UserRecord(username, hash_password(password), role, team, False, now, now)

        def run(conn: Any) -> None:
            if user_store.get_user(conn, username) is not None:
                raise ResourceAlreadyExists(
                    f"User {username} already exists.", {"username": username}
                )
            user_store.insert_user(conn, record)

        self._db.write(run)
        return _view(record)

    def list_users(self) -> list[UserView]:
        with self._db.read() as conn:
            return [_view(record) for record in user_store.list_users(conn)]

    def get(self, username: str) -> UserView:
        with self._db.read() as conn:
            record = user_store.get_user(conn, username)
        if record is None:
            raise _not_found(username)
        return _view(record)

    def update(
        self,
        username: str,
        *,
        disabled: bool | None = None,
        role: str | None = None,
        team: str | None = None,
    ) -> UserView:
        """Disable or enable an account, change its role or team (absent: unchanged)."""
        changes: dict[str, Any] = {}
        if disabled is not None:
            changes["disabled"] = disabled
        if role is not None:
            if role not in ROLES:
                raise ValidationFailed(f"Unknown role {role!r}; use one of {', '.join(ROLES)}.")
            changes["role"] = role
        if team is not None:
            changes["team"] = team or None
        return self._change(username, changes)

    def set_password(self, username: str, password: str) -> UserView:
        check_password_rules(password)
        return self._change(username, {"password_hash": hash_password(password)})

    def change_own_password(
        self, caller: Principal, username: str, current: str | None, password: str
    ) -> UserView:
        """PUT /users/{username}/password: an admin sets anyone's password; a user sets their
        own, giving the current one (a stolen token alone cannot take the account over)."""
        if caller.has_role("admin"):
            return self.set_password(username, password)
        if caller.account != username:
            raise Forbidden(
                "Only an admin may set another user's password.",
                {"role": caller.role, "requiredRole": "admin"},
            )
        if current is None:
            raise ValidationFailed(
                "Give currentPassword to change your own password.",
                {"currentPassword": ["required"]},
            )
        self.verify(username, current)
        return self.set_password(username, password)

    def verify(self, username: str, password: str) -> UserRecord:
        """The enabled user whose password this is; Unauthorized otherwise (the same message
        and about the same time whether the name is unknown, disabled or the password wrong)."""
        with self._db.read() as conn:
            record = user_store.get_user(conn, username)
        stored = record.password_hash if record is not None else dummy_hash()
        matches = verify_password(password, stored)
        if record is None or not matches or record.disabled:
            raise Unauthorized("Invalid user name or password.")
        return record

    def login(self, username: str, password: str) -> UserRecord | None:
        """Like verify, but None (after the same work) when no account has this name, so that
        the caller may try the password as something else (an API key)."""
        with self._db.read() as conn:
            record = user_store.get_user(conn, username)
        if record is None:
            verify_password(password, dummy_hash())
            return None
        if not verify_password(password, record.password_hash) or record.disabled:
            raise Unauthorized("Invalid user name or password.")
        return record

    def current(self, username: str) -> UserRecord:
        """The user as now, for a token naming them; Unauthorized when gone or disabled."""
        with self._db.read() as conn:
            record = user_store.get_user(conn, username)
        if record is None or record.disabled:
            raise Unauthorized("The token's user is disabled or no longer exists.")
        return record

    def exists(self, username: str) -> bool:
        with self._db.read() as conn:
            return user_store.get_user(conn, username) is not None

    def _change(self, username: str, changes: dict[str, Any]) -> UserView:
        if not changes:
            raise InvalidParameter("Nothing to change.")
        now = self._clock.now()

        def run(conn: Any) -> UserView:
            if not user_store.update_user(conn, username, **changes, updated_at=now):
                raise _not_found(username)
            record = user_store.get_user(conn, username)
            assert record is not None
            return _view(record)

        return self._db.write(run)
