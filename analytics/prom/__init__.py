"""The PromQL layer: a Prometheus HTTP client, pure query builders, and answers reshaped.

Never imports Flask. The app creates one :class:`PromClient` per worker process (its HTTP
session is made lazily, after gunicorn forks) and gives it to each service that queries
Prometheus in its constructor.
"""

from __future__ import annotations

from analytics.prom.client import PromClient, QueryStats, Sample, Series, collect_stats
from analytics.settings import Settings

__all__ = [
    "PromClient",
    "QueryStats",
    "Sample",
    "Series",
    "collect_stats",
    "prom_client_for",
]


def prom_client_for(settings: Settings) -> PromClient:
    """The client the service's settings describe (auth, tenant, timeout)."""
    basic_auth = None
    if settings.prometheus_basic_auth_user:
        password = settings.prometheus_basic_auth_password
        basic_auth = (settings.prometheus_basic_auth_user, password.value if password else "")
    token = settings.prometheus_bearer_token
    return PromClient(
        settings.prometheus_url,
        timeout_seconds=settings.prometheus_timeout_seconds,
        bearer_token=token.value if token else None,
        basic_auth=basic_auth,
        org_id=settings.prometheus_org_id or None,
        query_stats=settings.prometheus_query_stats,
        flavor=settings.prometheus_flavor,
    )
