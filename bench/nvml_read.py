"""Cost of one NVML sampling cycle (read_devices + read_processes) and of rendering it.

Runs on real GPUs (nvidia-ml-py and the driver's libnvidia-ml) or on the simulator:

    python bench/nvml_read.py --cycles 200 [--out exposition.prom]
    python bench/nvml_read.py --simulated-fleet simulator/fleets/demo.yaml --node-name gpu-worker-1

Prints per-cycle latency percentiles, the device count and which fields each GPU reported.

``--smoke`` runs 5 cycles, on simulator/fleets/test-small.yaml unless ``--simulated-fleet``
names another fleet, in about a second: a check that the benchmark still runs, not a
measurement (it needs no GPU).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import options  # bench/options.py

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from prometheus_client import exposition

from exporter.nvml import NvmlReader, XidWatcher, load_system_nvml
from exporter.server import SnapshotRegistry
from exporter.snapshot import Snapshot

ROOT = Path(__file__).resolve().parent.parent
# --smoke's sizes: every stage and figure of a full run, on a small simulated node.
SMOKE = {
    "cycles": 5,
    "simulated_fleet": str(ROOT / "simulator" / "fleets" / "test-small.yaml"),
    "node_name": "sim-node-1",
}


def _library(args: argparse.Namespace) -> Any:
    if args.simulated_fleet:
        from simulator.clock import SystemClock
        from simulator.node import SimulatedFleet

        fleet = SimulatedFleet.from_file(Path(args.simulated_fleet), SystemClock())
        return fleet.node(args.node_name).nvml
    return load_system_nvml()


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cycles", type=int, default=200)
    parser.add_argument("--simulated-fleet")
    parser.add_argument("--node-name", default="bench-node")
    parser.add_argument("--out", help="write one rendered exposition here")
    args = options.parse(parser, SMOKE)

    lib = _library(args)
    reader = NvmlReader(lib)
    xids = XidWatcher(lib)
    xids.start()
    cycles: list[float] = []
    processes_ms: list[float] = []
    devices = reader.read_devices()
    for _ in range(args.cycles):
        started = time.perf_counter()
        devices = reader.read_devices()
        cycles.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        processes = reader.read_processes(devices)
        processes_ms.append((time.perf_counter() - started) * 1000)
    snapshot = Snapshot(
        node=args.node_name,
        timestamp_seconds=time.time(),
        driver_version=reader.driver_version,
        cuda_driver_version=reader.cuda_driver_version,
        devices=tuple(devices),
        expected_devices=reader.max_device_count_seen,
        xids=xids.counts(),
        sequence=1,
    )
    started = time.perf_counter()
    text = exposition.generate_latest(SnapshotRegistry(snapshot))
    render_ms = (time.perf_counter() - started) * 1000
    xids.stop()
    reader.shutdown()

    print(
        f"devices: {len(devices)} (up: {sum(d.up for d in devices)}), "
        f"driver {reader.driver_version}, cuda {reader.cuda_driver_version}"
    )
    for device in devices:
        present = [k for k, v in vars(device).items() if v is not None and k != "identity"]
        if device.counters is not None:  # dcgm-exporter default counters (issue 20), one by one
            present.remove("counters")
            present += [k for k, v in vars(device.counters).items() if v not in (None, ())]
        print(
            f"  GPU {device.identity.index} {device.identity.name} {device.identity.uuid}: "
            f"{len(present)} fields: {', '.join(present)}"
        )
    print(f"processes seen: {len(processes)}; xid watcher registered {xids.registered} GPUs")
    print(
        f"read_devices ms: p50 {statistics.median(cycles):.3f} p99 {_percentile(cycles, 0.99):.3f}"
    )
    print(
        f"read_processes ms: p50 {statistics.median(processes_ms):.3f} "
        f"p99 {_percentile(processes_ms, 0.99):.3f}"
    )
    print(f"render ms: {render_ms:.3f}, exposition bytes: {len(text)}")
    if args.out:
        Path(args.out).write_bytes(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
