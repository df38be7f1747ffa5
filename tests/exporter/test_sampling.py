"""The exporter's NVML reader, XID watcher, sampler and HTTP server on the simulated fleet.

Everything below the NVML library object is the production code; only the GPUs are simulated.
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from exporter.kube import KubePodSource
from exporter.nvml import NvmlReader, XidWatcher
from exporter.podresources.client import PodResourcesClient
from exporter.sampler import Intervals, Sampler
from exporter.server import ExporterHTTPServer
from simulator.clock import ManualClock
from simulator.kubeapi import KubeApiServer
from simulator.kubelet import PodResourcesServer
from simulator.node import SimulatedFleet, SimulatedNode
from tests.conftest import FLEETS, http_get

SMALL = FLEETS / "test-small.yaml"
HOUR = 3600.0


@dataclass
class Sim:
    fleet: SimulatedFleet
    node: SimulatedNode
    clock: ManualClock
    epoch: float


@pytest.fixture
def sim() -> Sim:
    probe = SimulatedFleet.from_file(SMALL, ManualClock(0.0))
    epoch = probe.spec.epoch_seconds
    clock = ManualClock(epoch + 30 * 60)
    fleet = SimulatedFleet.from_file(SMALL, clock)
    return Sim(fleet, fleet.node(fleet.nodes[0]), clock, epoch)


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def test_reader_reads_every_gpu_with_what_each_supports(sim: Sim) -> None:
    reader = NvmlReader(sim.node.nvml, clock=sim.clock.now)
    devices = reader.read_devices()
    assert [d.up for d in devices] == [True, True, True]
    by_name = {d.identity.name: d for d in devices}
    a100 = next(d for n, d in by_name.items() if "A100" in n)
    h100 = next(d for n, d in by_name.items() if "H100" in n)
    rtx = next(d for n, d in by_name.items() if "4090" in n)
    assert a100.mig_enabled is True and a100.mig_instances
    assert all(m.mig_uuid.startswith("MIG-") for m in a100.mig_instances)
    assert all(m.memory_total_bytes and m.memory_total_bytes > 0 for m in a100.mig_instances)
    # Consumer cards have no ECC and no row remapping: omitted, not zero.
    assert rtx.ecc_corrected_total is None and rtx.row_remap_pending is None
    assert h100.ecc_corrected_total is not None and h100.remapped_rows_correctable is not None
    assert rtx.mig_enabled is None  # MIG mode is "not supported" there
    for device in devices:
        assert device.identity.uuid.startswith("GPU-")
        assert device.memory_total_bytes and device.memory_total_bytes > 0
        assert device.power_limit_watts and device.power_limit_watts > 0
    assert reader.driver_version


def test_busy_counter_only_grows(sim: Sim) -> None:
    reader = NvmlReader(sim.node.nvml, clock=sim.clock.now)
    previous: dict[int, float] = {}
    for _ in range(20):
        for device in reader.read_devices():
            if device.busy_seconds_total is None:
                continue
            index = device.identity.index
            assert device.busy_seconds_total >= previous.get(index, 0.0)
            previous[index] = device.busy_seconds_total
        sim.clock.advance(1.0)
    assert previous and max(previous.values()) > 0.0


def test_gpu_lost_mid_run_reports_down_and_recovers(sim: Sim) -> None:
    reader = NvmlReader(sim.node.nvml, clock=sim.clock.now)
    before = reader.read_devices()
    assert all(d.up for d in before)
    sim.clock.set(sim.epoch + 2 * HOUR + 60)  # inside the 10-minute gpu_lost window
    during = reader.read_devices()
    down = [d for d in during if not d.up]
    assert len(down) == 1
    lost = down[0]
    # The identity read before the loss is kept, so the series stays joinable.
    assert lost.identity == before[lost.identity.index].identity
    assert all(d.up for d in during if d is not lost)
    snapshot_text = _render(during, reader)
    samples = _samples(snapshot_text)
    up = {dict(k[1])["gpu"]: v for k, v in samples.items() if k[0] == "gpu_up"}
    assert up[str(lost.identity.index)] == 0.0
    assert sum(up.values()) == 2.0
    sim.clock.set(sim.epoch + 2 * HOUR + 11 * 60)  # window over: retried and back
    assert all(d.up for d in reader.read_devices())


def _render(devices: list[Any], reader: NvmlReader) -> str:
    from prometheus_client import generate_latest

    from exporter.server import SnapshotRegistry
    from exporter.snapshot import Snapshot

    snapshot = Snapshot("n", 0.0, reader.driver_version, None, tuple(devices), len(devices))
    return generate_latest(SnapshotRegistry(snapshot)).decode()  # type: ignore[arg-type]


def _wait_for(condition: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def test_xid_events_are_counted_per_code(sim: Sim) -> None:
    watcher = XidWatcher(sim.node.nvml, clock=sim.clock.now, wait_ms=50)
    watcher.start()
    try:
        _wait_for(lambda: watcher.registered == 3)
        assert watcher.counts() == ()
        sim.clock.set(sim.epoch + HOUR + 1)  # the fleet's XID event at +1h
        _wait_for(lambda: len(watcher.counts()) == 1)
        (first,) = watcher.counts()
        assert first.count == 1
        assert first.last_seen_timestamp_seconds == pytest.approx(sim.epoch + HOUR + 1)
        sim.clock.set(sim.epoch + 2 * HOUR + 1)  # the GPU falls off the bus: XID 79
        _wait_for(lambda: any(c.xid == 79 for c in watcher.counts()))
        counts = {(c.gpu_uuid, c.xid): c.count for c in watcher.counts()}
        assert counts[(first.gpu_uuid, first.xid)] == 1  # a counter, not a "last value"
        assert sum(1 for (_u, xid) in counts if xid == 79) == 1
    finally:
        watcher.stop()


@pytest.fixture
def attribution(sim: Sim) -> Iterator[tuple[PodResourcesClient, KubePodSource, Path]]:
    workdir = Path(tempfile.mkdtemp(prefix="gx"))
    socket_path = str(workdir / "k.sock")
    proc = workdir / "proc"
    sim.node.write_proc(proc)
    with (
        PodResourcesServer(socket_path, sim.node.pod_resources_response),
        KubeApiServer(sim.node.pod_list) as kube_api,
    ):
        client = PodResourcesClient(socket_path)
        pods = KubePodSource(sim.node.name, api_url=kube_api.url)
        yield client, pods, proc
        client.close()
        pods.close()


def test_sampler_attributes_pods_through_the_real_protocols(
    sim: Sim, attribution: tuple[PodResourcesClient, KubePodSource, Path]
) -> None:
    client, pods, proc = attribution
    reader = NvmlReader(sim.node.nvml, clock=sim.clock.now)
    sampler = Sampler(
        sim.node.name, reader, pod_devices=client, pods=pods, proc_root=proc, clock=sim.clock.now
    )
    sampler.run_nvml_stage()
    sampler.run_kubernetes_stage()
    sampler.run_pod_resources_stage()
    sampler.run_processes_stage()
    snapshot = sampler.snapshot()
    assert snapshot is not None
    spec_pods = {p["metadata"]["name"]: p for p in sim.node.pod_list()["items"]}
    finished = {
        n for n, p in spec_pods.items() if p["status"]["phase"] not in ("Running", "Pending")
    }
    assert finished, "the test fleet has a finished pod"
    attributed = {a.pod for a in snapshot.allocations}
    assert not attributed & finished, "finished pods are dropped"
    assert any(a.mig_uuid for a in snapshot.allocations), "MIG slices attributed"
    assert sum(a.sharing == "shared" for a in snapshot.allocations) >= 2, "time-sliced replicas"
    device_uuids = {d.identity.uuid for d in snapshot.devices}
    assert {a.gpu_uuid for a in snapshot.allocations} <= device_uuids
    assert snapshot.pod_usage, "per-process memory mapped to containers through /proc"
    for usage in snapshot.pod_usage:
        assert usage.used_memory_bytes > 0
        assert (usage.namespace, usage.pod) in {(a.namespace, a.pod) for a in snapshot.allocations}
    errors = dict(snapshot.errors_total)
    assert errors.get("resolve_device_id", 0) == 0, "every device-id form resolved"


def test_scrape_answers_within_timeout_while_nvml_is_slow(sim: Sim) -> None:
    reader = NvmlReader(sim.node.nvml)
    sampler = Sampler(sim.node.name, reader, intervals=Intervals(nvml=0.2, processes=0.2))
    sampler.start()
    server = ExporterHTTPServer(("127.0.0.1", 0), sampler, nvml_interval_seconds=0.2)
    server.serve_in_thread()
    try:
        sim.node.nvml.set_call_latency(0.5)  # a cycle now takes many seconds
        time.sleep(0.5)  # let the sampler get stuck inside NVML
        started = time.monotonic()
        body = http_get(
            server.url + "/metrics",
            {"X-Prometheus-Scrape-Timeout-Seconds": "2"},
            timeout=10,
        ).decode()
        elapsed = time.monotonic() - started
        assert elapsed < 2.0, f"scrape took {elapsed:.2f}s, past Prometheus's 2 s timeout"
        assert "gpu_up{" in body and "gpu_info{" in body
        # Without the header the last snapshot is served at once.
        started = time.monotonic()
        http_get(server.url + "/metrics", timeout=10)
        assert time.monotonic() - started < 1.0
    finally:
        sim.node.nvml.set_call_latency(0.0)
        server.shutdown()
        server.server_close()
        sampler.stop()


def test_one_unsupported_field_does_not_hide_the_others(sim: Sim) -> None:
    sim.node.nvml.set_not_supported("nvmlDeviceGetPowerUsage", 1)
    devices = NvmlReader(sim.node.nvml, clock=sim.clock.now).read_devices()
    assert devices[1].up and devices[1].power_watts is None
    assert devices[1].temperature_celsius is not None
    assert devices[0].power_watts is not None and devices[2].power_watts is not None


def test_healthz_reports_stuck_sampling(sim: Sim) -> None:
    clock = [1000.0]
    reader = NvmlReader(sim.node.nvml)
    sampler = Sampler(sim.node.name, reader, clock=lambda: clock[0])
    sampler.run_nvml_stage()
    server = ExporterHTTPServer(
        ("127.0.0.1", 0), sampler, nvml_interval_seconds=1.0, clock=lambda: clock[0]
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        assert http_get(server.url + "/healthz") == b"ok\n"
        clock[0] += 120.0  # no NVML cycle has finished for two minutes
        with pytest.raises(OSError, match="503"):
            http_get(server.url + "/healthz")
    finally:
        server.shutdown()
        server.server_close()
