"""Secrets at rest (webhook signing keys): AES-256-GCM under the key of the secrets_key setting.

Stored form: ``aesgcm:v1:`` + URL-safe base64 of nonce (12 bytes) + ciphertext + tag, with the
owning row's id as associated data, so a ciphertext copied onto another row does not open.
Anything without the prefix is a secret stored in plain text (rows written before a key was
configured, or with none configured); ``open`` returns it as it is, and
``analytics.services.events.webhooks.encrypt_stored_secrets`` seals such rows once a key is set.
"""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PREFIX = "aesgcm:v1:"
_NONCE_BYTES = 12


class SecretUnreadable(Exception):
    """A sealed secret that cannot be opened: no key configured, or another key sealed it."""


def is_sealed(stored: str) -> bool:
    return stored.startswith(PREFIX)


class SecretBox:
    """Seals and opens secrets; without a key it stores them as given (and says so)."""

    def __init__(self, key: bytes | None) -> None:
        self._aead = AESGCM(key) if key is not None else None

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
        try:
            raw = base64.urlsafe_b64decode(stored[len(PREFIX) :])
            plain = self._aead.decrypt(
                raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], owner.encode("utf-8")
            )
        except (InvalidTag, ValueError):
            raise SecretUnreadable(
                "the secret does not open with the configured secrets_key"
            ) from None
        return plain.decode("utf-8")
