"""A pod holding GPUs through a DRA ResourceClaim shows in the per-pod views like any other.

Real parts: the simulated cluster's kube-state-metrics/cAdvisor server, a real exporter process
on the simulated node (its kubelet reports the claim, its API serves the DRA driver's
ResourceSlice), a real Prometheus scraping both, the app on real SQLite. Truth from the fleet.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from analytics import create_app
from analytics.settings import Settings
from devstack.prometheus import PrometheusServer, ScrapeJob
from simulator.clock import ManualClock
from simulator.node import SimulatedFleet
from tests.analytics.conftest import API
from tests.conftest import ROOT, ExporterFactory, free_port

NODE = "dra-node"
FLEET = f"""
seed: 5
epoch: 2026-01-01T00:00:00Z
nodes:
  - name: {NODE}
    cpu_cores: 64
    memory_gib: 512
    gpus:
      - model: A100_80GB
        mig: [1g.10gb, 2g.20gb, 4g.40gb]
      - model: H100_80GB
      - model: H100_80GB
    pods:
      - name: trainer-0
        namespace: research
        image: nvcr.io/nvidia/pytorch:24.08-py3
        workload: training
        dra_claim: trainer-gpus
        containers:
          - name: pytorch
            gpus: [1]
      - name: notebook-0
        namespace: research
        image: quay.io/jupyter/pytorch-notebook:cuda12-2024-10-14
        workload: notebook
        dra_claim: notebook-mig
        containers:
          - name: notebook
            mig: [[0, 1]]
      - name: vllm-0
        namespace: research
        image: vllm/vllm-openai:v0.6.3
        containers:
          - name: vllm
            gpus: [2]
"""
RESOURCES = API + "/resources"


def _start_cluster(fleet: Path, port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "simulator.cluster",
            "--fleet",
            str(fleet),
            "--listen",
            f"127.0.0.1:{port}",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
    )
    assert process.stdout is not None
    assert json.loads(process.stdout.readline())["url"].endswith(f":{port}")
    return process


def test_claimed_gpus_show_in_the_pod_views(
    tmp_path: Path, exporter_process: ExporterFactory
) -> None:
    fleet_path = tmp_path / "fleet.yaml"
    fleet_path.write_text(FLEET)
    spec = SimulatedFleet.from_file(fleet_path, ManualClock(0.0)).node(NODE).spec
    exporter = exporter_process(fleet_path, NODE)
    port = free_port()
    cluster = _start_cluster(fleet_path, port)
    target = (f"127.0.0.1:{port}",)
    prometheus = PrometheusServer(
        tmp_path / "prometheus",
        [
            ScrapeJob("gpu-exporter", (exporter.removeprefix("http://"),)),
            ScrapeJob("kube-state-metrics", target),
            ScrapeJob("cadvisor", target, metrics_path="/metrics/cadvisor"),
        ],
        scrape_interval="1s",
        evaluation_interval="1s",
    )
    prometheus.start()
    try:
        client = create_app(
            Settings(
                data_dir=tmp_path / "data",
                prometheus_url=prometheus.url,
                prometheus_timeout_seconds=2.0,
                rate_limit_storage="memory",
            )
        ).test_client()

        def pods() -> dict[str, Any]:
            body = client.get(RESOURCES + "/pods/all").get_json()
            return {p["name"]: p for p in body.get("data") or []}

        deadline = time.monotonic() + 30
        while {p.get("gpuCount") for p in pods().values()} != {1} or len(pods()) != 3:
            assert time.monotonic() < deadline, pods()
            time.sleep(0.3)
        listed = pods()
        assert {name: p["gpuCount"] for name, p in listed.items()} == {
            "trainer-0": 1,
            "notebook-0": 1,
            "vllm-0": 1,
        }

        trainer = client.get(RESOURCES + "/pods/research/trainer-0").get_json()["data"]
        (gpu,) = trainer["gpus"]
        assert (gpu["gpuUuid"], gpu["migUuid"], gpu["gpuIndex"]) == (spec.gpus[1].uuid, None, 1)
        assert (gpu["resource"], gpu["container"]) == ("gpu.nvidia.com", "pytorch")
        # A claimed GPU is not an extended resource: no nvidia_com_gpu request.
        (container,) = trainer["containers"]
        assert not any("gpu" in name for name in container["requests"])

        notebook = client.get(RESOURCES + "/pods/research/notebook-0").get_json()["data"]
        (mig,) = notebook["gpus"]
        assert mig["migUuid"] == spec.gpus[0].mig_instances[1].uuid
        assert mig["gpuUuid"] == spec.gpus[0].uuid
    finally:
        prometheus.stop()
        cluster.terminate()
        cluster.wait(10)
        if cluster.stdout:
            cluster.stdout.close()
