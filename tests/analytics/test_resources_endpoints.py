"""The /resources endpoints against a real Prometheus, held to the simulator's ground truth.

The numbers come through the whole chain (simulated GPUs -> exporter processes, simulated
cluster series -> Prometheus with backfilled history -> analytics under gunicorn) and are
compared with tests.analytics.resources_truth, computed from the fleet model alone: counts,
phases and capacities exactly, usage within 1%.

CPU is a rate over 5 minutes. While that window still reaches back into the backfilled history
(one sample a minute) the live scrapes (every 2 s) sample it unevenly, and there Prometheus'
rate() (extrapolated to the window's ends) and VictoriaMetrics' (from the sample before the
window, no extrapolation) differ by up to a fifth: the truth applies the backend's own rate()
formula to the model's counter at the times the backend sampled it (their times only, read from
the backend; the values are the model's). resources_truth.cpu_sample_times says how.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from analytics.prom import queries_resources as rq
from analytics.services.cluster.service import UNION_QUERIES
from devstack.prometheus import query
from devstack.stack import Stack
from gpucatalog import mig_profiles
from tests.analytics.resources_truth import (
    FleetTruth,
    SampleTimes,
    close,
    cpu_sample_times,
    settle_in_minute,
)
from tests.stack_fixtures import history_stack

__all__ = ["history_stack"]  # the fixture, imported for pytest
# Each test on Prometheus and on VictoriaMetrics (tests/stack_fixtures.py).
pytestmark = pytest.mark.metrics_backends


@dataclass
class Api:
    """The analytics service of the stack and what the ground truth needs to know of it."""

    base_url: str  # http://HOST:PORT/k8s-monitor/api/v1
    prometheus_url: str
    fleet: Path
    history_end: float
    backend: str  # devstack.stack.BACKENDS

    def get(self, path: str, **params: Any) -> requests.Response:
        return requests.get(self.base_url + "/resources" + path, params=params, timeout=30)

    def data(self, path: str, **params: Any) -> Any:
        response = self.get(path, **params)
        body = response.json()
        assert response.status_code == 200, body
        assert body["status"] == "success"
        return body["data"]


@pytest.fixture(scope="module")
def stack(history_stack: Stack) -> Api:
    return Api(
        history_stack.analytics_url,
        history_stack.prometheus_url,
        history_stack.fleet_path,
        history_stack.history_end,
        history_stack.backend,
    )


def instant(stack: Api) -> tuple[float, SampleTimes]:
    """A moment well inside a minute, and when the backend sampled the CPU counters before it."""
    settle_in_minute()
    t = time.time()
    return t, cpu_sample_times(stack.prometheus_url, t, stack.backend)


@pytest.fixture(scope="module")
def truth(stack: Api) -> FleetTruth:
    return FleetTruth(stack.fleet)


def test_all_pods_match_the_fleet(stack: Api, truth: FleetTruth) -> None:
    t, times = instant(stack)
    pods = stack.data("/pods/all")
    expected = truth.pods(t, times)
    assert {(p["namespace"], p["name"]) for p in pods} == set(expected)
    for pod in pods:
        want = expected[(pod["namespace"], pod["name"])]
        where = f"{pod['namespace']}/{pod['name']}"
        assert pod["nodeName"] == want.node, where
        assert pod["phase"] == want.spec.phase, where
        assert (pod["modelType"], pod["modelName"]) == (want.model_type, want.model_name), where
        assert pod["gpuCount"] == want.gpu_devices, where
        assert close(pod["cpuUsagePercent"], want.cpu_percent), (where, pod, want)
        assert close(pod["memoryUsagePercent"], want.memory_percent), (where, pod, want)
        assert close(pod["gpuUsagePercent"], want.gpu_percent), (where, pod, want)
        assert pod["creationTime"].endswith("Z")


def test_serving_pods_are_the_recognised_ones(stack: Api, truth: FleetTruth) -> None:
    expected = {k for k, p in truth.pods(time.time()).items() if p.model_type is not None}
    pods = stack.data("/pods")
    assert {(p["namespace"], p["name"]) for p in pods} == expected
    assert {p["modelType"] for p in pods} >= {"vllm", "sglang"}
    only = stack.data("/pods", namespace="model-serving")
    assert {(p["namespace"], p["name"]) for p in only} == {
        k for k in expected if k[0] == "model-serving"
    }


def test_nodes_match_the_fleet(stack: Api, truth: FleetTruth) -> None:
    t, times = instant(stack)
    nodes = stack.data("/nodes")
    expected = truth.nodes(t, times)
    assert [n["name"] for n in nodes] == sorted(expected)
    for node in nodes:
        want = expected[node["name"]]
        assert node["role"] == "worker"
        assert node["status"] == "Ready"
        assert node["cpuCapacity"] == str(want.spec.cpu_cores)
        assert node["memoryCapacity"] == f"{want.spec.memory_gib:g}Gi"
        assert node["gpuCapacity"] == str(want.gpu_capacity)
        assert node["totalPodCount"] == want.total_pods
        assert node["runningPodCount"] == want.running_pods
        assert node["vllmPodCount"] == want.serving.get("vllm", 0)
        assert node["sglangPodCount"] == want.serving.get("sglang", 0)
        assert node["gpuDeviceCount"] == len(want.spec.gpus)
        assert close(node["cpuUsagePercent"], want.cpu_percent), (node, want)
        assert close(node["memoryUsagePercent"], want.memory_percent), (node, want)
        assert close(node["gpuUsagePercent"], want.gpu_percent), (node, want)


def test_pod_detail_shows_containers_and_the_devices_held(stack: Api, truth: FleetTruth) -> None:
    from simulator.node import cpu_quantity, memory_quantity

    node = truth.spec.nodes[0]
    for pod in node.pods:
        detail = stack.data(f"/pods/{pod.namespace}/{pod.name}")
        assert (detail["name"], detail["namespace"], detail["uid"]) == (
            pod.name,
            pod.namespace,
            pod.uid,
        )
        assert detail["phase"] == pod.phase
        assert detail["hostIp"] == node.host_ip and detail["podIp"] == pod.pod_ip
        containers = {c["name"]: c for c in detail["containers"]}
        assert set(containers) == {c.name for c in pod.containers}
        for spec in pod.containers:
            shown = containers[spec.name]
            assert shown["image"] == spec.image
            assert shown["requests"]["cpu"] == cpu_quantity(spec.cpu_request_cores)
            assert shown["requests"]["memory"] == memory_quantity(spec.memory_request_bytes)
            if spec.cpu_limit_cores is None:
                assert "cpu" not in shown["limits"]
            else:
                assert shown["limits"]["cpu"] == cpu_quantity(spec.cpu_limit_cores)
            assert shown["restartCount"] == 0
        held = {(g["container"], g["gpuIndex"], g["migUuid"]) for g in detail["gpus"]}
        expected = set()
        if pod.active:
            for spec in pod.containers:
                for ref in spec.devices:
                    gpu = node.gpus[ref.gpu_index]
                    mig = gpu.mig_instances[ref.mig_slot].uuid if ref.mig_slot is not None else None
                    expected.add((spec.name, ref.gpu_index, mig))
        assert held == expected, pod.name
        for gpu in detail["gpus"]:
            assert gpu["deviceId"] == f"{node.name}-GPU-{gpu['gpuIndex']:02d}"
            assert gpu["gpuUuid"] == node.gpus[gpu["gpuIndex"]].uuid
            if gpu["migUuid"] is not None:
                profiles = {
                    m.uuid: m.profile.name for m in node.gpus[gpu["gpuIndex"]].mig_instances
                }
                assert gpu["migProfile"] == profiles[gpu["migUuid"]]
                assert gpu["resource"] == f"nvidia.com/mig-{gpu['migProfile']}"
                assert gpu["utilizationPercent"] is None  # none exists inside MIG
            assert gpu["sharing"] == ("shared" if pod.shared_resource else "exclusive")


def test_node_detail_lists_gpus_mig_instances_and_holders(stack: Api, truth: FleetTruth) -> None:
    node = truth.spec.nodes[0]
    detail = stack.data(f"/nodes/{node.name}")
    assert detail["kubeletVersion"] and detail["internalIp"] == node.host_ip
    assert [g["uuid"] for g in detail["gpus"]] == [g.uuid for g in node.gpus]
    for shown, gpu in zip(detail["gpus"], node.gpus, strict=True):
        assert shown["deviceId"] == f"{node.name}-GPU-{gpu.index:02d}"
        assert shown["modelName"] == gpu.product_name
        assert shown["migMode"] == (
            "enabled"
            if gpu.mig_enabled
            else "disabled"
            if mig_profiles(gpu.model.model_id)
            else "unsupported"
        )
        assert shown["memoryTotalGb"] == gpu.model.memory_gb
        assert {(m["migUuid"], m["profile"]) for m in shown["migInstances"]} == {
            (m.uuid, m.profile.name) for m in gpu.mig_instances
        }
        holders = {(h["namespace"], h["pod"]) for h in shown["holders"]} | {
            (h["namespace"], h["pod"]) for m in shown["migInstances"] for h in m["holders"]
        }
        assert holders == {
            (p.namespace, p.name)
            for p in node.pods
            if p.active and any(r.gpu_index == gpu.index for c in p.containers for r in c.devices)
        }
    assert {p["name"] for p in detail["pods"]} == {p.name for p in node.pods}


def test_usage_summarises_pods_and_nodes(stack: Api, truth: FleetTruth) -> None:
    t, times = instant(stack)
    usage = stack.data("/usage")
    pods, nodes = truth.pods(t, times), truth.nodes(t, times)
    summary = usage["clusterSummary"]
    assert summary["totalNodes"] == len(nodes) == len(usage["nodes"])
    assert summary["readyNodes"] == len(nodes)
    assert summary["totalPods"] == len(pods) == len(usage["pods"])
    assert summary["runningPods"] == sum(1 for p in pods.values() if p.spec.running)
    assert summary["vllmPods"] == sum(1 for p in pods.values() if p.model_type == "vllm")
    assert summary["sglangPods"] == sum(1 for p in pods.values() if p.model_type == "sglang")
    assert close(summary["avgCpuUsage"], sum(n.cpu_percent for n in nodes.values()) / len(nodes))
    assert close(
        summary["avgMemoryUsage"], sum(n.memory_percent for n in nodes.values()) / len(nodes)
    )
    utilizations = [u for n in nodes.values() for u in n.gpu_utilizations]
    assert close(summary["avgGpuUsage"], 100 * sum(utilizations) / len(utilizations))
    assert usage["timestamp"].endswith("Z")
    research = stack.data("/usage", namespace="research")
    assert {p["namespace"] for p in research["pods"]} == {"research"}
    assert research["clusterSummary"]["totalPods"] == sum(1 for key in pods if key[0] == "research")
    assert len(research["nodes"]) == len(nodes)


@pytest.mark.parametrize("resource_type", ["cpu", "memory", "gpu"])
def test_top_pods_rank_by_use(stack: Api, truth: FleetTruth, resource_type: str) -> None:
    t, times = instant(stack)
    top = stack.data("/pods/top", resourceType=resource_type, limit=3)
    pods = truth.pods(t, times)
    amount = {
        "cpu": lambda p: p.cpu_cores,
        "memory": lambda p: None if p.memory_bytes is None else p.memory_bytes / 1024**3,
        "gpu": lambda p: p.gpu_busy,
    }[resource_type]
    ranked = sorted(
        ((v, key) for key, p in pods.items() if (v := amount(p)) is not None), reverse=True
    )
    assert len(top) == min(3, len(ranked))
    assert [t["rank"] for t in top] == list(range(1, len(top) + 1))
    values = [t["usageValue"] for t in top]
    assert values == sorted(values, reverse=True)
    assert (top[0]["namespace"], top[0]["name"]) == ranked[0][1]
    for entry in top:
        want = amount(pods[(entry["namespace"], entry["name"])])
        assert close(entry["usageValue"], want, floor=0.006), (entry, want)


def test_namespaces_count_pods_and_devices(stack: Api, truth: FleetTruth) -> None:
    t, times = instant(stack)
    shown = {n["namespace"]: n for n in stack.data("/namespaces")}
    pods = truth.pods(t, times)
    allocatable_cpu = sum(n.allocatable_cpu_cores for n in truth.spec.nodes)
    assert set(shown) == {key[0] for key in pods}
    for name, row in shown.items():
        mine = [p for key, p in pods.items() if key[0] == name]
        active = [p for p in mine if p.spec.active]
        refs = {
            (p.node, r.gpu_index, r.mig_slot, r.kind)
            for p in active
            for c in p.spec.containers
            for r in c.devices
        }
        assert row["podCount"] == len(mine)
        assert row["runningPodCount"] == sum(1 for p in mine if p.spec.running)
        assert row["servingPodCount"] == sum(1 for p in mine if p.model_type)
        assert row["gpuDevices"] == len(refs)
        assert row["wholeGpus"] == sum(1 for r in refs if r[3] == "gpu")
        assert row["migInstances"] == sum(1 for r in refs if r[3] == "mig")
        assert row["sharedGpus"] == len({r[:2] for r in refs if r[3] == "replica"})
        requested = sum(c.cpu_request_cores for p in active for c in p.spec.containers)
        assert row["cpuRequestCores"] == pytest.approx(requested)
        used = sum(p.cpu_cores or 0.0 for p in mine)
        assert close(row["cpuUsageCores"], used, floor=0.002)
        assert close(row["cpuUsagePercent"], 100 * used / allocatable_cpu)


@pytest.mark.parametrize("hours", [24, 168])
def test_statistics_over_the_backfilled_history(stack: Api, truth: FleetTruth, hours: int) -> None:
    response = stack.get("/statistics", hours=hours)
    stats = response.json()["data"]
    assert stats["hours"] == hours and stats["timeRange"] == f"{hours} hours"
    end = datetime.fromisoformat(stats["end"].replace("Z", "+00:00")).timestamp()
    assert stats["stepSeconds"] == rq.STATISTICS_INTERVAL_SECONDS
    # The minutely rules' samples in the window: backfilled over the history (devstack.rules_backfill), then
    # evaluated live. One a minute throughout, so the window is whole.
    window = hours * 3600
    found = query(stack.prometheus_url, f"{rq.STATISTICS_RULES['cpu']}[{window}s]", end)
    times = [float(t) for t, _v in found["result"][0]["values"]]
    assert len(times) >= hours * 60 - 2, len(times)
    assert times[0] - (end - window) < 60 and end - times[-1] < 120
    expected = truth.statistics(times, live_after=stack.history_end)
    for field, series in (("cpuUsage", "cpu"), ("memoryUsage", "memory"), ("gpuUsage", "gpu")):
        mean, peak = expected[series]
        assert close(stats[field]["average"], 100 * mean), (field, stats[field], mean)
        assert close(stats[field]["peak"], 100 * peak), (field, stats[field], peak)
    pods = truth.pods(end)
    assert stats["podCount"] == {"average": len(pods), "peak": len(pods), "current": len(pods)}
    running = sum(1 for p in pods.values() if p.spec.running)
    assert stats["runningPodCount"]["average"] == running


@pytest.mark.parametrize(
    ("path", "params", "status", "code"),
    [
        ("/pods/top", {"resourceType": "disk"}, 400, "INVALID_PARAMETER"),
        ("/pods/top", {"limit": 0}, 400, "INVALID_PARAMETER"),
        ("/pods/top", {"limit": 101}, 400, "INVALID_PARAMETER"),
        ("/pods/top", {"limit": "ten"}, 400, "INVALID_PARAMETER"),
        ("/statistics", {"hours": 0}, 400, "INVALID_PARAMETER"),
        ("/statistics", {"hours": "a day"}, 400, "INVALID_PARAMETER"),
        ("/statistics", {"hours": 100000}, 400, "INVALID_PARAMETER"),
        ("/pods", {"namespace": "Not_A_Namespace"}, 400, "INVALID_PARAMETER"),
        ("/pods/all", {"namespace": "x" * 64}, 400, "INVALID_PARAMETER"),
        ("/usage", {"namespace": 'a"b'}, 400, "INVALID_PARAMETER"),
        ("/pods/Bad_NS/pod", {}, 400, "INVALID_PARAMETER"),
        ("/pods/default/no-such-pod", {}, 404, "RESOURCE_NOT_FOUND"),
        ("/nodes/no-such-node", {}, 404, "RESOURCE_NOT_FOUND"),
        ("/nodes/Bad_Node", {}, 400, "INVALID_PARAMETER"),
        ("/alerts", {"severity": "page"}, 400, "INVALID_PARAMETER"),
    ],
)
def test_bad_input_is_an_enveloped_4xx(
    stack: Api, path: str, params: dict[str, Any], status: int, code: str
) -> None:
    response = stack.get(path, **params)
    body = response.json()
    assert response.status_code == status, body
    assert body["status"] == "error" and body["error"]["code"] == code
    assert body["timestamp"].endswith("Z")


def test_an_unknown_namespace_is_empty_not_an_error(stack: Api) -> None:
    assert stack.data("/pods/all", namespace="nothing-here") == []
    assert stack.data("/pods", namespace="nothing-here") == []


def test_health_and_metric_sources_of_the_live_stack(stack: Api) -> None:
    health = stack.data("/health")
    assert health["nodes"]["notReady"] == 0
    assert health["exporters"]["targetsDown"] == 0
    status = stack.data("/metrics/status")
    assert status["prometheus"]["reachable"] is True
    # The stack also scrapes the analytics service's own /metrics (its state gauges), from the
    # moment the service is up: that job may not have been scraped yet.
    jobs = {j["job"] for j in status["jobs"]}
    assert {"gpu-exporter", "kube-state-metrics", "cadvisor"} <= jobs
    assert jobs <= {"gpu-exporter", "kube-state-metrics", "cadvisor", "gpu-analytics"}
    assert all(s["present"] and s["fresh"] for s in status["sources"]), status["sources"]
    assert status["status"] == "UP"


def test_requests_stay_small(stack: Api) -> None:
    """Aggregation on the server: a handful of queries and rows per request. The statistics
    are one query over the minutely rules: an average, a peak and a value now per series,
    whatever the window and the cluster's size."""
    series = len(rq.STATISTICS_RULES)
    for path, params, queries, samples in (
        # Long unions go as a few smaller ones side by side (ClusterService._union).
        ("/pods/all", {}, UNION_QUERIES, 100),
        ("/nodes", {}, UNION_QUERIES, 100),
        (
            "/statistics",
            {"hours": 168},
            1,
            series * 3,
        ),
    ):
        response = stack.get(path, **params)
        assert int(response.headers["X-Prometheus-Queries"]) <= queries, path
        assert int(response.headers["X-Prometheus-Samples"]) <= samples, path
