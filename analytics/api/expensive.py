"""Expensive reads in progress are bounded, so they cannot take every thread of a worker.

A view marked :func:`expensive` (cost analysis and optimisation, forecasts, long statistics)
enters a per-worker gate first: at most ``per_client`` such requests of one client (API key, or
address when anonymous) and ``total`` of all clients run at once in a worker. Beyond that the
request is answered 429 RATE_LIMIT_EXCEEDED at once, with Retry-After, instead of queueing in
front of cheap requests: with ``total`` below the worker's threads, a cheap request always finds
a thread. Identical expensive requests share one computation behind the gate (the cost answers'
cache, the forecast cache), so the ones let through are rarely all working.
"""

from __future__ import annotations

import functools
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from flask import Flask, current_app

from analytics.api.ratelimit import client_identity
from analytics.errors import RateLimitExceeded

GATE_KEY = "gpu_analytics.expensive_gate"
RETRY_AFTER_S = 1

F = TypeVar("F", bound=Callable[..., Any])


class ExpensiveGate:
    def __init__(self, per_client: int, total: int) -> None:
        self.per_client = per_client
        self.total = total
        self._lock = threading.Lock()
        self._running: Counter[str] = Counter()

    @contextmanager
    def enter(self, client: str) -> Iterator[None]:
        with self._lock:
            mine = self._running[client]
            everyone = self._running.total()
            if mine >= self.per_client or everyone >= self.total:
                raise RateLimitExceeded(
                    f"Too many expensive requests at once ({mine} of yours, {everyone} in all "
                    f"in this worker; at most {self.per_client} per client and {self.total} in "
                    "all): retry shortly.",
                    RETRY_AFTER_S,
                    {},
                )
            self._running[client] += 1
        try:
            yield
        finally:
            with self._lock:
                self._running[client] -= 1
                if not self._running[client]:
                    del self._running[client]


def init_expensive_gate(app: Flask, per_client: int, total: int) -> None:
    app.extensions[GATE_KEY] = ExpensiveGate(per_client, total)


def expensive(view: F) -> F:
    """Mark a view as an expensive read: it runs inside the worker's gate."""

    @functools.wraps(view)
    def gated(*args: Any, **kwargs: Any) -> Any:
        gate: ExpensiveGate = current_app.extensions[GATE_KEY]
        with gate.enter(client_identity()):
            return view(*args, **kwargs)

    return gated  # type: ignore[return-value]
