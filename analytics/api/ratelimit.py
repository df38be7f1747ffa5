"""Rate-limit buckets: which counter and limit a request falls under."""

from __future__ import annotations

from dataclasses import dataclass

from flask import request

from analytics.api.context import principal

# Probes and scrapes must never be throttled: a busy client would take the pod out of service.
EXEMPT_PATHS = ("/healthz", "/readyz", "/metrics", "/k8s-monitor/api/actuator")
BATCH_PREFIX = "/k8s-monitor/api/v1/batch/"


@dataclass(frozen=True)
class Limits:
    anonymous: int
    authenticated: int
    batch: int
    enabled: bool


def client_identity() -> str:
    """Who the request counts against: its API key or account, or its address when anonymous."""
    caller = principal()
    return caller.subject if caller.authenticated else f"ip:{request.remote_addr}"


def bucket_and_limit(limits: Limits) -> tuple[str, int]:
    caller = principal()
    who = client_identity()
    if request.path.startswith(BATCH_PREFIX):
        return f"batch:{who}", limits.batch
    if caller.authenticated:
        return who, limits.authenticated
    return who, limits.anonymous
