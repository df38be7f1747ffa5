"""Periodic jobs (analytics/services/kernel/periodic.py): one thread per process, the first
round when asked, errors logged without ending the job, stopped on request; lease holders
named apart."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from analytics.errors import MetricsUnavailable
from analytics.services.kernel.periodic import Periodic, holder_id


def test_rounds_come_every_interval_and_stop_when_asked() -> None:
    rounds: list[float] = []
    job = Periodic("test-job", lambda: rounds.append(time.monotonic()), 0.05, first_after_s=0)
    started = time.monotonic()
    job.start()
    job.start()  # once per process
    time.sleep(0.3)
    job.stop(timeout=2)
    assert [t.name for t in threading.enumerate()].count("test-job") == 0
    assert 3 <= len(rounds) <= 8
    assert rounds[0] - started < 0.05  # first_after_s=0: at once
    count = len(rounds)
    time.sleep(0.15)
    assert len(rounds) == count


def test_errors_are_logged_and_the_next_round_comes(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[int] = []

    def work() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise MetricsUnavailable("Prometheus is down")
        if len(calls) == 2:
            raise RuntimeError("bug")

    job = Periodic("flaky-job", work, 0.02, expected=(MetricsUnavailable,))
    with caplog.at_level(logging.WARNING, logger="analytics.services.kernel.periodic"):
        job.start()
        deadline = time.monotonic() + 5
        while len(calls) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        job.stop(timeout=2)
    assert len(calls) >= 3
    expected, crashed = caplog.records[0], caplog.records[1]
    assert expected.levelno == logging.WARNING and expected.exc_info is None
    assert "Prometheus is down" in expected.getMessage()
    assert crashed.levelno == logging.ERROR and crashed.exc_info is not None


def test_no_interval_no_thread() -> None:
    job = Periodic("off-job", lambda: None, 0)
    job.start()
    assert "off-job" not in [t.name for t in threading.enumerate()]


def test_lease_holders_are_named_apart() -> None:
    assert holder_id() != holder_id()
