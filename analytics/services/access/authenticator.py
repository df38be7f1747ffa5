"""Who is calling, from the credentials a request presents: API keys, user passwords (HTTP
basic), the service's own tokens and an external OIDC issuer's; and token issue.

Order (docs/auth.md):
- an API key (``gak_`` prefix, or anything that is not a JWT) sent as Bearer or X-API-Key is a
  key;
- HTTP basic: a password with the key prefix is a key (the user name is free text, as before
  accounts); a user name with an empty password is a key (clients that can only send a name);
  otherwise a user's password, and for a name with no account the password is tried as a key
  (the settings' admin key, made before keys had a prefix). Failed basic logins count against
  the name and the address (LoginThrottle);
- a Bearer JWT goes to the verifier of its issuer: ours (HS256) or the configured OIDC issuer.
"""

from __future__ import annotations

from analytics.errors import Forbidden, ResourceNotFound, Unauthorized
from analytics.services.access.apikeys import KEY_PREFIX, ApiKeyService, Principal, lower_role
from analytics.services.access.logins import LoginThrottle
from analytics.services.access.tokens import (
    IssuedToken,
    OidcVerifier,
    TokenIssuer,
    looks_like_jwt,
    unverified_issuer,
)
from analytics.services.access.users import UserService


class Authenticator:
    def __init__(
        self,
        keys: ApiKeyService,
        users: UserService,
        throttle: LoginThrottle,
        tokens: TokenIssuer,
        oidc: OidcVerifier | None = None,
    ) -> None:
        self.keys = keys
        self.users = users
        self.throttle = throttle
        self.tokens = tokens
        self.oidc = oidc

    def api_key(self, key: str) -> Principal:
        return self.keys.authenticate(key)

    def basic(self, username: str, password: str, address: str | None) -> Principal:
        if password.startswith(KEY_PREFIX):
            return self.keys.authenticate(password)
        if not password:
            return self.keys.authenticate(username)
        self.throttle.check(username, address)
        try:
            record = self.users.login(username, password)
            if record is None:
                return self.keys.authenticate(password)
        except Unauthorized:
            self.throttle.failed(username, address)
            raise Unauthorized("Invalid user name or password.") from None
        return Principal(
            None, record.username, record.role, record.username, record.team, "password"
        )

    def bearer(self, token: str) -> Principal:
        if token.startswith(KEY_PREFIX) or not looks_like_jwt(token):
            return self.keys.authenticate(token)
        issuer = unverified_issuer(token)
        if issuer == self.tokens.issuer:
            return self._local(token)
        if self.oidc is not None and issuer == self.oidc.config.issuer:
            return self.oidc.verify(token)
        raise Unauthorized("Invalid token: unknown issuer.")

    def _local(self, token: str) -> Principal:
        claims = self.tokens.verify(token)
        role: str = claims["role"]
        key_id = claims.get("keyId")
        # A token is as good as what it was issued for is now: a revoked key, a disabled or
        # demoted user ends their tokens at once, not at expiry.
        if isinstance(key_id, str):
            caller = self.keys.check(key_id)
            assert caller.role is not None
            return Principal(
                caller.key_id,
                caller.name,
                lower_role(role, caller.role),
                caller.username,
                caller.team,
                "token",
            )
        username = str(claims["sub"])
        record = self.users.current(username)
        return Principal(
            None, username, lower_role(role, record.role), username, record.team, "token"
        )

    def issue_token(self, caller: Principal) -> IssuedToken:
        """POST /auth/token: a token for a caller who presented a password or an API key."""
        if not self.tokens.enabled:
            raise ResourceNotFound(
                "Token issue is off on this server: its operator sets jwt_secret "
                "(GPU_ANALYTICS_JWT_SECRET) or secrets_key to turn it on."
            )
        if not caller.authenticated:
            raise Unauthorized("Send a user's password (HTTP basic) or an API key.")
        if caller.method not in ("password", "apikey"):
            raise Forbidden(
                "A token is exchanged for a password or an API key, not for another token."
            )
        return self.tokens.issue(caller)
