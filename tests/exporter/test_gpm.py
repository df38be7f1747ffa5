"""GPM profiling (issue 20): the production reader, sampler and collector on the simulated fleet.

Everything above the NVML library object is the production code (exporter.gpm, the sampler's
gpm stage, the collector, the HTTP server); only the GPUs are simulated. What each GPU is, which
pod runs on it and which MIG instances it has is read from the fleet YAML.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from exporter.config import load_settings
from exporter.gpm import GpmReader
from exporter.metrics import CATALOGUE
from exporter.nvml import NvmlReader
from exporter.pipeline import start_exporter
from exporter.sampler import Sampler
from exporter.server import ExporterHTTPServer, SnapshotRegistry
from simulator.clock import ManualClock
from simulator.fleet import NodeSpec
from simulator.node import SimulatedFleet, SimulatedNode
from tests.conftest import FLEETS, http_get

GPM_FLEET = FLEETS / "test-gpm.yaml"
DEMO_FLEET = FLEETS / "demo.yaml"
HOUR = 3600.0
PEAK = 15 * HOUR + 30  # 15:00 UTC on the epoch's day: inference at its diurnal peak
HOPPER = {"H100_80GB", "H200_141GB"}
PROF_METRICS = tuple(
    m.name
    for m in CATALOGUE
    if m.name.startswith("gpu_prof_") and m.name != "gpu_prof_support_info"
)
RATES = {m for m in PROF_METRICS if m.endswith("_bytes_per_second")}

Labels = tuple[tuple[str, str], ...]
Samples = dict[tuple[str, Labels], float]


@dataclass
class Rig:
    node: SimulatedNode
    spec: NodeSpec
    clock: ManualClock
    epoch: float
    sampler: Sampler
    gpm: GpmReader

    def cycle(self, seconds: float = 1.0) -> None:
        """One background cycle ``seconds`` after the last: NVML readings, then GPM."""
        self.clock.advance(seconds)
        self.sampler.run_nvml_stage()
        self.sampler.run_gpm_stage()

    def scrape(self) -> str:
        snapshot = self.sampler.snapshot()
        assert snapshot is not None
        return generate_latest(SnapshotRegistry(snapshot)).decode()


def _rig(path: Path, node_name: str | None = None, at: float = PEAK) -> Iterator[Rig]:
    epoch = SimulatedFleet.from_file(path, ManualClock(0.0)).spec.epoch_seconds
    clock = ManualClock(epoch + at)
    fleet = SimulatedFleet.from_file(path, clock)
    node = fleet.node(node_name or fleet.nodes[0])
    owner: list[Sampler] = []  # errors are counted by the sampler, as in exporter.pipeline

    def count_error(operation: str) -> None:
        owner[0].count_error(operation)

    reader = NvmlReader(node.nvml, clock=clock.now, on_error=count_error)
    gpm = GpmReader(node.nvml, on_error=count_error)
    sampler = Sampler(node.name, reader, profiler=gpm, clock=clock.now)
    owner.append(sampler)
    rig = Rig(node, node.spec, clock, epoch, sampler, gpm)
    try:
        yield rig
    finally:
        gpm.close()
        reader.shutdown()


@pytest.fixture
def rig() -> Iterator[Rig]:
    yield from _rig(GPM_FLEET)


def _samples(text: str) -> Samples:
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def _prof(samples: Samples, gpu: int, gpu_instance_id: int | None = None) -> dict[str, float]:
    """gpu_prof_* values of one GPU (or one of its MIG GPU instances), by metric name."""
    gi = "" if gpu_instance_id is None else str(gpu_instance_id)
    return {
        name: value
        for (name, labels), value in samples.items()
        if name in PROF_METRICS
        and dict(labels)["gpu"] == str(gpu)
        and dict(labels)["gpu_instance_id"] == gi
    }


def _support(samples: Samples) -> dict[str, tuple[str, str]]:
    """gpu index -> (supported, reason) from gpu_prof_support_info."""
    return {
        dict(labels)["gpu"]: (dict(labels)["supported"], dict(labels)["reason"])
        for (name, labels), value in samples.items()
        if name == "gpu_prof_support_info" and value == 1.0
    }


def _in_range(values: dict[str, float]) -> None:
    for name, value in values.items():
        if name in RATES:
            assert value >= 0.0, (name, value)
        else:
            assert 0.0 <= value <= 1.0, (name, value)


# -- what is exported where ---------------------------------------------------------------------


def test_every_prof_metric_on_each_hopper_gpu_and_mig_instance(rig: Rig) -> None:
    rig.cycle()
    rig.cycle()
    samples = _samples(rig.scrape())
    hopper = [g for g in rig.spec.gpus if g.model.model_id in HOPPER]
    assert len(hopper) == 8
    for gpu in hopper:
        whole = _prof(samples, gpu.index)
        assert set(whole) == set(PROF_METRICS), gpu.index
        _in_range(whole)
        mig_uuids = {
            dict(labels)["mig_uuid"]
            for (name, labels) in samples
            if name in PROF_METRICS and dict(labels)["gpu"] == str(gpu.index)
        }
        assert mig_uuids == {""} | {i.uuid for i in gpu.mig_instances}
        for instance in gpu.mig_instances:
            values = _prof(samples, gpu.index, instance.gpu_instance_id)
            # An NVOFA engine belongs only to a "+me" or full-GPU instance: absent, not zero.
            has_ofa = instance.profile.name.endswith("+me")
            expected = set(PROF_METRICS) - (
                set() if has_ofa else {"gpu_prof_nvofa_utilization_ratio"}
            )
            assert set(values) == expected, (gpu.index, instance.profile.name)
            _in_range(values)
    assert any(g.mig_instances for g in hopper), "the fleet has a Hopper GPU in MIG mode"


def test_ampere_gpus_export_only_the_support_info_saying_why(rig: Rig) -> None:
    rig.cycle()
    rig.cycle()
    samples = _samples(rig.scrape())
    support = _support(samples)
    assert len(support) == len(rig.spec.gpus), "one verdict per GPU"
    for gpu in rig.spec.gpus:
        if gpu.model.model_id in HOPPER:
            assert support[str(gpu.index)] == ("true", "supported")
        else:
            assert support[str(gpu.index)] == ("false", "device_not_supported")
            assert not [
                key
                for key in samples
                if key[0].startswith("gpu_prof_")
                and key[0] != "gpu_prof_support_info"
                and dict(key[1])["gpu"] == str(gpu.index)
            ], f"GPU {gpu.index} ({gpu.model.model_id}) has no GPM"
    assert any(g.mig_instances for g in rig.spec.gpus if g.model.model_id not in HOPPER)


def test_driver_without_gpm_on_a_hopper_gpu_is_said_so(rig: Rig) -> None:
    # NotSupported from the support query itself (a driver or vGPU without GPM): asked once.
    rig.node.nvml.set_not_supported("nvmlGpmQueryDeviceSupport", 3)
    rig.cycle()
    rig.node.nvml.clear_not_supported()
    rig.cycle()
    samples = _samples(rig.scrape())
    assert _support(samples)["3"] == ("false", "driver_not_supported")
    assert not _prof(samples, 3)
    assert set(_prof(samples, 4)) == set(PROF_METRICS)


def test_a_target_nvml_cannot_sample_is_left_out_alone(rig: Rig) -> None:
    # The whole of a MIG-mode GPU refused (only its GPU instances can be sampled): its
    # instances are still exported, its two buffers are freed and it is not asked again.
    mig_gpu = next(g for g in rig.spec.gpus if g.model.model_id in HOPPER and g.mig_instances)
    fake = rig.node.nvml.gpm
    rig.node.nvml.set_not_supported("nvmlGpmSampleGet", mig_gpu.index)
    rig.cycle()
    rig.cycle()
    samples = _samples(rig.scrape())
    assert not _prof(samples, mig_gpu.index)
    for instance in mig_gpu.mig_instances:
        assert _prof(samples, mig_gpu.index, instance.gpu_instance_id)
    assert _support(samples)[str(mig_gpu.index)] == ("true", "supported")
    held, taken = fake.buffers_allocated, fake.samples_taken
    assert held == rig.gpm.buffers_held
    rig.node.nvml.clear_not_supported()
    rig.cycle()
    assert fake.buffers_allocated == held, "not asked again"
    assert fake.samples_taken - taken == held // 2
    errors = dict(rig.sampler.snapshot().errors_total)  # type: ignore[union-attr]
    assert "nvmlGpmSampleGet" not in errors, "NotSupported is an answer, not an error"


def test_values_follow_each_workload(rig: Rig) -> None:
    rig.cycle()
    rig.cycle(5.0)
    samples = _samples(rig.scrape())
    pods = {
        (ref.gpu_index, ref.mig_slot): pod
        for pod in rig.spec.pods
        for container in pod.containers
        for ref in container.devices
    }

    def gpu_with(workload: str, spread: bool = False) -> dict[str, float]:
        for (gpu, slot), pod in sorted(pods.items(), key=lambda kv: (kv[0][0], kv[0][1] or -1)):
            held = {r.gpu_index for c in pod.containers for r in c.devices}
            if (
                slot is None
                and pod.workload == workload
                and rig.spec.gpus[gpu].model.model_id in HOPPER
                and (len(held) > 1) == spread
            ):
                return _prof(samples, gpu)
        raise AssertionError(f"no Hopper GPU runs a {workload} pod")

    inference, training = gpu_with("inference", spread=True), gpu_with("training", spread=True)
    notebook = gpu_with("notebook")
    tensor = "gpu_prof_tensor_active_ratio"
    assert inference[tensor] > 0.2 and notebook[tensor] < 0.05
    assert training[tensor] > notebook[tensor]
    assert (
        inference["gpu_prof_dram_bandwidth_utilization_ratio"]
        > training["gpu_prof_dram_bandwidth_utilization_ratio"]
    ), "LLM decode is memory-bound"
    assert training["gpu_prof_sm_active_ratio"] > 0.7
    # NVLink traffic only where a pod spans GPUs.
    assert training["gpu_prof_nvlink_transmit_bytes_per_second"] > 1e9
    assert notebook["gpu_prof_nvlink_transmit_bytes_per_second"] == 0.0
    idle = [
        g.index
        for g in rig.spec.gpus
        if g.model.model_id in HOPPER and not g.mig_instances and (g.index, None) not in pods
    ]
    assert idle
    for index in idle:
        values = _prof(samples, index)
        assert max(v for n, v in values.items() if n not in RATES) < 0.01
        assert values["gpu_prof_pcie_receive_bytes_per_second"] < 1e6
    # MIG instances follow the pod on each.
    mig_gpu = next(g for g in rig.spec.gpus if g.model.model_id in HOPPER and g.mig_instances)
    by_workload = {
        pods[(mig_gpu.index, i.slot)].workload: _prof(samples, mig_gpu.index, i.gpu_instance_id)
        for i in mig_gpu.mig_instances
        if (mig_gpu.index, i.slot) in pods
    }
    assert by_workload["inference"][tensor] > 0.2 and by_workload["notebook"][tensor] < 0.05
    assert by_workload["inference"]["gpu_prof_nvlink_transmit_bytes_per_second"] == 0.0


# -- sampling off the scrape path ---------------------------------------------------------------


def test_one_sample_per_target_per_cycle_and_none_on_scrape(rig: Rig) -> None:
    fake = rig.node.nvml.gpm
    rig.cycle()
    first = _samples(rig.scrape())
    assert not [k for k in first if k[0] in PROF_METRICS], "the first cycle is the baseline"
    assert len(_support(first)) == len(rig.spec.gpus)
    targets = sum(
        1 + len({i.gpu_instance_id for i in g.mig_instances})
        for g in rig.spec.gpus
        if g.model.model_id in HOPPER
    )
    assert fake.samples_taken == targets
    assert fake.buffers_allocated == 2 * targets == rig.gpm.buffers_held

    rig.cycle()
    taken, computed = fake.samples_taken, fake.metrics_calls
    assert (taken, computed) == (2 * targets, targets)
    text = rig.scrape()
    rig.clock.advance(30.0)  # time passes, no cycle runs
    assert rig.scrape() == text
    server = ExporterHTTPServer(("127.0.0.1", 0), rig.sampler, nvml_interval_seconds=1.0)
    server.serve_in_thread()
    try:
        bodies = {http_get(server.url + "/metrics") for _ in range(3)}
    finally:
        server.shutdown()
        server.server_close()
    assert len(bodies) == 1 and b"gpu_prof_sm_active_ratio{" in bodies.pop()
    assert (fake.samples_taken, fake.metrics_calls) == (taken, computed), "scrapes never sample"
    assert fake.buffers_allocated == 2 * targets, "buffers are reused, not reallocated"

    rig.cycle()
    assert fake.samples_taken == taken + targets
    stages = {s.stage: s for s in rig.sampler.snapshot().stages}  # type: ignore[union-attr]
    assert stages["gpm"].last_success_timestamp_seconds == rig.clock.now()


def test_each_value_is_the_mean_over_the_last_interval(rig: Rig) -> None:
    # Inference changes every minute (diurnal curve plus noise): a cycle spanning 10 minutes
    # reports their mean, which a 1 s cycle inside the last minute generally does not.
    rig.cycle()
    rig.cycle(600.0)
    long = _prof(_samples(rig.scrape()), 1)["gpu_prof_tensor_active_ratio"]
    rig.cycle(1.0)
    short = _prof(_samples(rig.scrape()), 1)["gpu_prof_tensor_active_ratio"]
    assert long != short
    assert 0.0 < long < 1.0 and 0.0 < short < 1.0


# -- buffers: lost GPUs, shutdown -----------------------------------------------------------------


def test_lost_gpu_frees_its_buffers_and_comes_back(rig: Rig) -> None:
    lost = next(e for e in rig.spec.events if e.kind == "gpu_lost")
    fake = rig.node.nvml.gpm
    rig.clock.set(rig.epoch + lost.at_seconds - 5.0)
    rig.cycle()
    rig.cycle()
    held = fake.buffers_allocated
    assert _prof(_samples(rig.scrape()), lost.gpu_index)
    rig.clock.set(rig.epoch + lost.at_seconds + 60.0)
    rig.cycle()
    during = _samples(rig.scrape())
    assert not _prof(during, lost.gpu_index)
    assert fake.buffers_allocated == held - 2, "the lost GPU's two buffers are freed"
    assert _support(during)[str(lost.gpu_index)] == ("true", "supported")
    assert _prof(during, 1), "the other GPUs go on"
    rig.clock.set(rig.epoch + lost.at_seconds + lost.duration_seconds + 60.0)
    rig.cycle()
    assert not _prof(_samples(rig.scrape()), lost.gpu_index), "a new baseline first"
    rig.cycle()
    assert set(_prof(_samples(rig.scrape()), lost.gpu_index)) == set(PROF_METRICS)
    assert fake.buffers_allocated == held


def test_close_frees_every_buffer(rig: Rig) -> None:
    rig.cycle()
    rig.cycle()
    assert rig.node.nvml.gpm.buffers_allocated > 0
    rig.gpm.close()
    assert rig.node.nvml.gpm.buffers_allocated == 0
    rig.cycle()
    assert not [k for k in _samples(rig.scrape()) if k[0].startswith("gpu_prof_")]


def test_close_does_not_wait_for_a_read_stuck_in_nvml(rig: Rig) -> None:
    rig.cycle()
    rig.cycle()
    rig.node.nvml.set_call_latency(0.3)  # a slow or wedged driver
    stuck = threading.Thread(target=rig.sampler.run_gpm_stage)
    stuck.start()
    try:
        time.sleep(0.1)
        started = time.monotonic()
        rig.gpm.close(timeout=0.2)
        assert time.monotonic() - started < 1.0
        assert rig.node.nvml.gpm.buffers_allocated > 0, "the read still holds them"
    finally:
        rig.node.nvml.set_call_latency(0.0)
        stuck.join(timeout=30)
    assert rig.node.nvml.gpm.buffers_allocated == 0, "freed when the read returned"
    assert not [k for k in _samples(rig.scrape()) if k[0] in PROF_METRICS]


# -- the demo fleet and the whole exporter ------------------------------------------------------


@pytest.mark.parametrize(
    ("node_name", "has_gpm"), [("gpu-worker-3", True), ("gpu-worker-1", False)]
)
def test_demo_fleet_hopper_node_has_gpm_and_ampere_node_not(node_name: str, has_gpm: bool) -> None:
    for rig in _rig(DEMO_FLEET, node_name):
        rig.cycle()
        rig.cycle()
        samples = _samples(rig.scrape())
        for gpu in rig.spec.gpus:
            assert (gpu.model.model_id in HOPPER) == has_gpm
            assert bool(_prof(samples, gpu.index)) == has_gpm, gpu.index
            for instance in gpu.mig_instances:
                assert bool(_prof(samples, gpu.index, instance.gpu_instance_id)) == has_gpm
        expected = ("true", "supported") if has_gpm else ("false", "device_not_supported")
        assert set(_support(samples).values()) == {expected}


def test_running_exporter_samples_gpm_in_the_background() -> None:
    from simulator.clock import SystemClock

    fleet = SimulatedFleet.from_file(GPM_FLEET, SystemClock())
    node = fleet.node(fleet.nodes[0])
    settings = load_settings(
        ["--node-name", node.name, "--listen", "127.0.0.1:0", "--nvml-interval", "0.2"], env={}
    )
    with contextlib.ExitStack() as stack:
        exporter = start_exporter(stack, settings, node.nvml, xid_wait_ms=50)
        deadline = time.monotonic() + 20
        body = ""
        while time.monotonic() < deadline:
            body = http_get(f"http://{exporter.target}/metrics").decode()
            if "gpu_prof_sm_active_ratio{" in body:
                break
            time.sleep(0.1)
        samples = _samples(body)
        assert set(_prof(samples, 1)) == set(PROF_METRICS)
        assert [
            v
            for (n, labels), v in samples.items()
            if n == "gpu_exporter_stage_duration_seconds" and dict(labels)["stage"] == "gpm"
        ]
        assert node.nvml.gpm.buffers_allocated > 0
    assert node.nvml.gpm.buffers_allocated == 0, "shutdown frees every GPM buffer"


def test_gpm_turned_off_asks_nvml_nothing_and_says_so() -> None:
    """--gpm=false (GPU_EXPORTER_GPM): for nodes where another profiler owns the counters."""
    from simulator.clock import SystemClock

    fleet = SimulatedFleet.from_file(GPM_FLEET, SystemClock())
    node = fleet.node(fleet.nodes[0])
    fake = node.nvml.gpm
    asked: list[str] = []
    query = node.nvml.nvmlGpmQueryDeviceSupport

    def counted_query(handle: object) -> object:
        asked.append("nvmlGpmQueryDeviceSupport")
        return query(handle)

    node.nvml.nvmlGpmQueryDeviceSupport = counted_query  # type: ignore[method-assign,assignment]
    settings = load_settings(
        ["--node-name", node.name, "--listen", "127.0.0.1:0", "--nvml-interval", "0.2"],
        env={"GPU_EXPORTER_GPM": "false"},
    )
    assert settings.gpm is False
    with contextlib.ExitStack() as stack:
        exporter = start_exporter(stack, settings, node.nvml, xid_wait_ms=50)
        time.sleep(1.0)  # five cycles
        samples = _samples(http_get(f"http://{exporter.target}/metrics").decode())
    assert not [k for k in samples if k[0] in PROF_METRICS]
    assert set(_support(samples).values()) == {("false", "disabled")}
    assert len(_support(samples)) == len(node.spec.gpus)
    assert (fake.samples_taken, fake.metrics_calls, fake.buffers_allocated) == (0, 0, 0)
    assert asked == []
    assert load_settings(["--gpm", "true"], env={}).gpm is True
    with pytest.raises(SystemExit):
        load_settings(["--gpm", "maybe"], env={})
