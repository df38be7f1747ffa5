"""JSON Web Tokens (PyJWT lives here alone): the HS256 tokens POST /auth/token issues, and
tokens of an external OIDC issuer (Kubernetes service accounts, Dex, Keycloak) verified against
its JWKS.

Expiry is checked against the service's clock, not PyJWT's, so that tests move time.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import ssl
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import jwt

from analytics.clock import Clock
from analytics.errors import Unauthorized
from analytics.services.access.apikeys import Principal, role_rank
from analytics.settings import Settings

log = logging.getLogger(__name__)

LOCAL_ALGORITHM = "HS256"
# Clock skew allowed between us and an external issuer, seconds.
LEEWAY_S = 30


def looks_like_jwt(value: str) -> bool:
    return value.count(".") == 2 and value.startswith("eyJ")


def unverified_issuer(token: str) -> str | None:
    """The iss claim, read without checking anything: only to pick the verifier."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise Unauthorized("Malformed bearer token.") from None
    issuer = claims.get("iss")
    return issuer if isinstance(issuer, str) else None


def _check_times(claims: Mapping[str, Any], now: float, leeway: float = 0) -> None:
    exp = claims.get("exp")
    if not isinstance(exp, int | float) or isinstance(exp, bool):
        raise Unauthorized("The token has no expiry (exp).")
    if now > exp + leeway:
        raise Unauthorized("The token has expired.")
    nbf = claims.get("nbf")
    if isinstance(nbf, int | float) and now + leeway < nbf:
        raise Unauthorized("The token is not valid yet (nbf).")
    iat = claims.get("iat")
    if isinstance(iat, int | float) and now + leeway < iat:
        raise Unauthorized("The token was issued in the future (iat).")


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    token_type: str
    expires_in: int
    expires_at: datetime
    role: str
    subject: str


def signing_key(settings: Settings) -> bytes | None:
    """jwt_secret, else a key derived from secrets_key (HMAC-SHA256 with a fixed label, so the
    two uses of the one secret never share a key), else None (token issue off)."""
    if settings.jwt_secret is not None:
        return settings.jwt_secret.value.encode()
    key = settings.secrets_key_bytes
    if key is not None:
        return hmac.new(key, b"gpu-analytics jwt signing key v1", hashlib.sha256).digest()
    return None


class TokenIssuer:
    """Issues and verifies the service's own tokens (HS256, iss = jwt_issuer)."""

    def __init__(self, key: bytes | None, issuer: str, lifetime_seconds: int, clock: Clock):
        self._key = key
        self.issuer = issuer
        self.lifetime_seconds = lifetime_seconds
        self._clock = clock

    @property
    def enabled(self) -> bool:
        return self._key is not None

    def issue(self, caller: Principal) -> IssuedToken:
        if self._key is None or caller.role is None:
            raise RuntimeError("token issue needs a signing key and an authenticated caller")
        now = self._clock.now()
        expires = now + timedelta(seconds=self.lifetime_seconds)
        subject = caller.username or f"key:{caller.key_id}"
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": subject,
            "role": caller.role,
            "team": caller.team,
            "iat": int(now.timestamp()),
            "exp": int(expires.timestamp()),
            "jti": uuid.uuid4().hex,
        }
        if caller.key_id is not None:
            claims["keyId"] = caller.key_id
        token = jwt.encode(claims, self._key, algorithm=LOCAL_ALGORITHM)
        return IssuedToken(token, "Bearer", self.lifetime_seconds, expires, caller.role, subject)

    def verify(self, token: str) -> dict[str, Any]:
        """The claims of a token this service signed; Unauthorized for anything else."""
        if self._key is None:
            raise Unauthorized("This server issues no tokens: the token cannot be checked.")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._key,
                algorithms=[LOCAL_ALGORITHM],
                issuer=self.issuer,
                options={
                    "require": ["exp", "iat", "iss", "sub"],
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"Invalid token: {_reason(exc)}.") from None
        _check_times(claims, self._clock.now().timestamp())
        role = claims.get("role")
        if not isinstance(role, str) or role not in ("viewer", "operator", "admin"):
            raise Unauthorized("Invalid token: no role.")
        return claims


def _reason(exc: jwt.PyJWTError) -> str:
    # PyJWT's messages name the failed check, never the key: safe to show.
    return str(exc).rstrip(".") or type(exc).__name__


def _claim(claims: Mapping[str, Any], path: str) -> Any:
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


@dataclass(frozen=True)
class OidcConfig:
    issuer: str
    jwks_url: str
    audience: str
    algorithms: Sequence[str]
    username_claim: str
    team_claim: str
    role_claim: str
    role_map: Mapping[str, str]
    default_role: str
    jwks_cache_seconds: int
    jwks_ca_file: Path | None = None
    jwks_token_file: Path | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> OidcConfig | None:
        if not settings.oidc_issuer:
            return None
        return cls(
            issuer=settings.oidc_issuer,
            jwks_url=settings.oidc_jwks_url,
            audience=settings.oidc_audience,
            algorithms=[a.strip() for a in settings.oidc_algorithms.split(",") if a.strip()],
            username_claim=settings.oidc_username_claim,
            team_claim=settings.oidc_team_claim,
            role_claim=settings.oidc_role_claim,
            role_map=dict(settings.oidc_role_map),
            default_role=settings.oidc_default_role,
            jwks_cache_seconds=settings.oidc_jwks_cache_seconds,
            jwks_ca_file=settings.oidc_jwks_ca_file,
            jwks_token_file=settings.oidc_jwks_token_file,
        )


class _JwksClient(jwt.PyJWKClient):
    """PyJWKClient that sends a bearer token read from a file at each fetch (the Kubernetes API
    server's JWKS wants one; the kubelet rotates the file's token)."""

    def __init__(self, uri: str, token_file: Path | None, **kwargs: Any) -> None:
        super().__init__(uri, **kwargs)
        self._token_file = token_file

    def fetch_data(self) -> Any:
        if self._token_file is not None:
            try:
                token = self._token_file.read_text().strip()
            except OSError as exc:
                raise jwt.PyJWKClientConnectionError(
                    f"cannot read oidc_jwks_token_file: {exc.strerror}"
                ) from None
            self.headers = {"Authorization": f"Bearer {token}"}
        return super().fetch_data()


class OidcVerifier:
    """Tokens of one external issuer: signature by a key of its JWKS (fetched over HTTP and
    cached), iss, aud, exp; claims mapped to a role."""

    def __init__(self, config: OidcConfig, clock: Clock) -> None:
        self.config = config
        self._clock = clock
        context = (
            ssl.create_default_context(cafile=str(config.jwks_ca_file))
            if config.jwks_ca_file is not None
            else None
        )
        self._jwks = _JwksClient(
            config.jwks_url,
            config.jwks_token_file,
            cache_jwk_set=True,
            lifespan=config.jwks_cache_seconds,
            timeout=5,
            ssl_context=context,
        )

    def verify(self, token: str) -> Principal:
        config = self.config
        try:
            key = self._jwks.get_signing_key_from_jwt(token)
        except jwt.PyJWKClientConnectionError as exc:
            log.warning("cannot fetch the OIDC issuer's keys from %s: %s", config.jwks_url, exc)
            raise Unauthorized("The token issuer's keys cannot be fetched now.") from None
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"Invalid token: {_reason(exc)}.") from None
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=list(config.algorithms),
                audience=config.audience,
                issuer=config.issuer,
                options={
                    "require": ["exp", "iss", "aud"],
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"Invalid token: {_reason(exc)}.") from None
        _check_times(claims, self._clock.now().timestamp(), LEEWAY_S)
        username = _claim(claims, config.username_claim)
        if not isinstance(username, str) or not username:
            raise Unauthorized(f"The token has no {config.username_claim} claim.")
        role = self.role_for(claims)
        if role is None:
            raise Unauthorized("The token's claims map to no role on this service.")
        team = _claim(claims, config.team_claim) if config.team_claim else None
        return Principal(
            None,
            username[:160],
            role,
            username[:160],
            team if isinstance(team, str) else None,
            "oidc",
        )

    def role_for(self, claims: Mapping[str, Any]) -> str | None:
        """The highest role any value of the role claim maps to, else the default role."""
        value = _claim(claims, self.config.role_claim)
        values = [value] if isinstance(value, str) else value if isinstance(value, list) else []
        roles = [
            self.config.role_map[v]
            for v in values
            if isinstance(v, str) and v in self.config.role_map
        ]
        if roles:
            return max(roles, key=role_rank)
        return self.config.default_role or None
