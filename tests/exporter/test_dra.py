"""GPUs and MIG devices held through DRA ResourceClaims, attributed like device-plugin GPUs.

The exporter's own pipeline runs against the simulated node: the kubelet's pod-resources API
over gRPC on a unix socket (``dynamic_resources`` as a 1.31+ kubelet reports them), the
Kubernetes API serving the node's pods and NVIDIA's DRA driver's ResourceSlices, the fake NVML.
Truth comes from the fleet description, not from the code under test.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from exporter.attribution import resolve_allocations
from exporter.config import load_settings
from exporter.dra import ClaimDevice, ResourceSliceTable, cdi_device, devices_from_resource_slices
from exporter.errors import ExporterError
from exporter.kube import KubePodSource
from exporter.nvml import NvmlReader
from exporter.pipeline import start_exporter
from exporter.podresources import api_pb2
from exporter.podresources.client import PodResourcesClient
from simulator.clock import ManualClock
from simulator.fleet import FleetError, load_fleet
from simulator.kubeapi import KubeApiServer
from simulator.kubelet import PodResourcesServer
from simulator.node import SimulatedFleet, SimulatedNode
from tests.conftest import FLEETS, http_get

DRA_FLEET = FLEETS / "test-dra.yaml"
FLEET = DRA_FLEET.read_text()

Labels = dict[str, str]


@pytest.fixture
def node() -> SimulatedNode:
    probe = SimulatedFleet.from_file(DRA_FLEET, ManualClock(0.0))
    fleet = SimulatedFleet.from_file(DRA_FLEET, ManualClock(probe.spec.epoch_seconds + 600))
    return fleet.node("dra-node")


@contextlib.contextmanager
def _kubelet(list_provider: Callable[[], Any]) -> Iterator[str]:
    socket_path = str(Path(tempfile.mkdtemp(prefix="dra")) / "kubelet.sock")
    with PodResourcesServer(socket_path, list_provider):
        yield socket_path


def _scrape_allocations(
    node: SimulatedNode, slices: Callable[[], Any] | None
) -> tuple[list[Labels], dict[str, float]]:
    """Run the exporter (production pipeline) on ``node``; its allocations and error counts."""
    with (
        _kubelet(node.pod_resources_response) as socket_path,
        KubeApiServer(node.pod_list, resource_slice_provider=slices) as kube_api,
        contextlib.ExitStack() as stack,
    ):
        settings = load_settings(
            [
                "--node-name",
                node.name,
                "--listen",
                "127.0.0.1:0",
                "--pod-resources-socket",
                socket_path,
                "--kube-api-url",
                kube_api.url,
            ],
            {},
        )
        exporter = start_exporter(stack, settings, node.nvml, http_poll_seconds=0.05)
        text = http_get(exporter.server.url + "/metrics").decode()
    allocations: list[Labels] = []
    errors: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "gpu_pod_allocation_info":
                allocations.append(dict(sample.labels))
            elif sample.name == "gpu_exporter_errors_total":
                errors[sample.labels["operation"]] = sample.value
    return allocations, errors


def _by_pod(allocations: list[Labels]) -> dict[str, Labels]:
    return {a["pod"]: a for a in allocations}


def test_claimed_gpu_and_mig_device_carry_the_claim(node: SimulatedNode) -> None:
    allocations, errors = _scrape_allocations(node, node.resource_slice_list)
    by_pod = _by_pod(allocations)
    assert set(by_pod) == {"trainer-0", "notebook-0", "vllm-0"}
    gpus = node.spec.gpus
    mig = gpus[0].mig_instances[1]

    trainer = by_pod["trainer-0"]
    assert (trainer["uuid"], trainer["gpu"], trainer["mig_uuid"]) == (gpus[1].uuid, "1", "")
    assert (trainer["claim_name"], trainer["claim_namespace"]) == ("trainer-gpus", "research")
    assert (trainer["resource"], trainer["sharing"]) == ("gpu.nvidia.com", "exclusive")

    notebook = by_pod["notebook-0"]
    assert (notebook["uuid"], notebook["mig_uuid"]) == (gpus[0].uuid, mig.uuid)
    assert (notebook["claim_name"], notebook["claim_namespace"]) == (
        "notebook-mig",
        "development",
    )
    assert notebook["container"] == "notebook"

    plugin = by_pod["vllm-0"]
    assert (plugin["uuid"], plugin["resource"]) == (gpus[2].uuid, "nvidia.com/gpu")
    assert (plugin["claim_name"], plugin["claim_namespace"]) == ("", "")
    assert "resolve_device_id" not in errors


def test_without_resource_slices_whole_gpus_resolve_by_minor_number(
    node: SimulatedNode,
) -> None:
    # An API server that publishes no slices: the driver's gpu-<minor> name still says which
    # GPU it is; a MIG device's name does not, so it is counted as unresolved, never guessed.
    allocations, errors = _scrape_allocations(node, None)
    by_pod = _by_pod(allocations)
    assert set(by_pod) == {"trainer-0", "vllm-0"}
    assert by_pod["trainer-0"]["uuid"] == node.spec.gpus[1].uuid
    assert by_pod["trainer-0"]["claim_name"] == "trainer-gpus"
    assert errors["resolve_device_id"] == 1.0


def _cdi_only(response: Any) -> Any:
    """``response`` as a 1.27-1.30 kubelet reports claims: CDI device names only (the
    driver's standard device and its per-claim device), no driver, pool or device name."""
    out = api_pb2.ListPodResourcesResponse()
    out.CopyFrom(response)
    for pod in out.pod_resources:
        for container in pod.containers:
            for dynamic in container.dynamic_resources:
                for resource in dynamic.claim_resources:
                    name = resource.device_name
                    resource.ClearField("driver_name")
                    resource.ClearField("pool_name")
                    resource.ClearField("device_name")
                    resource.cdi_devices.add(
                        name=f"k8s.gpu.nvidia.com/claim=6f1c1b2a-3d4e-4f50-8a9b-0c1d2e3f4a5b-{name}"
                    )
    return out


def test_cdi_only_kubelets_are_read_through_the_cdi_device_names(node: SimulatedNode) -> None:
    with (
        _kubelet(lambda: _cdi_only(node.pod_resources_response())) as socket_path,
        KubeApiServer(node.pod_list, resource_slice_provider=node.resource_slice_list) as api,
        KubePodSource(node.name, api_url=api.url) as pods,
    ):
        table = ResourceSliceTable(pods.list_resource_slices)
        with PodResourcesClient(socket_path, dra_uuid=table.uuid) as client:
            pod_devices = client.list_pod_devices()
    devices = NvmlReader(node.nvml).read_devices()
    allocations, unresolved = resolve_allocations(pod_devices, devices, None)
    assert unresolved == 0
    claimed = {(a.pod, a.gpu_uuid, a.mig_uuid, a.claim_name) for a in allocations if a.claim_name}
    gpus = node.spec.gpus
    # One allocation per device although each device has two CDI names.
    assert claimed == {
        ("trainer-0", gpus[1].uuid, None, "trainer-gpus"),
        ("notebook-0", gpus[0].uuid, gpus[0].mig_instances[1].uuid, "notebook-mig"),
    }


def test_a_device_of_a_claim_shared_by_two_pods_is_shared(node: SimulatedNode) -> None:
    gpu = node.spec.gpus[1]

    def claim_pod(name: str) -> Any:
        resource = api_pb2.ClaimResource(
            driver_name="gpu.nvidia.com", pool_name=node.name, device_name="gpu-1"
        )
        dynamic = api_pb2.DynamicResource(
            claim_name="shared-gpu", claim_namespace="team-a", claim_resources=[resource]
        )
        container = api_pb2.ContainerResources(name="main", dynamic_resources=[dynamic])
        return api_pb2.PodResources(name=name, namespace="team-a", containers=[container])

    def response() -> Any:
        return api_pb2.ListPodResourcesResponse(pod_resources=[claim_pod("a"), claim_pod("b")])

    with (
        _kubelet(response) as socket_path,
        PodResourcesClient(socket_path, dra_uuid=ResourceSliceTable(node_slices(node)).uuid) as c,
    ):
        pod_devices = c.list_pod_devices()
    devices = NvmlReader(node.nvml).read_devices()
    allocations, unresolved = resolve_allocations(pod_devices, devices, None)
    assert unresolved == 0
    assert [(a.pod, a.gpu_uuid, a.sharing) for a in allocations] == [
        ("a", gpu.uuid, "shared"),
        ("b", gpu.uuid, "shared"),
    ]


def node_slices(node: SimulatedNode) -> Callable[[], list[Any]]:
    return lambda: list(node.resource_slice_list()["items"])


def test_other_drivers_claims_are_left_out(node: SimulatedNode) -> None:
    resource = api_pb2.ClaimResource(
        driver_name="compute-domain.nvidia.com", pool_name=node.name, device_name="channel-0"
    )
    dynamic = api_pb2.DynamicResource(claim_name="imex", claim_resources=[resource])
    container = api_pb2.ContainerResources(name="main", dynamic_resources=[dynamic])
    pod = api_pb2.PodResources(name="p", namespace="ns", containers=[container])
    with (
        _kubelet(lambda: api_pb2.ListPodResourcesResponse(pod_resources=[pod])) as socket_path,
        PodResourcesClient(socket_path) as client,
    ):
        assert client.list_pod_devices() == []


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("k8s.gpu.nvidia.com/device=gpu-0", ClaimDevice("gpu.nvidia.com", "", "gpu-0")),
        (
            "k8s.gpu.nvidia.com/claim=6f1c1b2a-3d4e-4f50-8a9b-0c1d2e3f4a5b-gpu-0-mig-9-4-2",
            ClaimDevice("gpu.nvidia.com", "", "gpu-0-mig-9-4-2"),
        ),
        ("nvidia.com/gpu=GPU-1234", ClaimDevice("nvidia.com/gpu", "", "GPU-1234")),
        ("nvidia.com/gpu=all", ClaimDevice("nvidia.com/gpu", "", "all")),
        ("vendor.com/fpga=fpga0", None),
        ("k8s.gpu.nvidia.com/other=gpu-0", None),
        ("not a cdi name", None),
    ],
)
def test_cdi_device_names(name: str, expected: ClaimDevice | None) -> None:
    assert cdi_device(name) == expected


def test_resource_slices_of_v1beta1_and_qualified_attributes() -> None:
    slices = [
        {  # v1beta1: attributes under "basic"
            "spec": {
                "driver": "gpu.nvidia.com",
                "pool": {"name": "n1"},
                "devices": [
                    {"name": "gpu-0", "basic": {"attributes": {"uuid": {"string": "GPU-a"}}}},
                    {"name": "no-uuid", "basic": {"attributes": {"type": {"string": "gpu"}}}},
                ],
            }
        },
        {  # v1, attribute name qualified with the driver's domain
            "spec": {
                "driver": "gpu.nvidia.com",
                "pool": {"name": "n1"},
                "devices": [
                    {
                        "name": "gpu-1-mig-9-4-2",
                        "attributes": {"gpu.nvidia.com/uuid": {"string": "MIG-b"}},
                    }
                ],
            }
        },
    ]
    assert devices_from_resource_slices(slices) == {
        ("gpu.nvidia.com", "n1", "gpu-0"): "GPU-a",
        ("gpu.nvidia.com", "n1", "gpu-1-mig-9-4-2"): "MIG-b",
    }


def test_slice_table_rereads_on_a_miss_at_most_every_interval() -> None:
    clock = ManualClock(1000.0)
    published: list[dict[str, Any]] = []
    reads: list[float] = []

    def list_slices() -> list[dict[str, Any]]:
        reads.append(clock.now())
        if not published:
            raise ExporterError("API down")
        return published

    table = ResourceSliceTable(list_slices, min_refresh_seconds=30.0, clock=clock.now)
    wanted = ClaimDevice("gpu.nvidia.com", "n1", "gpu-0")
    assert table.uuid(wanted) is None  # a failed read: nothing known, no exception
    published.append(
        {
            "spec": {
                "driver": "gpu.nvidia.com",
                "pool": {"name": "n1"},
                "devices": [{"name": "gpu-0", "attributes": {"uuid": {"string": "GPU-a"}}}],
            }
        }
    )
    assert table.uuid(wanted) is None  # within the interval: not read again
    clock.set(1030.0)
    assert table.uuid(wanted) == "GPU-a"
    assert table.uuid(wanted) == "GPU-a"  # a hit: no read
    assert reads == [1000.0, 1030.0]


@pytest.mark.parametrize(
    ("pod_keys", "message"),
    [
        ("dra_claim: Not_A_Name\n", "not a valid claim name"),
        ("dra_claim: [a]\n", "not a valid claim name"),
    ],
)
def test_simulator_rejects_bad_claims(tmp_path: Path, pod_keys: str, message: str) -> None:
    fleet = FLEET.replace("        dra_claim: trainer-gpus\n", "        " + pod_keys)
    path = tmp_path / "fleet.yaml"
    path.write_text(fleet)
    with pytest.raises(FleetError, match=message):
        load_fleet(path)


def test_simulator_claims_hold_no_time_slicing_replicas(tmp_path: Path) -> None:
    fleet = FLEET.replace(
        "      - model: H100_80GB\n",
        "      - model: RTX4090\n        time_slicing_replicas: 2\n",
        1,
    )
    fleet = fleet.replace("            gpus: [1]\n", "            replicas: [[1, 0]]\n", 1)
    path = tmp_path / "fleet.yaml"
    path.write_text(fleet)
    with pytest.raises(FleetError, match="not time-slicing replicas"):
        load_fleet(path)
