"""``GpuManagementClient``: the entry point of the SDK (seed section 7.1)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from types import TracebackType

import requests

from k8s_gpu_client._http import RateLimit, Timeout, Transport
from k8s_gpu_client.api.accounts import ApiKeys, Users
from k8s_gpu_client.api.allocations import Allocations
from k8s_gpu_client.api.batch import Batch
from k8s_gpu_client.api.cluster import Cluster
from k8s_gpu_client.api.cost import Cost
from k8s_gpu_client.api.devices import Devices
from k8s_gpu_client.api.metrics import Metrics
from k8s_gpu_client.api.mig import Mig
from k8s_gpu_client.api.resources import Resources
from k8s_gpu_client.api.webhooks import Webhooks
from k8s_gpu_client.models.accounts import Token

DEFAULT_BASE_URL = "http://localhost:8080/k8s-monitor/api/v1"


class GpuManagementClient:
    """A client of the K8s GPU Management API.

    ``api_key`` is sent as ``Authorization: Bearer``; or give ``username`` and ``password`` for
    HTTP basic (a user's password, or any name and an API key as the password); or ``token``,
    a JWT from :meth:`issue_token` or from the service's OIDC issuer, sent as Bearer.
    ``timeout`` is seconds, or (connect, read). Retries: see :mod:`k8s_gpu_client._http` (429
    after ``Retry-After``, 502/503/504 with backoff on idempotent methods, at most
    ``max_retries`` times). Use it as a context manager, or call :meth:`close`, to close its
    connection pool. Accounts: ``users`` and ``api_keys`` (docs/auth.md).
    """

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        api_key: str | None = None,
        *,
        username: str | None = None,
        password: str | None = None,
        token: str | None = None,
        timeout: Timeout = (5.0, 30.0),
        max_retries: int = 3,
        backoff_s: float = 0.5,
        max_backoff_s: float = 8.0,
        max_retry_wait_s: float = 60.0,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        extra = {"sleep": sleep} if sleep is not None else {}
        self._transport = Transport(
            base_url,
            api_key=api_key,
            username=username,
            password=password,
            token=token,
            timeout=timeout,
            max_retries=max_retries,
            backoff_s=backoff_s,
            max_backoff_s=max_backoff_s,
            max_retry_wait_s=max_retry_wait_s,
            session=session,
            **extra,
        )
        self.devices = Devices(self._transport)
        self.mig = Mig(self._transport)
        self.allocations = Allocations(self._transport)
        self.metrics = Metrics(self._transport)
        self.cost = Cost(self._transport)
        self.cluster = Cluster(self._transport)
        self.resources = Resources(self._transport)
        self.webhooks = Webhooks(self._transport)
        self.batch = Batch(self._transport)
        self.users = Users(self._transport)
        self.api_keys = ApiKeys(self._transport)

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, prefix: str = "GPUCTL_"
    ) -> GpuManagementClient:
        """From ``<prefix>BASE_URL``, ``<prefix>API_KEY``, ``<prefix>USERNAME`` and
        ``<prefix>PASSWORD``, or ``<prefix>TOKEN``, and ``<prefix>TIMEOUT`` (seconds)."""
        env = os.environ if environ is None else environ
        timeout = env.get(prefix + "TIMEOUT")
        return cls(
            env.get(prefix + "BASE_URL") or DEFAULT_BASE_URL,
            env.get(prefix + "API_KEY") or None,
            username=env.get(prefix + "USERNAME") or None,
            password=env.get(prefix + "PASSWORD") or None,
            token=env.get(prefix + "TOKEN") or None,
            timeout=float(timeout) if timeout else (5.0, 30.0),
        )

    @property
    def base_url(self) -> str:
        return self._transport.base_url

    @property
    def rate_limit(self) -> RateLimit | None:
        """The ``X-RateLimit-*`` headers of the last answer (None before the first)."""
        return self._transport.rate_limit

    def issue_token(self) -> Token:
        """``POST /auth/token``: a short-lived token for this client's password or API key;
        its ``access_token`` is what ``GpuManagementClient(token=...)`` takes. A service with
        no signing key configured raises ResourceNotFoundError."""
        return Token.from_api(self._transport.request("POST", "/auth/token"))

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> GpuManagementClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"GpuManagementClient({self.base_url!r})"
