"""The PromQL layer: a Prometheus HTTP client, pure query builders, and pandas frames.

Never imports Flask. The app creates one :class:`PromClient` per worker process (its HTTP
session is made lazily, after gunicorn forks) and binds it for each request, so views and
services reach it with :func:`get_prom_client`; services may also take it as a constructor
argument.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token

from analytics.prom.client import PromClient, QueryStats, Sample, Series, collect_stats
from analytics.settings import Settings

__all__ = [
    "PromClient",
    "QueryStats",
    "Sample",
    "Series",
    "bind_prom_client",
    "collect_stats",
    "get_prom_client",
    "prom_client_for",
    "reset_prom_client",
    "using_prom_client",
]

_current: ContextVar[PromClient | None] = ContextVar("gpu_analytics_prom_client", default=None)


def get_prom_client() -> PromClient:
    """The Prometheus client of the app serving the current request (or the bound one)."""
    client = _current.get()
    if client is None:
        raise RuntimeError("no Prometheus client is bound (outside an analytics request?)")
    return client


def bind_prom_client(client: PromClient) -> Token[PromClient | None]:
    """Make ``client`` what :func:`get_prom_client` returns in this context (the app does this
    before each request)."""
    return _current.set(client)


def reset_prom_client(token: Token[PromClient | None]) -> None:
    _current.reset(token)


@contextmanager
def using_prom_client(client: PromClient) -> Iterator[PromClient]:
    """Bind ``client`` for the block: background jobs, scripts and tests."""
    token = bind_prom_client(client)
    try:
        yield client
    finally:
        reset_prom_client(token)


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
