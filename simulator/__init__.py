"""A deterministic simulated GPU fleet: YAML-described nodes behind a fake NVML, kubelet and API.

Entry points: :class:`SimulatedFleet` (``SimulatedFleet.from_file(path, clock)``), the clocks,
and :class:`FakeNvml`, which the exporter uses in place of the ``pynvml`` module.
"""

from simulator.clock import Clock, ManualClock, SystemClock
from simulator.fleet import FleetError, FleetSpec, SimulatorError, load_fleet
from simulator.node import SimulatedFleet, SimulatedNode
from simulator.nvml import FakeNvml
from simulator.state import GpuValues

__all__ = [
    "Clock",
    "FakeNvml",
    "FleetError",
    "FleetSpec",
    "GpuValues",
    "ManualClock",
    "SimulatedFleet",
    "SimulatedNode",
    "SimulatorError",
    "SystemClock",
    "load_fleet",
]
