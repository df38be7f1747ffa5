"""Fixtures: the small test fleet on a manual clock."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from simulator import FakeNvml, ManualClock, SimulatedFleet, SimulatedNode

FLEETS = Path(__file__).resolve().parents[2] / "simulator" / "fleets"
SMALL = FLEETS / "test-small.yaml"
DEMO = FLEETS / "demo.yaml"
EPOCH = 1767225600.0  # 2026-01-01T00:00:00Z, test-small.yaml's epoch


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(EPOCH + 15 * 3600)


@pytest.fixture
def small_node(clock: ManualClock) -> SimulatedNode:
    return SimulatedFleet.from_file(SMALL, clock).node("sim-node-1")


@pytest.fixture
def nvml(small_node: SimulatedNode) -> Iterator[FakeNvml]:
    lib = small_node.nvml
    lib.nvmlInit()
    yield lib
    lib.nvmlShutdown()
