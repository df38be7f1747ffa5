"""Failed-login limits: per user name and per client address, in fixed windows counted in the
database (shared by every worker and replica).

Beyond ``per_user`` failures for a name, or ``per_address`` from an address, in one window,
logins for it answer 429 RATE_LIMIT_EXCEEDED with Retry-After (the rest of the window), right
password or not: a guesser learns nothing more until the window ends. A success resets nothing
(an attacker cannot clear the count by logging in to an account of their own elsewhere).
"""

from __future__ import annotations

import math
from typing import Any

from analytics.clock import Clock
from analytics.errors import RateLimitExceeded
from analytics.store import logins as login_store
from analytics.store.db import Database


class LoginThrottle:
    def __init__(
        self,
        database: Database,
        clock: Clock,
        per_user: int,
        per_address: int,
        window_seconds: int,
    ) -> None:
        self._db = database
        self._clock = clock
        self.per_user = per_user
        self.per_address = per_address
        self.window_seconds = window_seconds

    def _window(self) -> tuple[int, float]:
        now = self._clock.now().timestamp()
        return int(now // self.window_seconds) * self.window_seconds, now

    @staticmethod
    def _buckets(username: str, address: str | None) -> dict[str, str]:
        # User names are compared as given (they are case-sensitive), but the count is kept
        # case-insensitively so that "Alice" and "alice" share one budget of guesses.
        buckets = {"user": f"login-user:{username.lower()[:150]}"}
        if address:
            buckets["address"] = f"login-ip:{address[:150]}"
        return buckets

    def check(self, username: str, address: str | None) -> None:
        """RateLimitExceeded when the user name or the address has used up its failures."""
        window, now = self._window()
        buckets = self._buckets(username, address)
        with self._db.read() as conn:
            counts = login_store.failures(conn, list(buckets.values()), window)
        limits = {"user": self.per_user, "address": self.per_address}
        for kind, bucket in buckets.items():
            if counts.get(bucket, 0) >= limits[kind]:
                retry = max(math.ceil(window + self.window_seconds - now), 1)
                raise RateLimitExceeded(
                    f"Too many failed logins for this {'user' if kind == 'user' else 'address'}"
                    f" ({limits[kind]} per {self.window_seconds} s); try again in {retry} s.",
                    retry,
                    {},
                )

    def failed(self, username: str, address: str | None) -> None:
        window, _now = self._window()
        buckets = list(self._buckets(username, address).values())

        def run(conn: Any) -> None:
            for bucket in buckets:
                login_store.record_failure(conn, bucket, window)

        self._db.write(run)
