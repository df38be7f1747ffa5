"""The multi-node exporter (simulator.multiexporter) against the real single-node exporter, and
its targets discovered by the real Prometheus through the file_sd file devstack.scale writes."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack.prometheus import PrometheusServer, ScrapeJob, query
from devstack.scale import ScaleStack, write_sd_file
from simulator.fleet import load_fleet
from simulator.multiexporter import shard_nodes
from tests.conftest import FLEETS, ROOT, ExporterFactory, http_get

DEMO = FLEETS / "demo.yaml"
DEMO_NODES = [node.name for node in load_fleet(DEMO).nodes]
# Series whose values depend on when they were read or on when their exporter started, not
# on the node: compared by name and labels only.
TIMING_SERIES = (
    "gpu_energy_consumed_joules_total",  # the driver's counter, integrated to the read time
    # The driver's counters integrated to the read time, and its 20 ms PCIe sample: each
    # exporter reads them at its own moment of the slot (exporter/nvml.py, slow counters).
    "gpu_violation_seconds_total",
    "gpu_nvlink_data_bytes_total",
    "gpu_nvlink_link_data_bytes_total",
    "gpu_pcie_throughput_bytes_per_second",
    "gpu_busy_seconds_total",  # counted by the exporter process since it started
    "gpu_xid_last_seen_timestamp_seconds",
    "gpu_exporter_stage_duration_seconds",
    "gpu_exporter_stage_last_success_timestamp_seconds",
)
_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$")


def normalised(text: str) -> str:
    """The exposition with the values of :data:`TIMING_SERIES` replaced by ``T``."""
    lines = []
    for line in text.splitlines():
        found = _SAMPLE.match(line)
        if found and found.group(1) in TIMING_SERIES:
            lines.append(f"{found.group(1)}{found.group(2) or ''} T")
        else:
            lines.append(line)
    return "\n".join(lines) + "\n"


@pytest.fixture
def multiexporter(tmp_path: Path) -> Iterator[dict[str, str]]:
    """``python -m simulator.multiexporter`` over the demo fleet; ``{node: base URL}``."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "simulator.multiexporter",
            "--fleet",
            str(DEMO),
            "--workdir",
            str(tmp_path / "multi"),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:
            raise AssertionError(f"multiexporter did not start: {process.communicate()[1]}")
        ready = json.loads(line)
        assert ready["nodes"] == len(DEMO_NODES)
        targets = json.loads(Path(ready["targets"]).read_text())
        yield {node: f"http://{target}" for node, target in targets.items()}
    finally:
        process.terminate()
        process.communicate(timeout=30)  # waits, and closes its pipes


def _same_minute_scrapes(urls: list[str]) -> list[str]:
    """Scrape every URL within one simulated minute (per-minute values then agree), well after
    a sampling cycle of each (NVML is read every second)."""
    for _ in range(3):
        second = time.time() % 60
        if not 5 <= second <= 45:
            time.sleep((65 - second) % 60)
        started = time.time()
        texts = [http_get(url + "/metrics").decode() for url in urls]
        if started // 60 == time.time() // 60 and time.time() % 60 <= 55:
            return texts
    raise AssertionError("could not scrape within one minute")


def test_each_node_is_byte_identical_to_its_own_exporter_process(
    multiexporter: dict[str, str], exporter_process: ExporterFactory
) -> None:
    assert set(multiexporter) == set(DEMO_NODES)
    singles = {node: exporter_process(DEMO, node) for node in DEMO_NODES}
    time.sleep(2)  # both sides past their first NVML cycles
    urls = [u for node in DEMO_NODES for u in (multiexporter[node], singles[node])]
    texts = _same_minute_scrapes(urls)
    for i, node in enumerate(DEMO_NODES):
        multi, single = texts[2 * i], texts[2 * i + 1]
        assert f'node="{node}"' in multi
        assert normalised(multi) == normalised(single), node
        # The timing series are there on both sides, with the same labels.
        assert sum(name in multi for name in TIMING_SERIES) >= 3
    # The nodes differ from one another: each target serves its own node.
    assert len({normalised(t) for t in texts[::2]}) == len(DEMO_NODES)


def test_prometheus_discovers_every_node_through_the_sd_file(
    multiexporter: dict[str, str], tmp_path: Path
) -> None:
    sd_file = write_sd_file(tmp_path / "targets" / "gpu-exporter.json", multiexporter)
    job = ScrapeJob("gpu-exporter", (), file_sd_files=(str(sd_file),))
    with PrometheusServer(tmp_path / "prometheus", [job], scrape_interval="1s") as prometheus:
        deadline = time.monotonic() + 60
        targets: list[dict[str, object]] = []
        while time.monotonic() < deadline:
            body = json.loads(http_get(prometheus.url + "/api/v1/targets"))
            targets = body["data"]["activeTargets"]
            if len(targets) == len(DEMO_NODES) and all(t["health"] == "up" for t in targets):
                break
            time.sleep(0.5)
        assert sorted(t["labels"]["instance"] for t in targets) == sorted(DEMO_NODES)  # type: ignore[index]
        for target in targets:
            discovered = target["discoveredLabels"]
            assert discovered["__meta_filepath"] == str(sd_file)  # type: ignore[index]
            assert target["health"] == "up", target
        # Every node's GPUs under its own instance, and the exporter's node label agrees.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            result = query(prometheus.url, "count by (instance, node) (gpu_up)")["result"]
            if len(result) == len(DEMO_NODES):
                break
            time.sleep(0.5)
        counts = {r["metric"]["instance"]: int(r["value"][1]) for r in result}
        assert counts == {node.name: len(node.gpus) for node in load_fleet(DEMO).nodes}
        assert all(r["metric"]["node"] == r["metric"]["instance"] for r in result)


def test_shards_cover_the_fleet_once() -> None:
    nodes = [f"n{i}" for i in range(10)]
    shards = [shard_nodes(nodes, i, 3) for i in range(3)]
    assert [len(s) for s in shards] == [4, 3, 3]
    assert [n for s in shards for n in s] == nodes
    with pytest.raises(ValueError):
        shard_nodes(nodes, 3, 3)


def test_scale_stack_serves_history_and_sharded_live_targets(tmp_path: Path) -> None:
    """The whole ScaleStack on the demo fleet: two shards, the file_sd job, backfilled history."""
    stack = ScaleStack(
        DEMO,
        shards=2,
        history_groups=2,
        days=3 / 24,
        step=300,
        scrape_interval="2s",
        analytics=False,
        workdir=tmp_path / "stack",
        cache_dir=tmp_path / "cache",
        start_timeout=120,
    )
    with stack:
        assert stack.sd_file.is_file()
        groups = stack.process_groups()
        assert len(groups["multiexporters"]) == 2
        body = json.loads(http_get(stack.prometheus_url + "/api/v1/targets"))
        exporters = [
            t for t in body["data"]["activeTargets"] if t["labels"]["job"] == "gpu-exporter"
        ]
        assert sorted(t["labels"]["instance"] for t in exporters) == sorted(DEMO_NODES)
        assert {t["discoveredLabels"]["__meta_filepath"] for t in exporters} == {str(stack.sd_file)}
        # History: every GPU was up an hour into the backfill, under its node's instance.
        gpus = sum(len(node.gpus) for node in stack.fleet.nodes)
        at = stack.history_start + 3600
        result = query(stack.prometheus_url, "count(gpu_up)", at=at)["result"]
        assert int(result[0]["value"][1]) == gpus
        # The hourly recording rules the long windows read are in the history too.
        hourly = query(stack.prometheus_url, "count(uuid:gpu_utilization_ratio:avg1h)", at=at + 60)
        assert hourly["result"], "no hourly recording-rule samples in the backfill"
        assert stack.history_stats and all(s.samples > 0 for s in stack.history_stats)
