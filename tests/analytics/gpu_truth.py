"""Ground truth for the metric endpoints, computed from the simulator's fleet model alone.

Nothing here reads Prometheus or the service: values come from ``simulator.node`` (what NVML
reports at time t) and the fleet file, and are aggregated the way each endpoint documents
(its window, its step), so the tests compare numbers, not code paths.

:func:`write_events_fleet` writes a fleet whose hardware events are placed relative to *now*
(the epoch is chosen so), giving the integration tests overheating windows, a lost GPU, XIDs,
ECC errors and a pending row remap inside the last day, whatever the date.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pynvml
import yaml

from gpucatalog import model_by_id
from simulator.clock import ManualClock
from simulator.node import SimulatedFleet

MINUTE = 60
HOUR = 3600

EVENTS_NODE = "evt-node-1"
QUIET_NODE = "evt-node-2"


@dataclass(frozen=True)
class EventsFleet:
    path: Path
    anchor: float  # the "now" the events are placed around (a whole minute)


def write_events_fleet(directory: Path, now: float) -> EventsFleet:
    anchor = math.floor(now / MINUTE) * MINUTE
    epoch = math.floor((anchor - 10 * 86400) / HOUR) * HOUR

    def ago(seconds: float) -> int:
        """An event offset from the epoch that lands ``seconds`` before the anchor."""
        return int(anchor - seconds - epoch)

    fleet = {
        "seed": 11,
        "epoch": dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "nodes": [
            {
                "name": EVENTS_NODE,
                "cpu_cores": 64,
                "memory_gib": 512,
                "gpus": [
                    {"model": "A100_80GB"},  # 0: training; overheating now and before
                    {"model": "H100_80GB"},  # 1: lost now (XID 79)
                    {"model": "A100_80GB"},  # 2: XID 48 and 13 today, 48 yesterday
                    {"model": "L4"},  # 3: uncorrectable ECC, XID 94
                    {"model": "A100_40GB"},  # 4: row remap pending now
                ],
                "pods": [
                    {
                        "name": "trainer-0",
                        "namespace": "research",
                        "image": "nvcr.io/nvidia/pytorch:24.08-py3",
                        "workload": "training",
                        "gpu_memory_gib": 60,
                        "containers": [{"name": "pytorch", "gpus": [0]}],
                    },
                    {
                        "name": "vllm-llama-0",
                        "namespace": "model-serving",
                        "labels": {"app.kubernetes.io/name": "vllm"},
                        "image": "vllm/vllm-openai:v0.6.3",
                        "args": ["--model", "meta-llama/Llama-2-7b-chat-hf"],
                        "workload": "inference",
                        "gpu_memory_gib": 70,
                        "containers": [{"name": "vllm", "gpus": [2]}],
                    },
                    {
                        "name": "notebook-0",
                        "namespace": "development",
                        "image": "quay.io/jupyter/pytorch-notebook:cuda12-2024-10-14",
                        "workload": "notebook",
                        "gpu_memory_gib": 4,
                        "containers": [{"name": "notebook", "gpus": [3]}],
                    },
                ],
                "events": [
                    {
                        "type": "overheat",
                        "gpu": 0,
                        "at": ago(40 * 60),
                        "duration": 3 * HOUR,
                        "delta_c": 25,
                    },
                    {
                        "type": "overheat",
                        "gpu": 0,
                        "at": ago(10 * HOUR),
                        "duration": 30 * 60,
                        "delta_c": 25,
                    },
                    {
                        "type": "overheat",
                        "gpu": 0,
                        "at": ago(74 * HOUR),
                        "duration": 45 * 60,
                        "delta_c": 25,
                    },
                    {"type": "gpu_lost", "gpu": 1, "at": ago(10 * 60), "duration": 3 * HOUR},
                    {"type": "xid", "gpu": 2, "at": ago(3 * HOUR), "xid": 48},
                    {"type": "xid", "gpu": 2, "at": ago(2 * HOUR), "xid": 13},
                    {"type": "xid", "gpu": 2, "at": ago(30 * HOUR), "xid": 48},
                    {"type": "xid", "gpu": 3, "at": ago(5 * HOUR), "xid": 94},
                    {
                        "type": "ecc",
                        "gpu": 3,
                        "at": ago(6 * HOUR),
                        "corrected": 5,
                        "uncorrected": 2,
                    },
                    {
                        "type": "row_remap_pending",
                        "gpu": 4,
                        "at": ago(1 * HOUR),
                        "duration": 5 * HOUR,
                        "rows_uncorrectable": 1,
                    },
                ],
            },
            {
                "name": QUIET_NODE,
                "cpu_cores": 32,
                "memory_gib": 256,
                "gpus": [
                    {"model": "A100_80GB", "mig": ["3g.40gb", "3g.40gb"]},
                    {"model": "H100_80GB"},
                    {"model": "H100_80GB"},
                ],
                "pods": [
                    {
                        "name": "sglang-qwen-0",
                        "namespace": "model-serving",
                        "labels": {"app.kubernetes.io/name": "sglang"},
                        "image": "lmsysorg/sglang:v0.3.5-cu124",
                        "command": ["python", "-m", "sglang.launch_server"],
                        "args": ["--model-path", "Qwen/Qwen2-7B-Instruct"],
                        "workload": "inference",
                        "gpu_memory_gib": 30,
                        "containers": [{"name": "sglang", "mig": [[0, 0]]}],
                    },
                    {
                        "name": "vllm-mistral-0",
                        "namespace": "model-serving",
                        "labels": {"app.kubernetes.io/name": "vllm"},
                        "image": "vllm/vllm-openai:v0.6.3",
                        "args": ["--model", "mistralai/Mistral-7B-Instruct-v0.2"],
                        "workload": "inference",
                        "gpu_memory_gib": 60,
                        "containers": [{"name": "vllm", "gpus": [1]}],
                    },
                    {
                        "name": "batch-etl-0",
                        "namespace": "research",
                        "image": "nvcr.io/nvidia/pytorch:24.08-py3",
                        "workload": "batch",
                        "gpu_memory_gib": 20,
                        "containers": [{"name": "etl", "gpus": [2]}],
                    },
                ],
            },
        ],
    }
    path = directory / "gpu-events.yaml"
    path.write_text(yaml.safe_dump(fleet, sort_keys=False))
    return EventsFleet(path, anchor)


class Truth:
    """What NVML reported for each GPU of a fleet file, by time."""

    def __init__(self, fleet_path: Path) -> None:
        self.fleet = SimulatedFleet.from_file(fleet_path, ManualClock(0.0))
        self.spec = self.fleet.spec

    def gpus(self) -> Iterable[tuple[str, int]]:
        for node in self.spec.nodes:
            for gpu in node.gpus:
                yield node.name, gpu.index

    def gpu(self, node: str, index: int) -> object:
        return self.spec.node(node).gpus[index]

    def device_id(self, node: str, index: int) -> str:
        return f"{node}-GPU-{index:02d}"

    def model_id(self, node: str, index: int) -> str:
        return self.spec.node(node).gpus[index].model.model_id

    def threshold(self, node: str, index: int) -> float:
        return model_by_id(self.model_id(node, index)).overheat_threshold_c

    def lost(self, node: str, index: int, t: float) -> bool:
        return self.fleet.node(node).is_lost(index, t)

    def reading(self, node: str, index: int, t: float) -> dict[str, float | None] | None:
        """What the exporter publishes at t (None while the GPU is lost)."""
        if self.lost(node, index, t):
            return None
        values = self.fleet.node(node).gpu_values(index, t)
        mig = self.spec.node(node).gpus[index].mig_enabled
        return {
            # NVML reports whole percent, and nothing for a GPU in MIG mode.
            "utilization": None if mig else round(values.utilization_ratio * 100) / 100,
            "memory_ratio": values.memory_used_bytes / values.memory_total_bytes,
            "temperature": float(values.temperature_celsius),
            "power": values.power_watts,
        }

    # -- usage statistics ---------------------------------------------------------------------

    def mean_over(self, node: str, index: int, times: Iterable[float]) -> dict[str, float | None]:
        sums: dict[str, list[float]] = {"utilization": [], "memory_ratio": [], "temperature": []}
        for t in times:
            reading = self.reading(node, index, t)
            if reading is None:
                continue
            for key, values in sums.items():
                value = reading[key]
                if value is not None:
                    values.append(value)
        return {k: (sum(v) / len(v) if v else None) for k, v in sums.items()}

    def hourly_rule_window(
        self, node: str, index: int, end: float, hours: int
    ) -> dict[str, float | None]:
        """The mean of ``hours`` hourly means ending at ``end`` (an hour boundary), each over
        the one-minute readings in [T - 1h, T], as the recording rules define them."""
        hourly: dict[str, list[float]] = {"utilization": [], "memory_ratio": [], "temperature": []}
        for k in range(hours):
            boundary = end - k * HOUR
            minutes = [boundary - HOUR + m * MINUTE for m in range(61)]
            means = self.mean_over(node, index, minutes)
            for key, value in means.items():
                if value is not None:
                    hourly[key].append(value)
        return {k: (sum(v) / len(v) if v else None) for k, v in hourly.items()}

    def minute_window(
        self, node: str, index: int, end: float, hours: float, live_from: float
    ) -> dict[str, float | None]:
        """Readings at each whole minute in (end - hours, end]: after ``live_from`` the newest
        scrape before a minute boundary still holds the previous minute's value."""
        first = math.floor((end - hours * HOUR) / MINUTE) * MINUTE + MINUTE
        times = []
        t = first
        while t <= end:
            times.append(t if t <= live_from else t - 1)
            t += MINUTE
        return self.mean_over(node, index, times)

    # -- overheating -------------------------------------------------------------------------

    def hot_windows(
        self, node: str, index: int, start: float, end: float
    ) -> list[tuple[float, float, float]]:
        """(first, last, peak) of the stretches of minute readings above the threshold."""
        threshold = self.threshold(node, index)
        windows: list[tuple[float, float, float]] = []
        current: list[tuple[float, float]] = []
        t = math.ceil(start / MINUTE) * MINUTE
        while t <= end:
            reading = self.reading(node, index, t)
            temperature = reading["temperature"] if reading else None
            if temperature is not None and temperature > threshold:
                current.append((t, temperature))
            elif current:
                windows.append((current[0][0], current[-1][0], max(v for _t, v in current)))
                current = []
            t += MINUTE
        if current:
            windows.append((current[0][0], current[-1][0], max(v for _t, v in current)))
        return windows

    # -- health ------------------------------------------------------------------------------

    def xids(self, node: str, index: int, start: float, end: float) -> dict[int, int]:
        counts: dict[int, int] = {}
        for occurrence in self.fleet.node(node).xid_occurrences(index, start, end):
            counts[occurrence.xid] = counts.get(occurrence.xid, 0) + 1
        return counts

    def signals(self, node: str, index: int, t: float, xid_window_s: float = 86400) -> object:
        from analytics.services.gpu.health import DeviceSignals

        if self.lost(node, index, t):
            return DeviceSignals(up=False, xid_counts=self.xids(node, index, t - xid_window_s, t))
        values = self.fleet.node(node).gpu_values(index, t)
        reasons = set()
        bits = {
            "hw_slowdown": pynvml.nvmlClocksEventReasonHwSlowdown,
            "hw_thermal_slowdown": pynvml.nvmlClocksEventReasonHwThermalSlowdown,
            "sw_thermal_slowdown": pynvml.nvmlClocksEventReasonSwThermalSlowdown,
            "hw_power_brake": pynvml.nvmlClocksEventReasonHwPowerBrakeSlowdown,
        }
        for name, bit in bits.items():
            if values.clock_event_reasons & bit:
                reasons.add(name)
        ecc = self.spec.node(node).gpus[index].model.model_id != "RTX4090"
        return DeviceSignals(
            up=True,
            temperature_c=float(values.temperature_celsius),
            xid_counts=self.xids(node, index, t - xid_window_s, t),
            ecc_uncorrected_volatile=float(values.ecc_uncorrected_volatile) if ecc else 0.0,
            ecc_uncorrected_lifetime=float(values.ecc_uncorrected_aggregate) if ecc else 0.0,
            remap_pending=values.row_remap_pending if ecc else False,
            remap_failure=values.row_remap_failure if ecc else False,
            throttle_reasons=reasons,
        )

    # -- pods --------------------------------------------------------------------------------

    def holdings(self, t: float | None = None) -> dict[tuple[str, str], set[str]]:
        """(namespace, pod) -> GPU uuids (whole GPUs) and MIG uuids its running containers hold
        at ``t`` (the pods present then); ``t`` may be left out when no pod has a schedule."""
        if t is None and any(p.schedule for n in self.spec.nodes for p in n.pods):
            raise ValueError("the fleet has scheduled pods: say when (t)")
        held: dict[tuple[str, str], set[str]] = {}
        for node in self.spec.nodes:
            for pod in node.pods if t is None else node.pods_at(t):
                if not pod.running:
                    continue
                for container in pod.containers:
                    for ref in container.devices:
                        gpu = node.gpus[ref.gpu_index]
                        uuid = (
                            gpu.mig_instance(ref.mig_slot).uuid
                            if ref.mig_slot is not None
                            else gpu.uuid
                        )
                        held.setdefault((pod.namespace, pod.name), set()).add(uuid)
        return held
