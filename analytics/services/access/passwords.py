"""Password hashes: scrypt (memory-hard, in the standard library) with a random salt, the cost
parameters stored with the hash as ``scrypt$n$r$p$salt$hash`` (base64, unpadded)."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets

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


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches ``stored`` (constant-time compare; False for any other
    or malformed hash format)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        computed = _scrypt(password, _unb64(salt), int(n), int(r), int(p))
        return hmac.compare_digest(computed, _unb64(digest))
    except (ValueError, TypeError):
        return False


# Verified when the user name is unknown, so that a probe cannot tell existing names from the
# response time (one scrypt either way).
@functools.cache
def dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))
