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

_shared: dict[str, Stack] = {}
_failure: list[BaseException] = []
_users: list[int] = [0]


def _shared_stack(tmp_path_factory: pytest.TempPathFactory) -> Stack:
    if _failure:
        raise _failure[0]
    stack = _shared.get("history")
    if stack is None:
        base = tmp_path_factory.mktemp("history-stack")
        stack = Stack(
            HISTORY_FLEET,
            days=HISTORY_DAYS,
            step=60,
            end=time.time(),
            scrape_interval=f"{SCRAPE_INTERVAL_S}s",
            evaluation_interval=f"{SCRAPE_INTERVAL_S}s",
            analytics=True,
            workdir=base / "stack",
            cache_dir=base / "cache",
        )
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
