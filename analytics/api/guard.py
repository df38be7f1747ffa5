"""Every request passes here first: authenticate, count against the rate limit, authorise.

Authentication failures are raised only after the request was counted, so a 401 carries the
X-RateLimit-* headers like every other response and cannot be used to probe keys for free.
"""

from __future__ import annotations

from flask import Flask, Response, g, request

from analytics.api.auth import API_PREFIX, authenticate, authorize
from analytics.api.context import principal, services
from analytics.api.ratelimit import EXEMPT_PATHS, Limits, bucket_and_limit
from analytics.errors import RateLimitExceeded, Unauthorized
from analytics.services.access.apikeys import ANONYMOUS
from analytics.services.access.ratelimits import RateDecision


def init_request_guard(app: Flask, limits: Limits, anonymous_read: bool) -> None:
    @app.before_request
    def _guard() -> None:
        g.principal = ANONYMOUS
        auth_error: Unauthorized | RateLimitExceeded | None = None
        try:
            g.principal = authenticate()
        except (Unauthorized, RateLimitExceeded) as exc:
            # RateLimitExceeded: a password login from a name or address with too many
            # failures (analytics.services.access.logins).
            auth_error = exc
        if limits.enabled and not request.path.startswith(EXEMPT_PATHS):
            bucket, limit = bucket_and_limit(limits)
            decision = services().rate_limiter.hit(bucket, limit)
            g.rate_decision = decision
            if not decision.allowed:
                raise RateLimitExceeded(
                    f"Rate limit of {limit} requests per minute exceeded.",
                    decision.retry_after_s,
                    decision.headers(),
                )
        if auth_error is not None and request.path.startswith(API_PREFIX):
            if isinstance(auth_error, RateLimitExceeded) and g.get("rate_decision"):
                auth_error.headers.update(g.rate_decision.headers())
            raise auth_error
        authorize(principal(), anonymous_read)

    @app.after_request
    def _rate_headers(response: Response) -> Response:
        decision: RateDecision | None = g.get("rate_decision")
        if decision is not None:
            response.headers.update(decision.headers())
        return response
