"""Background sampling: each stage runs on its own period and the latest results form a Snapshot.

Stages: ``nvml`` (device readings), ``gpm`` (GPM profiling, :mod:`exporter.gpm`),
``processes`` (per-process memory and utilisation mapped to containers through /proc),
``pod_resources`` (kubelet gRPC), ``kubernetes`` (pod phases and model-serving details).
XID events come from a watcher thread of their own. A stage that fails
keeps its previous result, counts an error and logs one line; it never stops the others, and a
scrape never waits on a stage.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from exporter.attribution import pod_usage, resolve_allocations
from exporter.gpm import GpmReadings
from exporter.procfs import container_of_pid
from exporter.snapshot import (
    DeviceSample,
    PodAllocation,
    PodDevice,
    PodInfo,
    PodUsage,
    ProcessSample,
    Snapshot,
    StageHealth,
    XidCount,
)

log = logging.getLogger(__name__)


class DeviceReader(Protocol):
    driver_version: str | None
    cuda_driver_version: str | None

    @property
    def max_device_count_seen(self) -> int: ...
    def read_devices(self) -> list[DeviceSample]: ...
    def read_processes(self, devices: list[DeviceSample]) -> list[ProcessSample]: ...


class PodDeviceSource(Protocol):
    def list_pod_devices(self) -> list[PodDevice]: ...


class PodSource(Protocol):
    def list_pods(self) -> list[PodInfo]: ...


class XidSource(Protocol):
    def counts(self) -> tuple[XidCount, ...]: ...


class ProfilingSource(Protocol):
    """GPM profiling (issue 20): samples once per call, metrics over the time since the last."""

    def read(self, devices: Sequence[DeviceSample]) -> GpmReadings: ...


@dataclass(frozen=True)
class Intervals:
    """Seconds between runs of each stage."""

    nvml: float = 1.0
    processes: float = 5.0
    pod_resources: float = 10.0
    kubernetes: float = 30.0
    gpm: float = 1.0  # each GPM value is the mean over this interval


@dataclass
class _State:
    devices: list[DeviceSample] = field(default_factory=list)
    processes: list[ProcessSample] = field(default_factory=list)
    pod_devices: list[PodDevice] | None = None
    pods: list[PodInfo] | None = None
    pid_containers: dict[int, tuple[str, str]] = field(default_factory=dict)
    durations: dict[str, float] = field(default_factory=dict)
    last_success: dict[str, float] = field(default_factory=dict)
    last_run: dict[str, float] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    profiling: GpmReadings = field(default_factory=GpmReadings)


class Sampler:
    """Owns the sampling threads and the latest Snapshot."""

    def __init__(
        self,
        node: str,
        devices: DeviceReader,
        *,
        pod_devices: PodDeviceSource | None = None,
        pods: PodSource | None = None,
        xids: XidSource | None = None,
        profiler: ProfilingSource | None = None,
        proc_root: Path | None = None,
        expected_devices: int = 0,
        intervals: Intervals = Intervals(),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._node = node
        self._devices = devices
        self._pod_devices = pod_devices
        self._pods = pods
        self._xids = xids
        self._profiler = profiler
        self._proc_root = proc_root
        self._expected = expected_devices
        self._intervals = intervals
        self._clock = clock
        self._state = _State()
        self._lock = threading.Lock()
        self._published = threading.Condition(self._lock)
        self._snapshot: Snapshot | None = None
        self._sequence = 0
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    # -- public --------------------------------------------------------------------------
    def count_error(self, operation: str) -> None:
        with self._lock:
            self._state.errors[operation] = self._state.errors.get(operation, 0) + 1

    def snapshot(self) -> Snapshot | None:
        with self._lock:
            return self._snapshot

    def wait_for_snapshot(self, newer_than: float, timeout: float) -> Snapshot | None:
        """The latest snapshot, waiting up to ``timeout`` s for one taken after ``newer_than``."""
        deadline = time.monotonic() + max(0.0, timeout)
        with self._lock:
            while self._snapshot is None or self._snapshot.timestamp_seconds < newer_than:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._published.wait(remaining)
            return self._snapshot

    def last_success(self, stage: str) -> float | None:
        with self._lock:
            return self._state.last_success.get(stage)

    def last_run(self, stage: str) -> float | None:
        """When the stage last finished, successfully or not (a hung stage stops moving)."""
        with self._lock:
            return self._state.last_run.get(stage)

    def start(self) -> None:
        loops: list[tuple[str, Callable[[], None], float]] = [
            ("nvml", self.run_nvml_stage, self._intervals.nvml),
            ("processes", self.run_processes_stage, self._intervals.processes),
        ]
        if self._pod_devices is not None:
            loops.append(
                ("pod_resources", self.run_pod_resources_stage, self._intervals.pod_resources)
            )
        if self._pods is not None:
            loops.append(("kubernetes", self.run_kubernetes_stage, self._intervals.kubernetes))
        if self._profiler is not None:
            loops.append(("gpm", self.run_gpm_stage, self._intervals.gpm))
        # Fill every stage once before serving so the first scrape is complete.
        for _name, run, _period in loops:
            run()
        for name, run, period in loops:
            thread = threading.Thread(
                target=self._loop, args=(run, period), name=f"sample-{name}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)

    # -- stages (public so tests can drive them synchronously) ---------------------------
    def run_nvml_stage(self) -> None:
        def work() -> None:
            devices = self._devices.read_devices()
            with self._lock:
                self._state.devices = devices

        self._run_stage("nvml", work)

    def run_processes_stage(self) -> None:
        def work() -> None:
            with self._lock:
                devices = list(self._state.devices)
                known = dict(self._state.pid_containers)
            processes = self._devices.read_processes(devices)
            pid_containers: dict[int, tuple[str, str]] = {}
            if self._proc_root is not None:
                for process in processes:
                    cached = known.get(process.pid)
                    if cached is None:
                        cached = container_of_pid(self._proc_root, process.pid)
                    if cached is not None:
                        pid_containers[process.pid] = cached
            with self._lock:
                self._state.processes = processes
                self._state.pid_containers = pid_containers

        self._run_stage("processes", work)

    def run_pod_resources_stage(self) -> None:
        source = self._pod_devices
        if source is None:
            return

        def work() -> None:
            pod_devices = source.list_pod_devices()
            with self._lock:
                self._state.pod_devices = pod_devices
                devices = list(self._state.devices)
            # Count ids we cannot place once per kubelet answer, not once per publish.
            _resolved, unresolved = resolve_allocations(pod_devices, devices, None)
            if unresolved:
                log.warning("%d device ids from the kubelet match no GPU on this node", unresolved)
                with self._lock:
                    errors = self._state.errors
                    errors["resolve_device_id"] = errors.get("resolve_device_id", 0) + unresolved

        self._run_stage("pod_resources", work)

    def run_kubernetes_stage(self) -> None:
        source = self._pods
        if source is None:
            return

        def work() -> None:
            pods = source.list_pods()
            with self._lock:
                self._state.pods = pods

        self._run_stage("kubernetes", work)

    def run_gpm_stage(self) -> None:
        """GPM profiling (issue 20): one sample per GPU and MIG instance, off the scrape path."""
        source = self._profiler
        if source is None:
            return

        def work() -> None:
            with self._lock:
                devices = list(self._state.devices)
            readings = source.read(devices)
            with self._lock:
                self._state.profiling = readings

        self._run_stage("gpm", work)

    # -- internals -----------------------------------------------------------------------
    def _loop(self, run: Callable[[], None], period: float) -> None:
        next_run = time.monotonic() + period
        while not self._stop.wait(max(0.0, next_run - time.monotonic())):
            run()
            next_run = max(next_run + period, time.monotonic())

    def _run_stage(self, stage: str, work: Callable[[], None]) -> None:
        started = time.perf_counter()
        ok = True
        try:
            work()
        except Exception as exc:  # one stage's failure must not stop sampling
            ok = False
            log.warning("stage %s failed: %s", stage, exc)
            self.count_error(stage)
        duration = time.perf_counter() - started
        with self._lock:
            self._state.durations[stage] = duration
            self._state.last_run[stage] = self._clock()
            if ok:
                self._state.last_success[stage] = self._clock()
        self._publish()

    def _publish(self) -> None:
        with self._lock:
            state = self._state
            devices = list(state.devices)
            pods_by_key = (
                {(p.namespace, p.name): p for p in state.pods} if state.pods is not None else None
            )
            allocations: Sequence[PodAllocation] = ()
            if state.pod_devices is not None:
                allocations, _unresolved = resolve_allocations(
                    state.pod_devices, devices, pods_by_key
                )
            usage: Sequence[PodUsage] = ()
            if state.pods is not None and state.pid_containers:
                usage = pod_usage(
                    state.processes,
                    state.pid_containers,
                    {p.uid: p for p in state.pods},
                )
            serving = tuple(
                p for p in (state.pods or ()) if p.model_type and p.phase in ("Running", "Pending")
            )
            stages = tuple(
                StageHealth(name, state.durations[name], state.last_success.get(name))
                for name in sorted(state.durations)
            )
            self._sequence += 1
            self._snapshot = Snapshot(
                node=self._node,
                timestamp_seconds=self._clock(),
                driver_version=self._devices.driver_version,
                cuda_driver_version=self._devices.cuda_driver_version,
                devices=tuple(devices),
                expected_devices=max(
                    self._expected, self._devices.max_device_count_seen, len(devices)
                ),
                allocations=tuple(allocations),
                serving_pods=serving,
                pod_usage=tuple(usage),
                xids=self._xids.counts() if self._xids is not None else (),
                stages=stages,
                errors_total=tuple(sorted(state.errors.items())),
                sequence=self._sequence,
                profiling=state.profiling.samples,
                profiling_support=state.profiling.support,
            )
            self._published.notify_all()
