"""The shared stack for integration tests: ``from tests.stack_fixtures import history_stack``.

``history_stack`` is a :class:`devstack.stack.Stack` on ``simulator/fleets/test-small.yaml``:
7 days of history at one-minute steps ending at the current minute, the real exporter and
cluster-series processes, the real Prometheus scraping them every 2 s, and the analytics service
(2 gunicorn workers) with an admin key. It has been scraped once when tests get it.

pytest makes one instance of a session fixture per module that imports it; every instance here
hands out the same running stack (started on first use, stopped after the last), so importing it
into many modules costs one start.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack.stack import Stack

ROOT = Path(__file__).resolve().parent.parent
HISTORY_FLEET = ROOT / "simulator" / "fleets" / "test-small.yaml"
HISTORY_DAYS = 7
SCRAPE_INTERVAL_S = 2


def make_stack(
    base: Path,
    fleet: Path,
    *,
    days: float,
    analytics: bool,
    end: float | None = None,
    step: int = 60,
    interval_s: int = SCRAPE_INTERVAL_S,
) -> Stack:
    """A Stack as the tests run it: ``days`` of history at ``step`` ending at ``end`` (now),
    Prometheus scraping and evaluating rules every ``interval_s``, and its working directory
    and history cache of its own under ``base``. Not started."""
    return Stack(
        fleet,
        days=days,
        step=step,
        end=time.time() if end is None else end,
        scrape_interval=f"{interval_s}s",
        evaluation_interval=f"{interval_s}s",
        analytics=analytics,
        workdir=base / "stack",
        cache_dir=base / "cache",
        # No forecasts fitted in the background (seconds of CPU per worker): the forecast tests
        # time their own requests; tests/forecast/test_warmup.py covers the warm-up.
        analytics_env={"GPU_ANALYTICS_FORECAST_WARMUP": "false"},
    )


_shared: dict[str, Stack] = {}
_failure: list[BaseException] = []
_users: list[int] = [0]


def _shared_stack(tmp_path_factory: pytest.TempPathFactory) -> Stack:
    if _failure:
        raise _failure[0]
    stack = _shared.get("history")
    if stack is None:
        base = tmp_path_factory.mktemp("history-stack")
        stack = make_stack(base, HISTORY_FLEET, days=HISTORY_DAYS, analytics=True)
        try:
            stack.start()
        except BaseException as exc:
            _failure.append(exc)
            raise
        _shared["history"] = stack
    return stack


@pytest.fixture(scope="session")
def history_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The running stack; see the module docstring. Read-only: do not stop or reconfigure it."""
    stack = _shared_stack(tmp_path_factory)
    _users[0] += 1
    try:
        yield stack
    finally:
        _users[0] -= 1
        if _users[0] == 0:
            _shared.pop("history").stop()
