"""A pod holding GPUs through a DRA ResourceClaim shows in the per-pod views like any other.

Real parts: the simulated cluster's kube-state-metrics/cAdvisor server, a real exporter process
on the simulated node (its kubelet reports the claim, its API serves the DRA driver's
ResourceSlice), a real Prometheus scraping both, the app on real SQLite. Truth from the fleet.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from analytics import create_app
from analytics.settings import Settings
from devstack.prometheus import PrometheusServer, ScrapeJob
from simulator.clock import ManualClock
from simulator.node import SimulatedFleet
from tests.analytics.conftest import API, start_cluster_server
from tests.conftest import FLEETS, ExporterFactory, free_port

NODE = "dra-node"
FLEET = FLEETS / "test-dra.yaml"
RESOURCES = API + "/resources"


def test_claimed_gpus_show_in_the_pod_views(
    tmp_path: Path, exporter_process: ExporterFactory
) -> None:
    spec = SimulatedFleet.from_file(FLEET, ManualClock(0.0)).node(NODE).spec
    exporter = exporter_process(FLEET, NODE)
    port = free_port()
    cluster = start_cluster_server(FLEET, port)
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
        # The list says which claim each pod holds its devices through, from the same query.
        assert {name: p["claims"] for name, p in listed.items()} == {
            "trainer-0": [{"name": "trainer-gpus", "namespace": "research"}],
            "notebook-0": [{"name": "notebook-mig", "namespace": "development"}],
            "vllm-0": [],
        }

        trainer = client.get(RESOURCES + "/pods/research/trainer-0").get_json()["data"]
        (gpu,) = trainer["gpus"]
        assert (gpu["gpuUuid"], gpu["migUuid"], gpu["gpuIndex"]) == (spec.gpus[1].uuid, None, 1)
        assert (gpu["resource"], gpu["container"]) == ("gpu.nvidia.com", "pytorch")
        assert gpu["claim"] == {"name": "trainer-gpus", "namespace": "research"}
        assert trainer["claims"] == [gpu["claim"]]
        # A claimed GPU is not an extended resource: no nvidia_com_gpu request.
        (container,) = trainer["containers"]
        assert not any("gpu" in name for name in container["requests"])

        notebook = client.get(RESOURCES + "/pods/development/notebook-0").get_json()["data"]
        (mig,) = notebook["gpus"]
        assert mig["migUuid"] == spec.gpus[0].mig_instances[1].uuid
        assert mig["gpuUuid"] == spec.gpus[0].uuid
        assert mig["claim"] == {"name": "notebook-mig", "namespace": "development"}

        # A device-plugin GPU came through no claim: null, not an empty object.
        vllm = client.get(RESOURCES + "/pods/serving/vllm-0").get_json()["data"]
        (plugin,) = vllm["gpus"]
        assert (plugin["gpuUuid"], plugin["resource"]) == (spec.gpus[2].uuid, "nvidia.com/gpu")
        assert plugin["claim"] is None
        assert vllm["claims"] == []

        # The node detail's holders say the same, per GPU and per MIG instance.
        node = client.get(RESOURCES + f"/nodes/{NODE}").get_json()["data"]
        by_uuid = {g["uuid"]: g for g in node["gpus"]}
        holders = {
            h["pod"]: h["claim"]
            for g in node["gpus"]
            for h in g["holders"] + [h for m in g["migInstances"] for h in m["holders"]]
        }
        assert holders == {
            "trainer-0": {"name": "trainer-gpus", "namespace": "research"},
            "notebook-0": {"name": "notebook-mig", "namespace": "development"},
            "vllm-0": None,
        }
        (held,) = [h for m in by_uuid[spec.gpus[0].uuid]["migInstances"] for h in m["holders"]]
        assert held["migUuid"] == mig["migUuid"]
    finally:
        prometheus.stop()
        cluster.terminate()
        cluster.wait(10)
        if cluster.stdout:
            cluster.stdout.close()
