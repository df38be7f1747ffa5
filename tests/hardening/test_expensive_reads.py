"""Expensive reads cannot queue everyone else (issue 15): a bound per client and per worker,
one computation for identical requests, cached cost answers."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from analytics.api.expensive import ExpensiveGate
from analytics.errors import RateLimitExceeded
from analytics.services.kernel.answer_cache import AnswerCache
from devstack.stack import Stack
from tests.stack_fixtures import history_stack  # noqa: F401 (a fixture)


def test_the_gate_bounds_each_client_and_the_worker() -> None:
    gate = ExpensiveGate(per_client=2, total=3)
    with gate.enter("a"), gate.enter("a"):
        with pytest.raises(RateLimitExceeded) as refused, gate.enter("a"):
            pass
        assert refused.value.retry_after_s >= 1
        with gate.enter("b"), pytest.raises(RateLimitExceeded), gate.enter("c"):
            pass
    # Everything was given back, refusals included.
    with gate.enter("a"), gate.enter("a"), gate.enter("c"):
        pass


def test_identical_concurrent_computations_run_once_and_errors_are_shared() -> None:
    cache: AnswerCache[int] = AnswerCache(ttl_s=60, max_entries=8)
    started = threading.Event()
    release = threading.Event()
    calls: list[int] = []

    def slow() -> int:
        calls.append(1)
        started.set()
        release.wait(10)
        return 42

    with ThreadPoolExecutor(8) as pool:
        first = pool.submit(cache.get, "k", slow)
        started.wait(10)
        others = [pool.submit(cache.get, "k", slow) for _ in range(7)]
        time.sleep(0.2)  # the others are waiting on the first computation
        release.set()
        assert [f.result() for f in [first, *others]] == [42] * 8
    assert len(calls) == 1 and cache.computed == 1
    assert cache.get("k", slow) == 42 and len(calls) == 1  # kept for the TTL

    def failing() -> int:
        raise ValueError("no")

    with pytest.raises(ValueError):
        cache.get("bad", failing)
    assert cache.get("bad", lambda: 7) == 7  # errors are not kept


def test_an_answer_expires_after_its_ttl() -> None:
    now = [0.0]
    cache: AnswerCache[int] = AnswerCache(ttl_s=10, max_entries=1, monotonic=lambda: now[0])
    assert cache.get("k", lambda: 1) == 1
    now[0] = 9.0
    assert cache.get("k", lambda: 2) == 1
    now[0] = 10.5
    assert cache.get("k", lambda: 3) == 3
    assert cache.get("other", lambda: 4) == 4
    assert cache.get("k", lambda: 5) == 5  # one entry: "other" pushed "k" out


def test_twenty_concurrent_cost_analyses_do_not_delay_a_cheap_request(
    history_stack: Stack,  # noqa: F811
) -> None:
    api = history_stack.analytics_url
    cheap_ms: list[float] = []
    go = threading.Barrier(21)

    def analysis(days: int) -> int:
        go.wait()
        return requests.get(
            f"{api}/gpu/cost/analysis", params={"days": days}, timeout=60
        ).status_code

    def cheap() -> None:
        go.wait()
        time.sleep(0.1)  # the analyses are in the workers
        for _ in range(5):
            started = time.perf_counter()
            assert requests.get(f"{api}/gpu/devices", timeout=30).status_code == 200
            cheap_ms.append((time.perf_counter() - started) * 1000)

    with ThreadPoolExecutor(21) as pool:
        # A window no other test asks for, so no worker has its answer cached yet.
        analyses = [pool.submit(analysis, 6) for _ in range(20)]
        pool.submit(cheap).result()
        codes = [f.result() for f in analyses]
    assert set(codes) <= {200, 429} and 200 in codes, codes
    assert max(cheap_ms) < 200, cheap_ms
