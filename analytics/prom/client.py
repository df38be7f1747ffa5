"""A small client for the Prometheus HTTP API (and compatible servers: Thanos, Mimir, VictoriaMetrics).

One pooled ``requests.Session`` per process (re-created after a fork), connect/read timeouts,
retries with a short backoff on connection errors and 502/503/504 only, and every request --
all retries together -- bounded by ``timeout_seconds``, so an endpoint that needs Prometheus
answers 503 METRICS_UNAVAILABLE within that time when Prometheus is down or slow.

Errors: :class:`MetricsUnavailable` when Prometheus is unreachable, times out or answers 5xx;
:class:`PromQueryError` when it refuses the query (4xx or ``status: error``), which is our bug.
Credentials travel in headers only and never appear in errors or logs.

``flavor="victoriametrics"``: VictoriaMetrics answers an instant query whose time lies within
``-search.latencyOffset`` (30 s by default) of its clock as of now - 30 s, so the newest
readings would be half a minute old and windows ending "now" would end early; ``nocache=1``
turns that off for the query (it also skips the rollup cache, which instant queries do not
use). Prometheus, Thanos and Mimir need nothing of the kind.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypeVar

import orjson
import requests
from requests.adapters import HTTPAdapter

from analytics.errors import MetricsUnavailable, PromQueryError

# One thread pool per process for gather(): starting threads per request cost ~9 ms of a 50 ms
# fleet overview at 512 GPUs. Made on first use in each process (gunicorn forks before that).
_GATHER_THREADS = 16
_pool_lock = threading.Lock()
_pool: tuple[int, ThreadPoolExecutor] | None = None
_in_pool = threading.local()


def _gather_pool() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None or _pool[0] != os.getpid():
            executor = ThreadPoolExecutor(_GATHER_THREADS, thread_name_prefix="prom-gather")
            _pool = (os.getpid(), executor)
        return _pool[1]


log = logging.getLogger(__name__)
T = TypeVar("T")

# Queries longer than this go as a POST form (URLs have length limits in proxies).
_POST_THRESHOLD = 1500
_RETRY_STATUSES = frozenset({502, 503, 504})
_BACKOFF_SECONDS = 0.1


class Sample(NamedTuple):
    """One element of an instant vector (or a scalar, with empty labels). A tuple: an answer
    of a fleet-wide query holds tens of thousands of them."""

    labels: dict[str, str]
    value: float
    timestamp: float


@dataclass(frozen=True)
class Series:
    """One series of a range query: ``(unix time, value)`` points in time order."""

    labels: dict[str, str]
    points: list[tuple[float, float]]


@dataclass
class QueryStats:
    """What the queries of one unit of work (an HTTP request, a sync) cost Prometheus."""

    queries: int = 0
    samples_returned: int = 0
    # Samples Prometheus read to answer (``stats=all``), when the client asks for stats.
    samples_queried: int = 0
    seconds: float = 0.0
    by_query: list[tuple[str, int, int]] = field(default_factory=list)
    # The oldest live view (analytics/services/kernel/live_views.py) the request was answered from.
    view_age_s: float | None = None


_stats = threading.local()


@contextmanager
def collect_stats() -> Iterator[QueryStats]:
    """Count the queries made by this thread inside the block (nested blocks each count)."""
    stats = QueryStats()
    stack: list[QueryStats] = getattr(_stats, "stack", [])
    _stats.stack = [*stack, stats]
    try:
        yield stats
    finally:
        _stats.stack = stack


def _record(promql: str, returned: int, queried: int, seconds: float) -> None:
    for stats in getattr(_stats, "stack", []):
        stats.queries += 1
        stats.samples_returned += returned
        stats.samples_queried += queried
        stats.seconds += seconds
        stats.by_query.append((promql, returned, queried))


def note_view_age(age_s: float) -> None:
    """Record that this thread's answer used a live view built ``age_s`` seconds ago."""
    for stats in getattr(_stats, "stack", []):
        stats.view_age_s = max(stats.view_age_s or 0.0, age_s)


class PromClient:
    """Prometheus HTTP API client; thread-safe, cheap to create (the session is made lazily)."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout_seconds: float = 5.0,
        retries: int = 1,
        bearer_token: str | None = None,
        basic_auth: tuple[str, str] | None = None,
        org_id: str | None = None,
        query_stats: bool = False,
        flavor: str = "prometheus",
    ) -> None:
        if timeout_seconds <= 0:
            raise ValueError("timeout_seconds must be positive")
        self.base_url = base_url.rstrip("/")
        self.timeout_seconds = float(timeout_seconds)
        self.retries = max(0, int(retries))
        self.query_stats = query_stats
        self.flavor = flavor
        self._headers: dict[str, str] = {"Accept": "application/json"}
        if bearer_token:
            self._headers["Authorization"] = f"Bearer {bearer_token}"
        if org_id:
            self._headers["X-Scope-OrgID"] = org_id
        self._basic_auth = basic_auth
        self._session: requests.Session | None = None
        self._pid = 0
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"PromClient({self.base_url!r}, timeout_seconds={self.timeout_seconds})"

    # -- queries -------------------------------------------------------------------------------

    def query(self, promql: str, at: float | None = None) -> list[Sample]:
        """An instant query. A scalar result is one Sample with empty labels."""
        params: dict[str, str] = {"query": promql}
        if at is not None:
            params["time"] = _fmt_time(at)
        if self.flavor == "victoriametrics":
            params["nocache"] = "1"  # evaluate at the time asked (module docstring)
        data = self._api("/api/v1/query", params, promql)
        result_type = data.get("resultType")
        result = data.get("result")
        if result_type == "vector":
            samples = [
                Sample(item.get("metric", {}), float(item["value"][1]), float(item["value"][0]))
                for item in result or []
            ]
            returned = len(samples)
        elif result_type in ("scalar", "string") and isinstance(result, list):
            samples = [Sample({}, _value(result[1]), float(result[0]))]
            returned = 1
        else:
            raise PromQueryError(promql, f"expected an instant vector, got {result_type}")
        self._note(promql, data, returned)
        return samples

    def query_range(
        self, promql: str, start: float, end: float, step_seconds: float
    ) -> list[Series]:
        """A range query from ``start`` to ``end`` (unix seconds) at ``step_seconds``."""
        if step_seconds <= 0:
            raise ValueError("step_seconds must be positive")
        params = {
            "query": promql,
            "start": _fmt_time(start),
            "end": _fmt_time(end),
            "step": _fmt_seconds(step_seconds),
        }
        data = self._api("/api/v1/query_range", params, promql)
        if data.get("resultType") != "matrix":
            raise PromQueryError(promql, f"expected a matrix, got {data.get('resultType')}")
        series = [
            Series(
                dict(item.get("metric", {})),
                [(float(t), _value(v)) for t, v in item.get("values", [])],
            )
            for item in data.get("result") or []
        ]
        self._note(promql, data, sum(len(s.points) for s in series))
        return series

    def query_ranges(
        self,
        requests_: Sequence[tuple[str, float, float, float]],
        max_parallel: int = 4,
    ) -> list[list[Series]]:
        """Several range queries ``(promql, start, end, step)`` at once; answers in order."""
        calls = [functools.partial(self.query_range, *request) for request in requests_]
        return self.gather(calls, max_parallel=max_parallel)

    def gather(self, calls: Sequence[Callable[[], T]], max_parallel: int = 4) -> list[T]:
        """Run several client calls at once (Prometheus evaluates queries concurrently);
        results in order, the first error raised. Their cost is counted in the calling
        thread's stats, and each call keeps its own deadline, so all end within the timeout.
        """
        # Inside a gather already (a call that gathers itself): run inline, so the shared pool
        # can never wait on itself.
        if len(calls) <= 1 or max_parallel <= 1 or getattr(_in_pool, "active", False):
            return [call() for call in calls]
        stacks = getattr(_stats, "stack", [])

        def one(call: Callable[[], T]) -> tuple[T, QueryStats]:
            _in_pool.active = True
            try:
                with collect_stats() as stats:
                    return call(), stats
            finally:
                _in_pool.active = False

        pool = _gather_pool()
        done: list[tuple[T, QueryStats]] = []
        for first in range(0, len(calls), max_parallel):
            done.extend(pool.map(one, calls[first : first + max_parallel]))
        for _result, stats in done:
            for outer in stacks:
                outer.queries += stats.queries
                outer.samples_returned += stats.samples_returned
                outer.samples_queried += stats.samples_queried
                outer.seconds += stats.seconds
                outer.by_query.extend(stats.by_query)
        return [result for result, _stats in done]

    def query_parts(
        self,
        parts: Mapping[str, str],
        label: str,
        at: float | None = None,
        cached: Callable[[str, Callable[[], list[Sample]]], list[Sample]] | None = None,
        cached_parts: Collection[str] = (),
    ) -> list[Sample]:
        """Instant queries run side by side, each answer's samples labelled ``label=<key>``:
        a tagged union (``label_replace(...) or ...``) in several queries. At thousands of
        series one union is evaluated on one core, its parts here on as many as Prometheus
        has. The parts named in ``cached_parts`` are answered by ``cached(promql, compute)``
        (a cache, for windows that end in the past: their answer does not change); its
        samples are shared between callers, who must not change them."""

        def part(key: str, promql: str) -> Callable[[], list[Sample]]:
            def compute() -> list[Sample]:
                found = self.query(promql, at)
                for sample in found:  # labels fresh from the answer: tagged in place
                    sample.labels[label] = key
                return found

            if cached is not None and key in cached_parts:
                return lambda: cached(f"{label}={key} {promql}", compute)
            return compute

        answers = self.gather([part(key, promql) for key, promql in parts.items()])
        return [sample for answer in answers for sample in answer]

    def targets(self) -> list[dict[str, Any]]:
        """The active scrape targets (``/api/v1/targets``' ``activeTargets``)."""
        data = self._api("/api/v1/targets", {"state": "active"}, "targets")
        return list(data.get("activeTargets") or [])

    def alerts(self) -> list[dict[str, Any]]:
        """The firing and pending alerts of the server's alerting rules."""
        data = self._api("/api/v1/alerts", {}, "alerts")
        return list(data.get("alerts") or [])

    def ready(self) -> bool:
        """Whether the server answers ``/-/ready``; never raises."""
        try:
            response = self._send("GET", "/-/ready", {}, self.timeout_seconds)
        except requests.RequestException:
            return False
        return response.status_code == 200

    def close(self) -> None:
        with self._lock:
            if self._session is not None:
                self._session.close()
            self._session = None

    # -- plumbing ------------------------------------------------------------------------------

    def _note(self, promql: str, data: Mapping[str, Any], returned: int) -> None:
        queried = 0
        stats = data.get("stats")
        if isinstance(stats, Mapping):
            samples = stats.get("samples")
            if isinstance(samples, Mapping):
                queried = int(samples.get("totalQueryableSamples") or 0)
        elapsed = float(data.get("_elapsed", 0.0))
        _record(promql, returned, queried, elapsed)

    def _session_for_process(self) -> requests.Session:
        pid = os.getpid()
        with self._lock:
            if self._session is None or self._pid != pid:
                # A session inherited across fork would share sockets with the parent.
                session = requests.Session()
                adapter = HTTPAdapter(pool_connections=4, pool_maxsize=16, max_retries=0)
                session.mount("http://", adapter)
                session.mount("https://", adapter)
                session.headers.update(self._headers)
                if self._basic_auth is not None:
                    session.auth = self._basic_auth
                self._session = session
                self._pid = pid
            return self._session

    def _send(
        self, method: str, path: str, params: Mapping[str, str], timeout: float
    ) -> requests.Response:
        session = self._session_for_process()
        url = self.base_url + path
        # (connect, read): connecting to a live server is quick; a dead one should fail fast.
        timeouts = (min(timeout, max(0.5, timeout / 2)), timeout)
        if method == "POST":
            return session.post(url, data=dict(params), timeout=timeouts)
        return session.get(url, params=dict(params), timeout=timeouts)

    def _api(self, path: str, params: Mapping[str, str], what: str) -> dict[str, Any]:
        """GET (or POST, for long queries) an API path; the ``data`` of a success answer."""
        started = time.monotonic()
        deadline = started + self.timeout_seconds
        query = dict(params)
        if self.query_stats and path.startswith("/api/v1/query"):
            query["stats"] = "all"
        method = "POST" if len(query.get("query", "")) > _POST_THRESHOLD else "GET"
        attempt = 0
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0.01:
                raise MetricsUnavailable(
                    f"Prometheus did not answer within {self.timeout_seconds:g} s.",
                    {"prometheus": self.base_url},
                )
            if path.startswith("/api/v1/query"):
                # Prometheus stops evaluating when our deadline passes (its own timeout).
                query["timeout"] = f"{max(10, int(remaining * 1000))}ms"
            failure: str
            try:
                response = self._send(method, path, query, remaining)
            except requests.Timeout:
                failure = f"Prometheus did not answer within {self.timeout_seconds:g} s."
            except requests.ConnectionError:
                failure = "Prometheus is unreachable."
            except requests.RequestException as exc:
                failure = f"Prometheus request failed ({type(exc).__name__})."
            else:
                status = response.status_code
                if status in _RETRY_STATUSES or status >= 500:
                    failure = f"Prometheus answered HTTP {status}."
                    if status not in _RETRY_STATUSES:
                        raise MetricsUnavailable(failure, {"prometheus": self.base_url})
                else:
                    data = self._decode(response, what)
                    data["_elapsed"] = time.monotonic() - started
                    return data
            attempt += 1
            remaining = deadline - time.monotonic()
            if attempt > self.retries or remaining <= _BACKOFF_SECONDS * attempt + 0.05:
                raise MetricsUnavailable(failure, {"prometheus": self.base_url})
            time.sleep(_BACKOFF_SECONDS * attempt)

    def _decode(self, response: requests.Response, what: str) -> dict[str, Any]:
        try:
            # orjson: at thousands of GPUs an answer is megabytes, three times faster to read.
            body = orjson.loads(response.content)
        except ValueError:  # orjson.JSONDecodeError is one
            body = None
        if not isinstance(body, dict):
            if response.status_code >= 400:
                raise PromQueryError(what, f"HTTP {response.status_code}: {response.text[:200]}")
            raise MetricsUnavailable(
                "Prometheus answered with something other than JSON.",
                {"prometheus": self.base_url},
            )
        if response.status_code >= 400 or body.get("status") != "success":
            error_type = body.get("errorType", "")
            reason = f"HTTP {response.status_code} {error_type}: {body.get('error', '')}".strip()
            if error_type in ("timeout", "canceled"):
                # Prometheus gave up at our deadline: the data is unavailable, not the query wrong.
                raise MetricsUnavailable(
                    f"Prometheus did not answer within {self.timeout_seconds:g} s.",
                    {"prometheus": self.base_url},
                )
            raise PromQueryError(what, reason)
        data = body.get("data")
        if not isinstance(data, dict):
            # /api/v1/alerts and friends always answer an object; anything else is malformed.
            raise PromQueryError(what, "answer without a data object")
        return data


def _value(raw: Any) -> float:
    """Prometheus encodes values as strings, including ``NaN`` and ``+Inf``."""
    return float(raw)


def _fmt_time(at: float) -> str:
    return f"{at:.3f}"


def _fmt_seconds(seconds: float) -> str:
    # The API takes a step as a float number of seconds (durations may not have decimals).
    if math.isclose(seconds, round(seconds)):
        return str(round(seconds))
    return f"{seconds:.3f}"
