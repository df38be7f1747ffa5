"""Clocks: the manual clock moves only when told, from any thread."""

from __future__ import annotations

import threading
import time

import pytest

from simulator.clock import Clock, ManualClock, SystemClock


def test_manual_clock_moves_only_when_told() -> None:
    clock = ManualClock(1000.0)
    assert clock.now() == 1000.0
    assert clock.advance(2.5) == 1002.5
    clock.set(50.0)
    assert clock.now() == 50.0


def test_manual_clock_refuses_to_advance_backwards() -> None:
    with pytest.raises(ValueError, match="backwards"):
        ManualClock(0.0).advance(-1)


def test_manual_clock_is_thread_safe() -> None:
    clock = ManualClock(0.0)

    def tick() -> None:
        for _ in range(1000):
            clock.advance(1)

    threads = [threading.Thread(target=tick) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert clock.now() == 8000.0


def test_both_clocks_satisfy_the_protocol() -> None:
    assert isinstance(ManualClock(0), Clock)
    assert isinstance(SystemClock(), Clock)
    assert abs(SystemClock().now() - time.time()) < 1.0
