"""The pod-resources client against a real gRPC server on a unix socket: the simulated kubelet."""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Iterator

import grpc
import pytest

from exporter.attribution import resolve_allocations
from exporter.podresources import api_pb2, api_pb2_grpc
from exporter.podresources.client import PodResourcesClient, PodResourcesError
from exporter.snapshot import (
    DeviceIdentity,
    DeviceSample,
    MigInstanceSample,
    PodAllocation,
    PodDevice,
    PodInfo,
)
from simulator.kubelet import PodResourcesServer

GPU0 = "GPU-00000000-1111-2222-3333-444444444444"
GPU1 = "GPU-11111111-1111-2222-3333-444444444444"
GPU2 = "GPU-22222222-1111-2222-3333-444444444444"
GPU3 = "GPU-33333333-1111-2222-3333-444444444444"
MIG_1G = "MIG-aaaaaaaa-1111-2222-3333-444444444444"
MIG_2G = "MIG-bbbbbbbb-1111-2222-3333-444444444444"
MIG_GI3 = "MIG-cccccccc-1111-2222-3333-444444444444"


@pytest.fixture
def socket_path() -> Iterator[str]:
    # Not tmp_path: unix socket paths are limited to ~107 bytes and pytest's can be longer.
    directory = tempfile.mkdtemp(prefix="pr", dir="/tmp")
    yield os.path.join(directory, "kubelet.sock")
    shutil.rmtree(directory, ignore_errors=True)


def pod(name: str, namespace: str, *containers: api_pb2.ContainerResources) -> api_pb2.PodResources:
    return api_pb2.PodResources(name=name, namespace=namespace, containers=list(containers))


def devices(resource_name: str, *ids: str) -> api_pb2.ContainerDevices:
    return api_pb2.ContainerDevices(resource_name=resource_name, device_ids=list(ids))


def container(
    name: str, *container_devices: api_pb2.ContainerDevices
) -> api_pb2.ContainerResources:
    return api_pb2.ContainerResources(name=name, devices=list(container_devices), cpu_ids=[2, 3])


def node_response() -> api_pb2.ListPodResourcesResponse:
    """One node's answer: every id form, sharing modes, a finished pod and foreign resources."""
    return api_pb2.ListPodResourcesResponse(
        pod_resources=[
            pod(
                "train-0",
                "ml",
                container(
                    "trainer",
                    devices("nvidia.com/gpu", GPU0),
                    devices("amd.com/gpu", "card0"),
                    devices("example.com/sriov-nic", "0000:3b:00.2"),
                ),
                container("logger"),
            ),
            pod(
                "infer-mig",
                "ml",
                container(
                    "server",
                    devices("nvidia.com/mig-1g.10gb", MIG_1G),
                    devices("nvidia.com/mig-2g.20gb", f"MIG-GPU-{GPU1[4:]}/2/0"),
                ),
            ),
            pod(
                "gke-infer",
                "gke",
                container("server", devices("nvidia.com/gpu", "nvidia1/gi3", "nvidia3")),
            ),
            pod(
                "shared-a",
                "team",
                container("app", devices("nvidia.com/gpu", f"{GPU2}::0", f"{GPU2[4:]}::1")),
            ),
            pod(
                "shared-b",
                "team",
                container("app", devices("nvidia.com/gpu.shared", GPU2)),
            ),
            pod("shared-c", "team", container("app", devices("nvidia.com/gpu", "nvidia2/vgpu2"))),
            pod("finished", "batch", container("job", devices("nvidia.com/gpu", GPU0))),
            pod(
                "stray",
                "team",
                container(
                    "app",
                    devices("nvidia.com/gpu", "GPU-99999999-1111-2222-3333-444444444444"),
                    devices("nvidia.com/gpu", "garbage/id"),
                ),
            ),
            pod("cpu-only", "default", container("app")),
        ]
    )


def node_devices() -> list[DeviceSample]:
    def identity(index: int, uuid: str) -> DeviceIdentity:
        return DeviceIdentity(
            index=index,
            uuid=uuid,
            name="NVIDIA A100-SXM4-80GB",
            serial=f"13230000000{index}",
            pci_bus_id=f"00000000:{0x17 + index:02X}:00.0",
            vbios_version="92.00.45.00.03",
            architecture="ampere",
        )

    migs = (
        MigInstanceSample(MIG_1G, 1, 0, "1g.10gb", 0, 10 << 30),
        MigInstanceSample(MIG_2G, 2, 0, "2g.20gb", 0, 20 << 30),
        MigInstanceSample(MIG_GI3, 3, 0, "3g.40gb", 0, 40 << 30),
    )
    return [
        DeviceSample(identity(0, GPU0), up=True),
        DeviceSample(identity(1, GPU1), up=True, mig_enabled=True, mig_instances=migs),
        DeviceSample(identity(2, GPU2), up=True),
        DeviceSample(identity(3, GPU3), up=True),
    ]


def pods_on_node() -> dict[tuple[str, str], PodInfo]:
    phases = {
        ("ml", "train-0"): "Running",
        ("ml", "infer-mig"): "Running",
        ("gke", "gke-infer"): "Pending",
        ("team", "shared-a"): "Running",
        ("team", "shared-b"): "Running",
        ("team", "shared-c"): "Running",
        ("batch", "finished"): "Succeeded",
        ("team", "stray"): "Running",
    }
    return {
        key: PodInfo(namespace=key[0], name=key[1], uid=f"uid-{key[1]}", phase=phase, node_name="n")
        for key, phase in phases.items()
    }


# -- the client over the real protocol ------------------------------------------------------


def test_list_flattens_pods_containers_and_ids_of_nvidia_resources_only(socket_path: str) -> None:
    with (
        PodResourcesServer(socket_path, node_response),
        PodResourcesClient(socket_path) as client,
    ):
        pod_devices = client.list_pod_devices()

    assert pod_devices[:3] == [
        PodDevice("ml", "train-0", "trainer", "nvidia.com/gpu", GPU0),
        PodDevice("ml", "infer-mig", "server", "nvidia.com/mig-1g.10gb", MIG_1G),
        PodDevice("ml", "infer-mig", "server", "nvidia.com/mig-2g.20gb", f"MIG-GPU-{GPU1[4:]}/2/0"),
    ]
    assert {d.resource_name for d in pod_devices} == {
        "nvidia.com/gpu",
        "nvidia.com/gpu.shared",
        "nvidia.com/mig-1g.10gb",
        "nvidia.com/mig-2g.20gb",
    }
    assert [d.device_id for d in pod_devices if d.pod == "gke-infer"] == ["nvidia1/gi3", "nvidia3"]
    assert not any(d.pod == "cpu-only" for d in pod_devices)


def test_resource_prefixes_are_configurable(socket_path: str) -> None:
    with (
        PodResourcesServer(socket_path, node_response),
        PodResourcesClient(socket_path, resource_prefixes=("amd.com/", "example.com/")) as client,
    ):
        pod_devices = client.list_pod_devices()

    assert pod_devices == [
        PodDevice("ml", "train-0", "trainer", "amd.com/gpu", "card0"),
        PodDevice("ml", "train-0", "trainer", "example.com/sriov-nic", "0000:3b:00.2"),
    ]


def test_allocatable_ids_come_from_get_allocatable_resources(socket_path: str) -> None:
    def allocatable() -> api_pb2.AllocatableResourcesResponse:
        return api_pb2.AllocatableResourcesResponse(
            devices=[devices("nvidia.com/gpu", GPU0, GPU2), devices("amd.com/gpu", "card0")],
            cpu_ids=[0, 1, 2, 3],
        )

    with (
        PodResourcesServer(socket_path, node_response, allocatable),
        PodResourcesClient(socket_path) as client,
    ):
        assert client.allocatable_device_ids() == [
            ("nvidia.com/gpu", GPU0),
            ("nvidia.com/gpu", GPU2),
        ]


def test_allocatable_defaults_to_every_listed_device(socket_path: str) -> None:
    with (
        PodResourcesServer(socket_path, node_response),
        PodResourcesClient(socket_path, resource_prefixes=("nvidia.com/mig-",)) as client,
    ):
        assert client.allocatable_device_ids() == [
            ("nvidia.com/mig-1g.10gb", MIG_1G),
            ("nvidia.com/mig-2g.20gb", f"MIG-GPU-{GPU1[4:]}/2/0"),
        ]


# -- attribution of what the kubelet reports ------------------------------------------------


def test_listed_ids_resolve_to_gpus_and_mig_instances(socket_path: str) -> None:
    with (
        PodResourcesServer(socket_path, node_response),
        PodResourcesClient(socket_path) as client,
    ):
        pod_devices = client.list_pod_devices()

    allocations, unresolved = resolve_allocations(pod_devices, node_devices(), pods_on_node())

    def alloc(
        pod: str,
        ctr: str,
        resource: str,
        gpu: int,
        mig: str | None = None,
        *,
        replica: int | None = None,
        shared: bool = False,
    ) -> PodAllocation:
        namespace, name = pod.split("/")
        sharing = "shared" if shared or replica is not None else "exclusive"
        uuid = [GPU0, GPU1, GPU2, GPU3][gpu]
        return PodAllocation(namespace, name, ctr, resource, gpu, uuid, mig, sharing, replica)

    assert allocations == [
        alloc("gke/gke-infer", "server", "nvidia.com/gpu", 1, MIG_GI3),
        alloc("gke/gke-infer", "server", "nvidia.com/gpu", 3),
        alloc("ml/infer-mig", "server", "nvidia.com/mig-1g.10gb", 1, MIG_1G),
        alloc("ml/infer-mig", "server", "nvidia.com/mig-2g.20gb", 1, MIG_2G),
        alloc("ml/train-0", "trainer", "nvidia.com/gpu", 0),
        alloc("team/shared-a", "app", "nvidia.com/gpu", 2, replica=0),
        alloc("team/shared-a", "app", "nvidia.com/gpu", 2, replica=1),
        alloc("team/shared-b", "app", "nvidia.com/gpu.shared", 2, shared=True),
        alloc("team/shared-c", "app", "nvidia.com/gpu", 2, replica=2),
    ]
    # The Succeeded pod still listed by the kubelet is gone; the stray pod's two ids count.
    assert unresolved == 2


def test_without_pod_phases_every_listed_pod_is_kept(socket_path: str) -> None:
    with (
        PodResourcesServer(socket_path, node_response),
        PodResourcesClient(socket_path) as client,
    ):
        allocations, unresolved = resolve_allocations(
            client.list_pod_devices(), node_devices(), None
        )
    assert ("batch", "finished") in {(a.namespace, a.pod) for a in allocations}
    assert unresolved == 2


# -- failures -------------------------------------------------------------------------------


def test_server_down_raises_and_the_client_recovers_when_it_returns(socket_path: str) -> None:
    client = PodResourcesClient(socket_path, timeout_seconds=2.0)
    try:
        with pytest.raises(PodResourcesError) as info:
            client.list_pod_devices()
        assert info.value.code == "UNAVAILABLE"
        assert isinstance(info.value.__cause__, grpc.RpcError)

        server = PodResourcesServer(socket_path, node_response)
        with server:
            assert len(client.list_pod_devices()) == 12
        with pytest.raises(PodResourcesError):
            client.list_pod_devices()
        # A kubelet restart: the same server object (a new socket file) on the same path.
        with server:
            assert len(client.list_pod_devices()) == 12
    finally:
        client.close()


def test_a_slow_kubelet_times_out(socket_path: str) -> None:
    release = threading.Event()

    def slow() -> api_pb2.ListPodResourcesResponse:
        release.wait(5)
        return node_response()

    try:
        with (
            PodResourcesServer(socket_path, slow),
            PodResourcesClient(socket_path, timeout_seconds=0.2) as client,
        ):
            with pytest.raises(PodResourcesError) as info:
                client.list_pod_devices()
            assert info.value.code == "DEADLINE_EXCEEDED"
            release.set()
            assert len(client.list_pod_devices()) == 12
    finally:
        release.set()


def test_a_failing_kubelet_is_an_error_not_an_empty_answer(socket_path: str) -> None:
    def broken() -> api_pb2.ListPodResourcesResponse:
        raise RuntimeError("kubelet is unwell")

    with (
        PodResourcesServer(socket_path, broken),
        PodResourcesClient(socket_path) as client,
        pytest.raises(PodResourcesError, match="UNKNOWN"),
    ):
        client.list_pod_devices()


# -- the simulated kubelet's other methods --------------------------------------------------


def test_get_finds_a_listed_pod_and_answers_not_found_otherwise(socket_path: str) -> None:
    with (
        PodResourcesServer(socket_path, node_response),
        grpc.insecure_channel(f"unix://{socket_path}") as channel,
    ):
        stub = api_pb2_grpc.PodResourcesListerStub(channel)
        found = stub.Get(
            api_pb2.GetPodResourcesRequest(pod_name="infer-mig", pod_namespace="ml"), timeout=2
        )
        assert found.pod_resources.containers[0].devices[0].device_ids == [MIG_1G]
        with pytest.raises(grpc.RpcError) as info:
            stub.Get(
                api_pb2.GetPodResourcesRequest(pod_name="infer-mig", pod_namespace="other"),
                timeout=2,
            )
        assert info.value.code() == grpc.StatusCode.NOT_FOUND


def test_server_removes_its_socket_when_stopped(socket_path: str) -> None:
    with PodResourcesServer(socket_path, node_response):
        assert os.path.exists(socket_path)
    assert not os.path.exists(socket_path)
