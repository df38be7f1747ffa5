"""Password hashes: scrypt (memory-hard, in the standard library) with a random salt, the cost
parameters stored with the hash as ``scrypt$n$r$p$salt$hash`` (base64, unpadded)."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets
import threading
from collections import OrderedDict

# 16 MiB and about 50 ms per hash: OWASP's minimum for scrypt (N=2^14 with r=8 is its 2nd
# row after N=2^17); raising it later only affects new hashes, old ones keep their parameters.
SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
_HASH_BYTES = 32
_SALT_BYTES = 16
_MAX_MEMORY = 64 * 1024 * 1024


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=_HASH_BYTES, maxmem=_MAX_MEMORY
    )


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(_SALT_BYTES)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


class VerifiedPasswords:
    """Matches already proven in this process, so that HTTP basic (credentials on every
    request) costs one scrypt per password and hash, not one per request (Prometheus'
    exporter-toolkit caches its bcrypt checks likewise). An entry is an HMAC of the hash and
    the password under a per-process random key, never the password; a changed hash (a new
    password) is a new entry. Only matches are kept, so a wrong password always costs scrypt."""

    def __init__(self, size: int = 1024) -> None:
        self._key = secrets.token_bytes(32)
        self._size = size
        self._entries: OrderedDict[bytes, None] = OrderedDict()
        self._lock = threading.Lock()

    def _entry(self, password: str, stored: str) -> bytes:
        message = stored.encode("utf-8") + b"\0" + password.encode("utf-8")
        return hmac.new(self._key, message, hashlib.sha256).digest()

    def __contains__(self, pair: tuple[str, str]) -> bool:
        entry = self._entry(*pair)
        with self._lock:
            if entry not in self._entries:
                return False
            self._entries.move_to_end(entry)
            return True

    def add(self, password: str, stored: str) -> None:
        entry = self._entry(password, stored)
        with self._lock:
            self._entries[entry] = None
            self._entries.move_to_end(entry)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)


VERIFIED = VerifiedPasswords()


def verify_password(password: str, stored: str, verified: VerifiedPasswords = VERIFIED) -> bool:
    """Whether ``password`` matches ``stored`` (constant-time compare; False for any other
    or malformed hash format). A match proven before (in ``verified``) is not hashed again."""
    if (password, stored) in verified:
        return True
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        computed = _scrypt(password, _unb64(salt), int(n), int(r), int(p))
        matches = hmac.compare_digest(computed, _unb64(digest))
    except (ValueError, TypeError):
        return False
    if matches:
        verified.add(password, stored)
    return matches


# Verified when the user name is unknown, so that a probe cannot tell existing names from the
# response time (one scrypt either way).
@functools.cache
def dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))
