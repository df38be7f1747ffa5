"""Rate-limit policy: fixed one-minute windows per client bucket, counted in shared storage."""

from __future__ import annotations

import math
from dataclasses import dataclass

from analytics.clock import Clock
from analytics.store.ratelimits import CounterStore

WINDOW_S = 60


@dataclass(frozen=True)
class RateDecision:
    limit: int
    remaining: int
    reset_epoch_s: int
    retry_after_s: int
    allowed: bool

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset_epoch_s),
        }


class RateLimiter:
    def __init__(self, store: CounterStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    def hit(self, bucket: str, limit: int) -> RateDecision:
        now = self._clock.now().timestamp()
        window = int(now // WINDOW_S) * WINDOW_S
        count = self._store.hit(bucket, window)
        reset = window + WINDOW_S
        return RateDecision(
            limit=limit,
            remaining=max(limit - count, 0),
            reset_epoch_s=reset,
            retry_after_s=max(math.ceil(reset - now), 1),
            allowed=count <= limit,
        )
