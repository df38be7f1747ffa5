"""The HTTP layer: one pooled session, auth, timeouts, bounded retries, envelope unwrapping.

Retry policy (bounded by ``max_retries``; every wait is capped by ``max_retry_wait_s``):

* 429 ``RATE_LIMIT_EXCEEDED``, any method: the service refused the request before doing any
  work, so it is sent again after the ``Retry-After`` seconds it asked for. When it asks for
  more than ``max_retry_wait_s`` the error is raised at once (with ``retry_after`` set), so a
  caller is never blocked for a minute without knowing.
* 502, 503, 504 (``METRICS_UNAVAILABLE`` when Prometheus is down, a proxy without a backend):
  idempotent methods only (GET, PUT, DELETE, HEAD, OPTIONS), after ``Retry-After`` when given,
  else exponential backoff (``backoff_s`` x 2^attempt, at most ``max_backoff_s``). A POST is
  never repeated on these: an allocation must not be made twice.
* Connection refused or reset: idempotent methods only, with the same backoff; a connect timeout
  is retried for every method (the request never left). A read timeout is never retried.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote, urljoin

import requests

from k8s_gpu_client._version import __version__
from k8s_gpu_client.errors import (
    ApiError,
    RequestTimeoutError,
    TransportError,
    error_from_response,
)
from k8s_gpu_client.models._base import ApiModel, format_datetime

IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RETRY_STATUSES = frozenset({502, 503, 504})
USER_AGENT = f"k8s-gpu-client/{__version__}"

Timeout = float | tuple[float, float]


@dataclass(frozen=True)
class RateLimit:
    """The service's ``X-RateLimit-*`` headers of the last answer."""

    limit: int
    remaining: int
    reset_epoch_s: int


def path(*segments: str) -> str:
    """A URL path from segments, each percent-encoded (ids can hold any character)."""
    return "/" + "/".join(quote(str(segment), safe="") for segment in segments)


def query_value(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return format_datetime(value)
    return value


def json_value(value: Any) -> Any:
    """Request bodies: models as API objects without nulls, datetimes as ISO with Z."""
    if isinstance(value, ApiModel):
        return {k: json_value(v) for k, v in value.to_api().items() if v is not None}
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, Mapping):
        return {k: json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    return value


class Transport:
    """Sends requests to ``base_url`` and returns the envelope's ``data``; see module docstring."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        username: str | None = None,
        password: str | None = None,
        token: str | None = None,
        timeout: Timeout = (5.0, 30.0),
        max_retries: int = 3,
        backoff_s: float = 0.5,
        max_backoff_s: float = 8.0,
        max_retry_wait_s: float = 60.0,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        given = [api_key is not None, username is not None or password is not None]
        given.append(token is not None)
        if sum(given) > 1:
            raise ValueError("give one of api_key, username/password or token")
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.max_retry_wait_s = max_retry_wait_s
        self.rate_limit: RateLimit | None = None
        self._sleep = sleep
        self._owns_session = session is None
        self._session = session or requests.Session()
        self._session.headers.setdefault("User-Agent", USER_AGENT)
        self._session.headers["Accept"] = "application/json"
        if api_key is not None or token is not None:
            self._session.headers["Authorization"] = f"Bearer {api_key or token}"
        elif username is not None or password is not None:
            # A user's name and password; or any name and an API key as the password.
            self._session.auth = (username or "", password or "")

    def close(self) -> None:
        if self._owns_session:
            self._session.close()

    def request(
        self,
        method: str,
        url_path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        envelope: bool = True,
    ) -> Any:
        """Send one request (with retries) and return the envelope's ``data``.

        ``url_path`` is relative to the base URL; with ``envelope=False`` the decoded JSON is
        returned as it is (the actuator endpoints answer without an envelope).
        """
        response = self._exchange(method, url_path, params, body)
        return _decode_success(response, envelope)

    def request_page(
        self, method: str, url_path: str, *, params: Mapping[str, Any] | None = None
    ) -> tuple[Any, Any]:
        """:meth:`request` for a fleet-wide list: the envelope's ``data`` and its
        ``pagination`` (None when the service answered the whole list)."""
        body = _success_envelope(self._exchange(method, url_path, params, None))
        return body["data"], body.get("pagination")

    def _exchange(
        self, method: str, url_path: str, params: Mapping[str, Any] | None, body: Any
    ) -> requests.Response:
        """The successful response to one request, after retries; raises ApiError else."""
        method = method.upper()
        if url_path.startswith("/../"):
            # Relative to the API base, as the seed writes ${API_BASE}/../actuator/health.
            url = urljoin(self.base_url + "/", url_path[1:])
        else:
            url = self.base_url + url_path
        query = {k: query_value(v) for k, v in (params or {}).items() if v is not None}
        payload = json_value(body) if body is not None else None
        attempt = 0
        while True:
            response = self._send(method, url, query, payload, attempt)
            if response is None:
                attempt += 1
                continue
            self._note_rate_limit(response)
            if response.status_code < 400:
                return response
            error = error_from_response(response.status_code, _decode(response), response.headers)
            wait = self._retry_wait(method, response.status_code, error, attempt)
            if wait is None:
                raise error
            self._sleep(wait)
            attempt += 1

    def _send(
        self, method: str, url: str, query: Mapping[str, Any], payload: Any, attempt: int
    ) -> requests.Response | None:
        """The response, or None when a retryable transport failure was waited out."""
        try:
            return self._session.request(
                method, url, params=query, json=payload, timeout=self.timeout
            )
        except requests.exceptions.ConnectTimeout as exc:
            failure: TransportError = RequestTimeoutError(f"connecting to {url} timed out")
            retryable = True
            cause: Exception = exc
        except requests.exceptions.Timeout as exc:
            raise RequestTimeoutError(f"{method} {url}: no answer within {self.timeout}s") from exc
        except requests.exceptions.ConnectionError as exc:
            failure = TransportError(f"{method} {url}: {exc}")
            retryable = method in IDEMPOTENT
            cause = exc
        except requests.exceptions.RequestException as exc:
            raise TransportError(f"{method} {url}: {exc}") from exc
        if not retryable or attempt >= self.max_retries:
            raise failure from cause
        self._sleep(self._backoff(attempt))
        return None

    def _retry_wait(self, method: str, status: int, error: ApiError, attempt: int) -> float | None:
        if attempt >= self.max_retries:
            return None
        if status == 429 or (status in RETRY_STATUSES and method in IDEMPOTENT):
            wait = error.retry_after if error.retry_after is not None else self._backoff(attempt)
        else:
            return None
        if wait > self.max_retry_wait_s:
            return None
        return wait

    def _backoff(self, attempt: int) -> float:
        return float(min(self.max_backoff_s, self.backoff_s * 2**attempt))

    def _note_rate_limit(self, response: requests.Response) -> None:
        headers = response.headers
        with contextlib.suppress(KeyError, ValueError):
            self.rate_limit = RateLimit(
                int(headers["X-RateLimit-Limit"]),
                int(headers["X-RateLimit-Remaining"]),
                int(headers["X-RateLimit-Reset"]),
            )


def _decode(response: requests.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return response.text


def _decode_success(response: requests.Response, envelope: bool) -> Any:
    if not envelope:
        return _decode(response)
    return _success_envelope(response)["data"]


def _success_envelope(response: requests.Response) -> Mapping[str, Any]:
    body = _decode(response)
    if isinstance(body, Mapping) and body.get("status") == "success" and "data" in body:
        return body
    raise ApiError(
        f"HTTP {response.status_code} answer is not a success envelope",
        code="INVALID_RESPONSE",
        status=response.status_code,
        body=body,
    )


__all__ = ["RateLimit", "Transport", "path"]
