"""dcgm-exporter's default counters that NVML gives (issue 20), read by the production NvmlReader
from the simulated GPUs and rendered by the production collector.

The truths come from the fleet files and public board specifications (an H100 SXM has 18
NVLinks, an A100 SXM 12; a GeForce board has no NVLink, no HBM sensor, no violation counters;
NVSwitch fabric only on Hopper HGX), not from the simulator's code.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pynvml
import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from exporter.nvml import NvmlReader
from exporter.server import SnapshotRegistry
from exporter.snapshot import DeviceCounters, DeviceIdentity, DeviceSample, NvLinkSample, Snapshot
from simulator.clock import ManualClock
from simulator.node import SimulatedFleet, SimulatedNode
from tests.conftest import FLEETS

SMALL = FLEETS / "test-small.yaml"
EPOCH = 1767225600.0  # 2026-01-01T00:00:00Z, the epoch of both fleets
MINUTE, HOUR = 60.0, 3600.0
PCIE_GEN5_X16_BYTES_PER_SECOND = 64e9  # no reading can exceed the bus

# A node of four boards, one per kind of answer: H100 SXM training (NVLink, fabric, power-capped),
# H100 PCIe (no NVLink), L4 (GDDR: no memory sensor) and an overheating A100 SXM.
MIXED = """
seed: 11
epoch: 2026-01-01T00:00:00Z
nodes:
  - name: mixed-1
    gpus:
      - model: H100_80GB
      - model: H100_80GB
        product_name: NVIDIA H100 PCIe
      - model: L4
      - model: A100_80GB
    pods:
      - name: trainer-0
        namespace: research
        image: nvcr.io/nvidia/pytorch:24.08-py3
        workload: training
        gpu_memory_gib: 60
        containers:
          - name: pytorch
            gpus: [0]
      - name: vllm-0
        namespace: serving
        image: vllm/vllm-openai:v0.6.3
        workload: inference
        gpu_memory_gib: 20
        containers:
          - name: vllm
            gpus: [1, 2]
    events:
      - {type: overheat, gpu: 3, at: 1h, every: 1d, duration: 10m, delta_c: 20}
"""


@dataclass
class Sim:
    node: SimulatedNode
    clock: ManualClock

    def reader(self, **kwargs: Any) -> NvmlReader:
        # Per-link NVLink counters are opt-in (--nvlink-per-link); these tests check them too.
        kwargs.setdefault("nvlink_per_link", True)
        return NvmlReader(self.node.nvml, clock=self.clock.now, **kwargs)


def _sim(path: Path, at: float) -> Sim:
    clock = ManualClock(at)
    fleet = SimulatedFleet.from_file(path, clock)
    return Sim(fleet.node(fleet.nodes[0]), clock)


@pytest.fixture
def small() -> Sim:
    return _sim(SMALL, EPOCH + 30 * MINUTE)


@pytest.fixture
def mixed(tmp_path: Path) -> Sim:
    path = tmp_path / "mixed.yaml"
    path.write_text(MIXED)
    return _sim(path, EPOCH + 30 * MINUTE)


def _by_name(devices: list[DeviceSample]) -> dict[str, DeviceSample]:
    return {d.identity.name: d for d in devices}


def _counters(device: DeviceSample) -> DeviceCounters:
    assert device.counters is not None, device.identity.name
    return device.counters


def _exposition(node: str, devices: list[DeviceSample]) -> dict[str, dict[tuple[Any, ...], float]]:
    """Rendered samples by name, keyed by their labels (without node and uuid)."""
    snapshot = Snapshot(node, 0.0, "550.127.05", "12.4", tuple(devices), len(devices))
    text = generate_latest(SnapshotRegistry(snapshot)).decode()
    out: dict[str, dict[tuple[Any, ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = tuple(
                sorted((k, v) for k, v in sample.labels.items() if k not in ("node", "uuid"))
            )
            out.setdefault(sample.name, {})[labels] = sample.value
    return out


# -- every series, with plausible values ------------------------------------------------------


def test_h100_sxm_reports_every_counter(small: Sim) -> None:
    devices = _by_name(small.reader().read_devices())
    h100 = devices["NVIDIA H100 80GB HBM3"]
    c = _counters(h100)
    assert h100.temperature_celsius is not None
    assert c.memory_temperature_celsius is not None
    assert abs(c.memory_temperature_celsius - h100.temperature_celsius) <= 6
    assert c.pcie_replay_errors_total is not None and c.pcie_replay_errors_total >= 0
    for rate in (c.pcie_transmit_bytes_per_second, c.pcie_receive_bytes_per_second):
        assert rate is not None and 0 < rate < PCIE_GEN5_X16_BYTES_PER_SECOND
    assert c.encoder_utilization_ratio == 0.0  # no video workload on the fleet
    assert c.decoder_utilization_ratio is not None and 0 <= c.decoder_utilization_ratio <= 1
    assert h100.memory_total_bytes is not None and h100.memory_used_bytes is not None
    assert c.memory_reserved_bytes is not None
    assert 0 < c.memory_reserved_bytes <= h100.memory_used_bytes
    # vLLM has served on it for 30 minutes: its links carried data, each one some of it.
    assert [link.link for link in c.nvlink_links] == list(range(18))
    assert c.nvlink_transmit_bytes_total and c.nvlink_receive_bytes_total
    assert sum(link.transmit_bytes_total or 0 for link in c.nvlink_links) == (
        c.nvlink_transmit_bytes_total
    )
    assert sum(link.receive_bytes_total or 0 for link in c.nvlink_links) == (
        c.nvlink_receive_bytes_total
    )
    assert all(link.transmit_bytes_total for link in c.nvlink_links)
    # Far below 450 GB/s per direction for 30 minutes.
    assert c.nvlink_transmit_bytes_total < 450e9 * 30 * MINUTE
    assert dict(c.nvlink_errors_total).keys() == {"crc_flit", "crc_data", "replay", "recovery"}
    assert dict(c.violation_seconds_total).keys() == {
        "power",
        "thermal",
        "sync_boost",
        "board_limit",
        "low_utilization",
        "reliability",
        "total_app_clocks",
        "total_base_clocks",
    }
    assert all(0 <= s <= 30 * MINUTE for _r, s in c.violation_seconds_total)
    assert c.fabric_state == "completed"


def test_a_fabric_registration_completed_with_an_error_is_failed(small: Sim) -> None:
    """nvmlGpuFabricInfo_t.status is the registration's error once the state is completed."""
    nvml = small.node.nvml
    for name in ("nvmlDeviceGetGpuFabricInfoV", "nvmlDeviceGetGpuFabricInfo"):
        real = getattr(nvml, name)

        def with_error(handle: object, info: Any, real: Any = real) -> int:
            result = int(real(handle, info))
            getattr(info, "_obj", info).status = pynvml.NVML_ERROR_UNKNOWN
            return result

        setattr(nvml, name, with_error)
    c = _counters(_by_name(small.reader().read_devices())["NVIDIA H100 80GB HBM3"])
    assert c.fabric_state == "failed"
    # While the fabric still trains, the status means nothing yet.
    small.clock.set(EPOCH + 30.0)
    c = _counters(_by_name(small.reader().read_devices())["NVIDIA H100 80GB HBM3"])
    assert c.fabric_state == "in_progress"


def test_per_link_nvlink_series_are_opt_in(small: Sim) -> None:
    """288 series on an 8 x H100 node: off unless --nvlink-per-link; the totals stay."""
    devices = small.reader(nvlink_per_link=False).read_devices()
    c = _counters(_by_name(devices)["NVIDIA H100 80GB HBM3"])
    assert c.nvlink_links == ()
    assert c.nvlink_transmit_bytes_total and c.nvlink_receive_bytes_total
    series = _exposition("sim-node-1", devices)
    assert "gpu_nvlink_link_data_bytes_total" not in series
    assert series["gpu_nvlink_data_bytes_total"]


def test_rendered_series_carry_their_labels(small: Sim) -> None:
    devices = small.reader().read_devices()
    series = _exposition("sim-node-1", devices)
    h100 = (("gpu", "1"),)
    assert set(series["gpu_pcie_throughput_bytes_per_second"]) >= {
        (("direction", "receive"), *h100),
        (("direction", "transmit"), *h100),
    }
    assert len([k for k in series["gpu_nvlink_link_data_bytes_total"] if ("gpu", "1") in k]) == 36
    assert (
        series["gpu_nvlink_link_data_bytes_total"][
            (("direction", "transmit"), ("gpu", "1"), ("link", "17"))
        ]
        > 0
    )
    assert series["gpu_fabric_state"] == {(("gpu", "1"), ("state", "completed")): 1.0}
    assert series["gpu_violation_seconds_total"][(("gpu", "1"), ("reason", "power"))] >= 0
    assert (("error", "crc_flit"), ("gpu", "1")) in series["gpu_nvlink_errors_total"]
    for name in (
        "gpu_memory_temperature_celsius",
        "gpu_pcie_replay_errors_total",
        "gpu_encoder_utilization_ratio",
        "gpu_decoder_utilization_ratio",
        "gpu_memory_reserved_bytes",
    ):
        assert h100 in series[name], name


def test_counters_render_to_exact_exposition() -> None:
    identity = DeviceIdentity(
        0, "GPU-1", "NVIDIA H100 80GB HBM3", "1", "00000000:17:00.0", "1", "hopper"
    )
    counters = DeviceCounters(
        memory_temperature_celsius=48.0,
        pcie_replay_errors_total=3,
        pcie_transmit_bytes_per_second=1024.0,
        pcie_receive_bytes_per_second=2048.0,
        encoder_utilization_ratio=0.0,
        decoder_utilization_ratio=0.02,
        memory_reserved_bytes=536870912,
        nvlink_transmit_bytes_total=3072,
        nvlink_receive_bytes_total=1024,
        nvlink_links=(NvLinkSample(0, 2048, 1024), NvLinkSample(1, 1024, None)),
        nvlink_errors_total=(("crc_flit", 1), ("replay", 0)),
        violation_seconds_total=(("power", 12.5), ("thermal", 0.0)),
        fabric_state="completed",
    )
    device = DeviceSample(identity=identity, up=True, counters=counters)
    text = generate_latest(SnapshotRegistry(Snapshot("n1", 0.0, "550", "12.4", (device,), 1)))
    ours = (
        "gpu_memory_temperature",
        "gpu_pcie",
        "gpu_encoder",
        "gpu_decoder",
        "gpu_memory_reserved",
        "gpu_nvlink",
        "gpu_violation",
        "gpu_fabric",
    )
    lines = [line for line in text.decode().splitlines() if line.startswith(ours)]

    def line(name: str, value: str, **extra: str) -> str:
        labels = {"node": "n1", "gpu": "0", "uuid": "GPU-1", **extra}
        return name + "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "} " + value

    assert lines == [
        line("gpu_memory_temperature_celsius", "48.0"),
        line("gpu_pcie_replay_errors_total", "3.0"),
        line("gpu_encoder_utilization_ratio", "0.0"),
        line("gpu_decoder_utilization_ratio", "0.02"),
        line("gpu_memory_reserved_bytes", "5.36870912e+08"),
        line("gpu_pcie_throughput_bytes_per_second", "1024.0", direction="transmit"),
        line("gpu_pcie_throughput_bytes_per_second", "2048.0", direction="receive"),
        line("gpu_nvlink_data_bytes_total", "3072.0", direction="transmit"),
        line("gpu_nvlink_data_bytes_total", "1024.0", direction="receive"),
        line("gpu_nvlink_link_data_bytes_total", "2048.0", link="0", direction="transmit"),
        line("gpu_nvlink_link_data_bytes_total", "1024.0", link="0", direction="receive"),
        line("gpu_nvlink_link_data_bytes_total", "1024.0", link="1", direction="transmit"),
        line("gpu_nvlink_errors_total", "1.0", error="crc_flit"),
        line("gpu_nvlink_errors_total", "0.0", error="replay"),
        line("gpu_violation_seconds_total", "12.5", reason="power"),
        line("gpu_violation_seconds_total", "0.0", reason="thermal"),
        line("gpu_fabric_state", "1.0", state="completed"),
    ]


# -- absent, not zero, where NVML says NOT_SUPPORTED ------------------------------------------


def test_boards_without_a_feature_have_no_series_for_it(mixed: Sim) -> None:
    devices = mixed.reader().read_devices()
    by_name = _by_name(devices)
    sxm, pcie = by_name["NVIDIA H100 80GB HBM3"], by_name["NVIDIA H100 PCIe"]
    l4, a100 = by_name["NVIDIA L4"], by_name["NVIDIA A100-SXM4-80GB"]
    # NVLink: SXM boards only (12 links on the A100), and the fabric on Hopper HGX only.
    assert len(_counters(sxm).nvlink_links) == 18 and len(_counters(a100).nvlink_links) == 12
    for board in (pcie, l4):
        c = _counters(board)
        assert c.nvlink_links == () and c.nvlink_errors_total == ()
        assert c.nvlink_transmit_bytes_total is None and c.fabric_state is None
    assert _counters(a100).fabric_state is None and _counters(sxm).fabric_state == "completed"
    # GDDR boards have no memory temperature sensor.
    assert _counters(l4).memory_temperature_celsius is None
    assert _counters(pcie).memory_temperature_celsius is not None
    series = _exposition("mixed-1", devices)
    l4_gpu, pcie_gpu = ("gpu", "2"), ("gpu", "1")
    assert not any(l4_gpu in k for k in series["gpu_memory_temperature_celsius"])
    for name in ("gpu_nvlink_data_bytes_total", "gpu_nvlink_link_data_bytes_total"):
        assert not any(l4_gpu in k or pcie_gpu in k for k in series[name]), name
    assert {k[0] for k in series["gpu_fabric_state"]} == {("gpu", "0")}


def test_consumer_and_mig_boards_omit_what_they_cannot_report(small: Sim) -> None:
    devices = small.reader().read_devices()
    by_name = _by_name(devices)
    rtx, a100 = by_name["NVIDIA GeForce RTX 4090"], by_name["NVIDIA A100-SXM4-80GB"]
    assert _counters(rtx).violation_seconds_total == ()
    assert _counters(rtx).memory_temperature_celsius is None
    # In MIG mode the parent reports no engine utilisation, as for the SMs.
    assert a100.mig_enabled
    assert _counters(a100).encoder_utilization_ratio is None
    assert _counters(a100).decoder_utilization_ratio is None
    series = _exposition("sim-node-1", devices)
    rtx_gpu = ("gpu", str(rtx.identity.index))
    assert not any(rtx_gpu in k for k in series["gpu_violation_seconds_total"])
    assert not any(("gpu", "0") in k for k in series["gpu_encoder_utilization_ratio"])


def test_not_supported_is_remembered_per_gpu_and_call(small: Sim) -> None:
    lib = small.node.nvml
    lib.set_not_supported("nvmlDeviceGetPcieReplayCounter", 1)
    lib.set_not_supported("nvmlDeviceGetFieldValues", 2)
    reader = small.reader(slow_counters_refresh_seconds=0)
    first = reader.read_devices()
    lib.clear_not_supported()  # the driver would not change its mind: the reader does not ask
    small.clock.advance(5)
    second = reader.read_devices()
    for devices in (first, second):
        assert _counters(devices[1]).pcie_replay_errors_total is None
        assert _counters(devices[0]).pcie_replay_errors_total is not None
        assert _counters(devices[2]).pcie_replay_errors_total is not None
        assert _counters(devices[1]).memory_temperature_celsius is not None
        assert _counters(devices[1]).nvlink_transmit_bytes_total is not None
        # Everything else on those GPUs is still read.
        assert _counters(devices[1]).pcie_transmit_bytes_per_second is not None
        assert devices[1].power_watts is not None


def test_one_violation_policy_unsupported_keeps_the_others(small: Sim) -> None:
    calls: list[tuple[str, tuple[Any, ...]]] = []
    lib = _Recording(small.node.nvml, calls)
    reader = NvmlReader(lib, clock=small.clock.now, slow_counters_refresh_seconds=0)
    lib.refuse("nvmlDeviceGetViolationStatus", small.node.nvml.NVML_PERF_POLICY_SYNC_BOOST)
    for _ in range(3):
        devices = reader.read_devices()
        small.clock.advance(1)
    reasons = dict(_counters(devices[1]).violation_seconds_total)
    assert "sync_boost" not in reasons and {"power", "thermal", "reliability"} <= set(reasons)
    asked = [args for name, args in calls if name == "nvmlDeviceGetViolationStatus"]
    sync_boost = [a for a in asked if a[1] == small.node.nvml.NVML_PERF_POLICY_SYNC_BOOST]
    assert len(sync_boost) == 3  # once on each GPU, then never
    # The RTX 4090 has no violation counters: asked once, then never.
    assert len([a for a in asked if a[1] == small.node.nvml.NVML_PERF_POLICY_POWER]) == 3 + 3 + 1


# -- cadence and cost -------------------------------------------------------------------------


@pytest.mark.parametrize("per_link", [True, False])
def test_slow_counters_are_read_every_ten_seconds_the_rest_every_cycle(
    small: Sim, per_link: bool
) -> None:
    calls: list[tuple[str, tuple[Any, ...]]] = []
    lib = _Recording(small.node.nvml, calls)
    reader = NvmlReader(lib, clock=small.clock.now, nvlink_per_link=per_link)
    for _ in range(20):  # 20 one-second cycles
        reader.read_devices()
        small.clock.advance(1)
    count = {name: sum(1 for n, _a in calls if n == name) for name, _a in calls}
    gpus = 3
    assert count["nvmlDeviceGetPcieReplayCounter"] == 20 * gpus
    # One probe per GPU at the start (the RTX 4090 has none of the fields: it is not asked
    # again), then one call per cycle for the totals and, with per-link series on, one at
    # t = 0 and 10 s for the links (off: the links are not read, the driver sums them).
    links = 2 * 2 if per_link else 0
    assert count["nvmlDeviceGetFieldValues"] == gpus + 20 * 2 + links
    # PCIe throughput (two 20 ms bus samples) at t = 0 and 10 s.
    assert count["nvmlDeviceGetPcieThroughput"] == 2 * 2 * gpus
    field_calls = [args for name, args in calls if name == "nvmlDeviceGetFieldValues"]
    widest = max(len(args[1]) for args in field_calls)
    assert widest == 2 * 18 if per_link else widest < 2 * 18  # the H100's links


# -- counters ---------------------------------------------------------------------------------


def test_counters_only_grow_and_follow_the_workload(mixed: Sim) -> None:
    reader = mixed.reader(slow_counters_refresh_seconds=0)
    mixed.clock.set(EPOCH + 50 * MINUTE)
    history: list[list[DeviceSample]] = []
    # 50 minutes to 1 h 30: across the A100's 10-minute overheat window at 1 h.
    while mixed.clock.now() < EPOCH + 90 * MINUTE:
        history.append(reader.read_devices())
        mixed.clock.advance(37.0)
    for before, after in itertools.pairwise(history):
        for b, a in zip(before, after, strict=True):
            for name, value in _counter_values(_counters(b)).items():
                assert _counter_values(_counters(a))[name] >= value, (b.identity.name, name)
    start = {d.identity.name: _counters(d) for d in history[0]}
    end = {d.identity.name: _counters(d) for d in history[-1]}
    span = 37.0 * (len(history) - 1)

    def grew(name: str, attribute: Callable[[DeviceCounters], float]) -> float:
        return attribute(end[name]) - attribute(start[name])

    trainer, overheated = "NVIDIA H100 80GB HBM3", "NVIDIA A100-SXM4-80GB"
    # Training's all-reduce: tens of GB/s over NVLink, below the 450 GB/s per direction.
    nvlink_rate = grew(trainer, lambda c: c.nvlink_transmit_bytes_total or 0) / span
    assert 10e9 < nvlink_rate < 450e9
    # A training GPU near its power limit is power-capped part of the time; the idle A100 is
    # held at low clocks for low utilisation all the time, and for heat during its window.
    assert 0 < grew(trainer, lambda c: dict(c.violation_seconds_total)["power"]) <= span
    low_util = grew(overheated, lambda c: dict(c.violation_seconds_total)["low_utilization"])
    assert low_util == pytest.approx(span, abs=60)
    thermal = grew(overheated, lambda c: dict(c.violation_seconds_total)["thermal"])
    assert thermal == pytest.approx(10 * MINUTE, abs=1)
    assert grew(overheated, lambda c: c.nvlink_transmit_bytes_total or 0) == 0
    # Host traffic: the inference GPU moves more than the idle one.
    inference = end["NVIDIA H100 PCIe"].pcie_receive_bytes_per_second or 0
    idle = end[overheated].pcie_receive_bytes_per_second or 0
    assert inference > 10 * idle


def test_fabric_registers_after_driver_load(mixed: Sim) -> None:
    reader = mixed.reader(slow_counters_refresh_seconds=0)
    mixed.clock.set(EPOCH + 20)
    assert _counters(reader.read_devices()[0]).fabric_state == "in_progress"
    mixed.clock.set(EPOCH + 10 * MINUTE)
    assert _counters(reader.read_devices()[0]).fabric_state == "completed"


def _counter_values(c: DeviceCounters) -> dict[str, float]:
    values: dict[str, float] = {
        "pcie_replay": c.pcie_replay_errors_total or 0,
        "nvlink_tx": c.nvlink_transmit_bytes_total or 0,
        "nvlink_rx": c.nvlink_receive_bytes_total or 0,
    }
    for link in c.nvlink_links:
        values[f"link{link.link}_tx"] = link.transmit_bytes_total or 0
        values[f"link{link.link}_rx"] = link.receive_bytes_total or 0
    values.update({f"error_{k}": v for k, v in c.nvlink_errors_total})
    values.update({f"violation_{k}": v for k, v in c.violation_seconds_total})
    return values


class _Recording:
    """The simulated NVML library, recording each call; ``refuse`` makes one (function, first
    argument after the handle) answer NOT_SUPPORTED, as a driver would for one policy."""

    def __init__(self, lib: Any, calls: list[tuple[str, tuple[Any, ...]]]) -> None:
        self._lib = lib
        self._calls = calls
        self._refused: set[tuple[str, Any]] = set()

    def refuse(self, name: str, argument: Any) -> None:
        self._refused.add((name, argument))

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._lib, name)
        if not name.startswith("nvml") or not callable(value):
            return value

        def call(*args: Any, **kwargs: Any) -> Any:
            self._calls.append((name, args))
            if len(args) > 1 and any(name == n and args[1] == a for n, a in self._refused):
                raise self._lib.NVMLError(self._lib.NVML_ERROR_NOT_SUPPORTED)
            return value(*args, **kwargs)

        return call
