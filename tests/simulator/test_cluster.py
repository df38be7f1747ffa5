"""Cluster series: upstream names and labels, agreement with the simulated Kubernetes API,
CPU counters that are exact integrals of the usage, and the fleet's CPU/memory keys."""

from __future__ import annotations

import math
from typing import Any

import pytest
import yaml

from simulator import ManualClock, SimulatedFleet
from simulator.cluster import (
    BY_NAME,
    CATALOGUE,
    ClusterSeries,
    Sample,
    container_usages,
    exposition,
    sanitize_label_name,
)
from simulator.fleet import GIB, FleetError, load_fleet, parse_fleet
from simulator.node import cpu_quantity, memory_quantity

from .conftest import DEMO, EPOCH, SMALL


def by_name(samples: list[Sample], name: str) -> list[Sample]:
    return [s for s in samples if s.name == name]


def labels(sample: Sample) -> dict[str, str]:
    return dict(sample.labels)


class TestKubeStateMetrics:
    def test_every_series_has_its_upstream_labels(self) -> None:
        series = ClusterSeries(load_fleet(DEMO))
        for sample in series.at(EPOCH + 86400):
            metric = BY_NAME[sample.name]
            names = [k for k, _v in sample.labels]
            assert names[: len(metric.labels)] == list(metric.labels), sample.name
            extra = names[len(metric.labels) :]
            assert all(k.startswith("label_") for k in extra), sample
        present = {s.name for s in series.at(EPOCH)}
        assert present == {m.name for m in CATALOGUE}

    def test_node_capacity_counts_what_the_device_plugin_advertises(self) -> None:
        samples = ClusterSeries(load_fleet(SMALL)).kube_state_metrics(EPOCH)
        capacity = {
            labels(s)["resource"]: (labels(s)["unit"], s.value)
            for s in by_name(samples, "kube_node_status_capacity")
        }
        # GPU 0: three MIG instances; GPU 1 whole; GPU 2 time-sliced in two shared replicas.
        assert capacity == {
            "cpu": ("core", 32.0),
            "memory": ("byte", 256.0 * GIB),
            "pods": ("integer", 110.0),
            "nvidia_com_gpu": ("integer", 1.0),
            "nvidia_com_gpu_shared": ("integer", 2.0),
            "nvidia_com_mig_1g_10gb": ("integer", 1.0),
            "nvidia_com_mig_2g_20gb": ("integer", 1.0),
            "nvidia_com_mig_4g_40gb": ("integer", 1.0),
        }
        allocatable = {
            labels(s)["resource"]: s.value for s in by_name(samples, "kube_node_status_allocatable")
        }
        assert allocatable["cpu"] < 32 and allocatable["memory"] < 256 * GIB
        ready = [
            s
            for s in by_name(samples, "kube_node_status_condition")
            if labels(s)["condition"] == "Ready" and s.value == 1
        ]
        assert [labels(s)["status"] for s in ready] == ["true"]

    def test_pods_match_the_simulated_kubernetes_api(self) -> None:
        fleet = SimulatedFleet.from_file(SMALL, ManualClock(EPOCH))
        samples = ClusterSeries(fleet.spec).kube_state_metrics(EPOCH)
        items = fleet.node("sim-node-1").pod_list()["items"]
        phases = {
            (labels(s)["namespace"], labels(s)["pod"]): labels(s)["phase"]
            for s in by_name(samples, "kube_pod_status_phase")
            if s.value == 1
        }
        assert phases == {
            (p["metadata"]["namespace"], p["metadata"]["name"]): p["status"]["phase"] for p in items
        }
        requests = {
            (labels(s)["pod"], labels(s)["container"], labels(s)["resource"]): s.value
            for s in by_name(samples, "kube_pod_container_resource_requests")
        }
        for pod in items:
            for container in pod["spec"]["containers"]:
                wanted = container["resources"]["requests"]
                key = (pod["metadata"]["name"], container["name"])
                assert cpu_quantity(requests[(*key, "cpu")]) == wanted["cpu"]
                assert memory_quantity(int(requests[(*key, "memory")])) == wanted["memory"]
                for resource, count in wanted.items():
                    if resource.startswith("nvidia.com/"):
                        assert requests[(*key, sanitize_label_name(resource))] == int(count)
        created = {labels(s)["pod"]: s.value for s in by_name(samples, "kube_pod_created")}
        for pod in items:
            stamp = pod["metadata"]["creationTimestamp"]
            assert created[pod["metadata"]["name"]] == _unix(stamp)
        container_ids = {
            labels(s)["container_id"]
            for s in by_name(samples, "kube_pod_container_info")
            if labels(s)["container_id"]
        }
        assert container_ids == {
            c["containerID"] for p in items for c in p["status"]["containerStatuses"]
        }

    def test_exposition_passes_promtool(self, promtool: str) -> None:
        import subprocess

        series = ClusterSeries(load_fleet(DEMO))
        for samples in (series.kube_state_metrics(EPOCH + 3600), series.cadvisor(EPOCH + 3600)):
            result = subprocess.run(
                [promtool, "check", "metrics"],
                input=exposition(samples),
                capture_output=True,
                text=True,
                check=False,
            )
            assert result.returncode == 0, result.stdout + result.stderr


def _unix(stamp: str) -> float:
    import datetime as dt

    return dt.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC).timestamp()


class TestCadvisor:
    def test_only_running_pods_have_containers(self) -> None:
        fleet = load_fleet(SMALL)
        usages = container_usages(fleet)
        running = {(p.name, c.name) for p in fleet.nodes[0].pods if p.running for c in p.containers}
        assert {(dict(u.labels)["pod"], dict(u.labels)["container"]) for u in usages} == running

    def test_cpu_counter_is_the_integral_of_the_usage(self) -> None:
        for usage in container_usages(load_fleet(DEMO)):
            t0 = EPOCH + 5 * 86400 + 17 * 60 + 13.5
            previous = usage.cpu_seconds(t0)
            for k in range(1, 200):
                t = t0 + 37 * k
                now = usage.cpu_seconds(t)
                assert now >= previous
                previous = now
            # Over one whole minute the counter grows by that minute's cores times 60 s.
            minute = math.floor(t0 / 60) * 60 + 60
            grown = usage.cpu_seconds(minute + 60) - usage.cpu_seconds(minute)
            assert grown == pytest.approx(usage.cores(minute) * 60, abs=1e-6)
            # A day later the same minute costs the same (the curve repeats daily).
            assert usage.cores(minute) == usage.cores(minute + 86400)

    def test_usage_follows_the_workload_within_the_request(self) -> None:
        fleet = load_fleet(DEMO)
        specs = {(p.name, c.name): c for n in fleet.nodes for p in n.pods for c in p.containers}
        for usage in container_usages(fleet):
            spec = specs[(dict(usage.labels)["pod"], dict(usage.labels)["container"])]
            cores = [usage.cores(EPOCH + m * 60) for m in range(0, 1440, 7)]
            memory = [usage.memory_working_set(EPOCH + m * 60) for m in range(0, 1440, 7)]
            assert 0 < min(cores) <= max(cores) <= spec.cpu_request_cores
            assert 0 < min(memory) <= max(memory) <= spec.memory_request_bytes


class TestFleetResources:
    def _data(self) -> dict[str, Any]:
        data: dict[str, Any] = yaml.safe_load(SMALL.read_text())
        return data

    def test_defaults_follow_the_workload_and_sidecars_stay_small(self) -> None:
        pods = {p.name: p for p in load_fleet(SMALL).nodes[0].pods}
        vllm = pods["vllm-llama2-7b-chat-hf-6d8f9b8b8-abc12"].containers[0]
        assert (vllm.cpu_request_cores, vllm.memory_request_bytes) == (4.0, 16 * GIB)
        assert vllm.cpu_limit_cores is None and vllm.memory_limit_bytes is None
        sglang, sidecar = pods["sglang-qwen2-7b-instruct-6f8d7c5b9-t7y6u"].containers
        assert sglang.cpu_request_cores == 4.0
        assert (sidecar.cpu_request_cores, sidecar.memory_request_bytes) == (0.1, GIB // 4)

    def test_pod_and_container_keys(self) -> None:
        data = self._data()
        pod = data["nodes"][0]["pods"][2]
        pod.update(cpu_request=6, memory_request_gib=24, cpu_limit=8, memory_limit_gib=32)
        pod["containers"][1].update(cpu_request=0.5)
        sglang, sidecar = parse_fleet(data).nodes[0].pods[2].containers
        assert (sglang.cpu_request_cores, sglang.memory_request_bytes) == (6.0, 24 * GIB)
        assert (sglang.cpu_limit_cores, sglang.memory_limit_bytes) == (8.0, 32 * GIB)
        assert (sidecar.cpu_request_cores, sidecar.cpu_limit_cores) == (0.5, None)

    @pytest.mark.parametrize(
        ("edit", "message"),
        [
            ({"cpu_request": 4, "cpu_limit": 2}, "cpu_limit 2 is below its request 4"),
            ({"memory_request_gib": 0}, "must be positive"),
            ({"cpu_request": 31}, "request 55.1 cores"),
        ],
    )
    def test_bad_resources_say_where(self, edit: dict[str, float], message: str) -> None:
        data = self._data()
        data["nodes"][0]["pods"][0].update(edit)
        with pytest.raises(FleetError, match=message):
            parse_fleet(data)
