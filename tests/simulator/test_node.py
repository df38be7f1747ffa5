"""A simulated node's kubelet, Kubernetes API and /proc views, and how they agree with NVML."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from exporter.deviceids import parse_device_id
from exporter.podresources import api_pb2
from exporter.procfs import parse_cgroup
from simulator import FakeNvml, ManualClock, SimulatedFleet, SimulatedNode
from simulator.fleet import DeviceRef, load_fleet
from simulator.node import device_id

from .conftest import DEMO, SMALL


def devices_by_pod(node: SimulatedNode) -> dict[str, list[tuple[str, str, list[str]]]]:
    response = node.pod_resources_response()
    return {
        pod.name: [
            (c.name, d.resource_name, list(d.device_ids)) for c in pod.containers for d in c.devices
        ]
        for pod in response.pod_resources
    }


class TestPodResources:
    def test_lists_every_pod_with_its_devices(self, small_node: SimulatedNode) -> None:
        response = small_node.pod_resources_response()
        assert isinstance(response, api_pb2.ListPodResourcesResponse)
        assert api_pb2.ListPodResourcesResponse.FromString(response.SerializeToString()) == response
        gpus = small_node.spec.gpus
        listed = devices_by_pod(small_node)
        assert listed["vllm-llama2-7b-chat-hf-6d8f9b8b8-abc12"] == [
            ("vllm", "nvidia.com/gpu", [gpus[1].uuid])
        ]
        assert listed["jupyter-alice-0"] == [
            ("notebook", "nvidia.com/mig-1g.10gb", ["nvidia0/gi13"])
        ]
        assert listed["sglang-qwen2-7b-instruct-6f8d7c5b9-t7y6u"] == [
            ("sglang", "nvidia.com/mig-4g.40gb", [gpus[0].mig_instances[2].uuid])
        ]
        assert listed["trainer-a-7b8c9d0e1-aa111"] == [
            ("pytorch", "nvidia.com/gpu.shared", [f"{gpus[2].uuid}::0"])
        ]
        # The kubelet still lists the finished pod.
        assert listed["preprocess-28000-zz999"] == [("worker", "nvidia.com/gpu", [gpus[1].uuid])]

    def test_device_id_forms(self, small_node: SimulatedNode) -> None:
        gpus = small_node.spec.gpus
        mig, whole, replica = DeviceRef(0, mig_slot=0), DeviceRef(1), DeviceRef(2, replica=1)
        bare = gpus[2].bare_uuid
        expected = {
            "uuid": (gpus[0].mig_instances[0].uuid, gpus[1].uuid, f"GPU-{bare}::1"),
            "index": (gpus[0].mig_instances[0].uuid, "1", "2::1"),
            "legacy-mig": (f"MIG-{gpus[0].uuid}/13/0", gpus[1].uuid, f"GPU-{bare}::1"),
            "gke": ("nvidia0/gi13", "nvidia1", "nvidia2/vgpu1"),
        }
        for form, ids in expected.items():
            got = tuple(
                device_id(gpus[ref.gpu_index], ref, form)  # type: ignore[arg-type]
                for ref in (mig, whole, replica)
            )
            assert got == ids, form
            for text in got:
                parse_device_id(text)  # every form is one the exporter understands

    def test_allocatable_lists_every_device_once(self, small_node: SimulatedNode) -> None:
        response = small_node.allocatable_resources_response()
        advertised = {(d.resource_name, i) for d in response.devices for i in d.device_ids}
        gpus = small_node.spec.gpus
        assert advertised == {
            *((i.profile.resource_name, i.uuid) for i in gpus[0].mig_instances),
            ("nvidia.com/gpu", gpus[1].uuid),
            ("nvidia.com/gpu.shared", f"{gpus[2].uuid}::0"),
            ("nvidia.com/gpu.shared", f"{gpus[2].uuid}::1"),
        }
        assert list(response.cpu_ids) == list(range(32))


class TestPodList:
    def test_has_the_shape_of_a_v1_podlist(self, small_node: SimulatedNode) -> None:
        pods = small_node.pod_list()
        assert (pods["apiVersion"], pods["kind"]) == ("v1", "PodList")
        assert pods["metadata"]["resourceVersion"].isdigit()
        assert len(pods["items"]) == len(small_node.spec.pods)
        for item, spec in zip(pods["items"], small_node.spec.pods, strict=True):
            metadata, status = item["metadata"], item["status"]
            assert (metadata["name"], metadata["uid"]) == (spec.name, spec.uid)
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", metadata["creationTimestamp"])
            assert item["spec"]["nodeName"] == "sim-node-1"
            assert status["phase"] == spec.phase
            for container in status["containerStatuses"]:
                assert re.fullmatch(r"containerd://[0-9a-f]{64}", container["containerID"])

    def test_pods_carry_their_model_and_owner(self, small_node: SimulatedNode) -> None:
        vllm = small_node.pod_list()["items"][0]
        container = vllm["spec"]["containers"][0]
        assert container["image"].startswith("vllm/vllm-openai")
        assert container["args"] == ["--model", "meta-llama/Llama-2-7b-chat-hf"]
        assert container["resources"]["limits"] == {"nvidia.com/gpu": "1"}
        (owner,) = vllm["metadata"]["ownerReferences"]
        assert (owner["kind"], owner["name"]) == ("ReplicaSet", "vllm-llama2-7b-chat-hf-6d8f9b8b8")

    def test_a_sidecar_does_not_inherit_the_pods_program(self, small_node: SimulatedNode) -> None:
        sglang = small_node.pod_list()["items"][2]
        sidecar = sglang["spec"]["containers"][1]
        assert sidecar["name"] == "metrics-sidecar" and "args" not in sidecar
        assert "limits" not in sidecar["resources"]

    def test_finished_pod_is_terminated(self, small_node: SimulatedNode) -> None:
        done = small_node.pod_list()["items"][-1]
        (status,) = done["status"]["containerStatuses"]
        assert status["state"]["terminated"]["reason"] == "Completed"
        assert status["ready"] is False


class TestProc:
    def test_cgroups_lead_from_nvml_pids_to_pods(
        self, small_node: SimulatedNode, nvml: FakeNvml, tmp_path: Path
    ) -> None:
        small_node.write_proc(tmp_path)
        containers = {
            (item["metadata"]["uid"], status["containerID"].removeprefix("containerd://")): (
                item["metadata"]["name"],
                status["name"],
            )
            for item in small_node.pod_list()["items"]
            for status in item["status"]["containerStatuses"]
        }
        pids = {
            p.pid
            for i in range(nvml.nvmlDeviceGetCount())
            for p in nvml.nvmlDeviceGetComputeRunningProcesses(nvml.nvmlDeviceGetHandleByIndex(i))
        }
        assert sorted(int(p.name) for p in tmp_path.iterdir()) == sorted(pids)
        owners = {}
        for pid in pids:
            text = (tmp_path / str(pid) / "cgroup").read_text()
            assert text.startswith("0::/kubepods.slice/kubepods-burstable.slice/")
            owner = parse_cgroup(text)
            assert owner is not None
            owners[pid] = containers[owner]
        assert owners[20000] == ("vllm-llama2-7b-chat-hf-6d8f9b8b8-abc12", "vllm")
        assert owners[20004] == ("notebook-b-7b8c9d0e1-bb222", "notebook")


class TestFleet:
    def test_nodes_by_name(self) -> None:
        fleet = SimulatedFleet.from_file(DEMO, ManualClock(0))
        assert fleet.nodes == ("gpu-worker-1", "gpu-worker-2", "gpu-worker-3", "gpu-worker-4")
        assert fleet.node("gpu-worker-2") is fleet.node("gpu-worker-2")
        with pytest.raises(KeyError):
            fleet.node("gpu-worker-9")

    def test_nodes_share_the_clock(self) -> None:
        clock = ManualClock(0)
        fleet = SimulatedFleet(load_fleet(SMALL), clock)
        node = fleet.node("sim-node-1")
        clock.set(1767225600 + 3600)
        assert node.gpu_values(1) == node.gpu_values(1, clock.now())

    def test_demo_kubelet_and_processes_agree(self) -> None:
        fleet = SimulatedFleet.from_file(DEMO, ManualClock(1767225600 + 15 * 3600))
        for name in fleet.nodes:
            node = fleet.node(name)
            nvml_pids = {
                p.pid for i in range(len(node.spec.gpus)) for p in node.gpu_values(i).processes
            }
            assert nvml_pids == {p.pid for p in node.processes()}
            for pod in node.pod_resources_response().pod_resources:
                for container in pod.containers:
                    for devices in container.devices:
                        for text in devices.device_ids:
                            parse_device_id(text)
