"""Secrets at rest (webhook signing keys): AES-256-GCM under the key of the secrets_key setting.

Stored form: ``aesgcm:v1:`` + URL-safe base64 of nonce (12 bytes) + ciphertext + tag, with the
owning row's id as associated data, so a ciphertext copied onto another row does not open.
Anything without the prefix is a secret stored in plain text (rows written before a key was
configured, or with none configured); ``open`` returns it as it is, and
``analytics.services.events.webhooks.encrypt_stored_secrets`` seals such rows once a key is set,
and re-seals rows sealed with a previous key (secrets_key_previous) under the current one.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PREFIX = "aesgcm:v1:"
_NONCE_BYTES = 12


class SecretUnreadable(Exception):
    """A sealed secret that cannot be opened: no key configured, or another key sealed it."""


def is_sealed(stored: str) -> bool:
    return stored.startswith(PREFIX)


class SecretBox:
    """Seals and opens secrets; without a key it stores them as given (and says so).

    ``previous``: keys that may still have sealed some rows (rotation); they open, never seal.
    """

    def __init__(self, key: bytes | None, previous: Sequence[bytes] = ()) -> None:
        self._aead = AESGCM(key) if key is not None else None
        self._previous = [AESGCM(old) for old in previous]

    @property
    def encrypting(self) -> bool:
        return self._aead is not None

    def seal(self, secret: str, owner: str) -> str:
        if self._aead is None:
            return secret
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, secret.encode("utf-8"), owner.encode("utf-8"))
        return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")

    def open(self, stored: str, owner: str) -> str:
        if not is_sealed(stored):
            return stored
        if self._aead is None:
            raise SecretUnreadable("the secret is encrypted and no secrets_key is configured")
        for aead in (self._aead, *self._previous):
            plain = _decrypt(aead, stored, owner)
            if plain is not None:
                return plain
        raise SecretUnreadable("the secret does not open with the configured secrets_key")

    def stale(self, stored: str, owner: str) -> bool:
        """Whether a stored secret should be sealed (again) under the current key: it is plain
        text, or sealed with a previous key. False without a key, or when no key opens it."""
        if self._aead is None:
            return False
        if not is_sealed(stored):
            return True
        if _decrypt(self._aead, stored, owner) is not None:
            return False
        return any(_decrypt(old, stored, owner) is not None for old in self._previous)


def _decrypt(aead: AESGCM, stored: str, owner: str) -> str | None:
    try:
        raw = base64.urlsafe_b64decode(stored[len(PREFIX) :])
        plain = aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], owner.encode("utf-8"))
    except (InvalidTag, ValueError):
        return None
    return plain.decode("utf-8")
