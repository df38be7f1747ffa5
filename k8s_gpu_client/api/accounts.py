"""``client.users`` and ``client.api_keys``: the accounts area (/users, /api-keys; docs/auth.md).

Listing users and other users' keys needs an admin; a user may read and change their own
account and password, and make and revoke their own keys.
"""

from __future__ import annotations

import builtins

from k8s_gpu_client._http import path
from k8s_gpu_client.api._base import Namespace, body
from k8s_gpu_client.models.accounts import ApiKey, NewApiKey, User

USERS = "/users"
API_KEYS = "/api-keys"


class Users(Namespace):
    def list(self) -> builtins.list[User]:
        return User.from_api_list(self._http.request("GET", USERS))

    def create(self, *, username: str, password: str, role: str, team: str | None = None) -> User:
        """Make an account; ``role`` is viewer, operator or admin, ``password`` 12-1024
        characters. An existing name raises ResourceAlreadyExistsError."""
        payload = body(username=username, password=password, role=role, team=team)
        return User.from_api(self._http.request("POST", USERS, body=payload))

    def get(self, username: str) -> User:
        return User.from_api(self._http.request("GET", USERS + path(username)))

    def update(
        self,
        username: str,
        *,
        role: str | None = None,
        team: str | None = None,
        disabled: bool | None = None,
    ) -> User:
        """Change some fields: ``team=""`` clears the team, ``disabled=True`` locks the account
        out (its password, keys and tokens are refused)."""
        payload = body(role=role, team=team, disabled=disabled)
        return User.from_api(self._http.request("PATCH", USERS + path(username), body=payload))

    def set_password(
        self, username: str, password: str, *, current_password: str | None = None
    ) -> User:
        """Set a new password; users changing their own give ``current_password``."""
        payload = body(password=password, current_password=current_password)
        data = self._http.request("PUT", USERS + path(username, "password"), body=payload)
        return User.from_api(data)


class ApiKeys(Namespace):
    def list(self, *, username: str | None = None) -> builtins.list[ApiKey]:
        """Keys (never the secrets), revoked ones included; ``username`` keeps one user's."""
        data = self._http.request("GET", API_KEYS, params={"username": username})
        return ApiKey.from_api_list(data)

    def create(
        self, *, role: str, name: str | None = None, username: str | None = None
    ) -> NewApiKey:
        """Make a key with ``role`` (at most its user's); ``username`` defaults to the caller
        and is required when the caller is no user (the settings' admin key). The result's
        ``key`` is the secret, shown this once."""
        payload = body(role=role, name=name, username=username)
        return NewApiKey.from_api(self._http.request("POST", API_KEYS, body=payload))

    def revoke(self, key_id: str) -> ApiKey:
        """Revoke a key at once; returns it with its ``revoked_at``."""
        return ApiKey.from_api(self._http.request("DELETE", API_KEYS + path(key_id)))
