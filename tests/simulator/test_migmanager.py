"""The simulated mig-manager: a node label and a mig-parted ConfigMap on the fake Kubernetes API
become MIG devices in the fake NVML, as NVIDIA's mig-manager applies them; busy GPUs refuse."""

from __future__ import annotations

from collections.abc import Iterator

import pynvml
import pytest
import requests
import yaml

from gpucatalog.placement import mig_parted_yaml
from simulator import ManualClock, SimulatedFleet, SimulatedNode
from simulator.kubeapi import ClusterObjects, KubeApiServer
from simulator.migmanager import MIG_CONFIG_LABEL, MIG_CONFIG_STATE_LABEL, MigManager
from tests.simulator.conftest import EPOCH, FLEETS

FLEET = FLEETS / "test-mig-on-demand.yaml"
NODE = "sim-mig-1"
CONFIG_MAP = "/api/v1/namespaces/gpu-operator/configmaps"


@pytest.fixture
def node() -> SimulatedNode:
    return SimulatedFleet.from_file(FLEET, ManualClock(EPOCH + 3600)).node(NODE)


@pytest.fixture
def api() -> Iterator[KubeApiServer]:
    with KubeApiServer(lambda: {"items": []}, ClusterObjects({NODE: {"a": "b"}})) as server:
        yield server


def publish(api: KubeApiServer, name: str, layouts: dict[int, list[str] | None]) -> None:
    config = mig_parted_yaml({name: [([i], p) for i, p in layouts.items()]})
    body = {
        "metadata": {"name": "gpu-analytics-mig-parted-config"},
        "data": {"config.yaml": config},
    }
    existing = requests.get(f"{api.url}{CONFIG_MAP}/gpu-analytics-mig-parted-config", timeout=5)
    if existing.status_code == 404:
        created = requests.post(f"{api.url}{CONFIG_MAP}", json=body, timeout=5)
        assert created.status_code == 201, created.text
    else:
        updated = requests.put(
            f"{api.url}{CONFIG_MAP}/gpu-analytics-mig-parted-config", json=body, timeout=5
        )
        assert updated.status_code == 200, updated.text
    patched = requests.patch(
        f"{api.url}/api/v1/nodes/{NODE}",
        json={"metadata": {"labels": {MIG_CONFIG_LABEL: name}}},
        headers={"Content-Type": "application/merge-patch+json"},
        timeout=5,
    )
    assert patched.status_code == 200, patched.text


def mig_devices(node: SimulatedNode, index: int) -> list[str]:
    nvml = node.nvml
    nvml.nvmlInit()
    try:
        handle = nvml.nvmlDeviceGetHandleByIndex(index)
        found = []
        for slot in range(nvml.nvmlDeviceGetMaxMigDeviceCount(handle)):
            try:
                mig = nvml.nvmlDeviceGetMigDeviceHandleByIndex(handle, slot)
            except pynvml.NVMLError_NotFound:
                continue
            found.append(nvml.nvmlDeviceGetName(mig).rsplit(" ", 1)[1])
        return found
    finally:
        nvml.nvmlShutdown()


def labels(api: KubeApiServer) -> dict[str, str]:
    node = requests.get(f"{api.url}/api/v1/nodes/{NODE}", timeout=5).json()
    found: dict[str, str] = node["metadata"]["labels"]
    return found


def test_the_labelled_config_is_applied_and_reported_as_success(
    node: SimulatedNode, api: KubeApiServer
) -> None:
    manager = MigManager(node, api.url, apply_delay_seconds=0)
    assert manager.reconcile_once() is None  # no mig.config label yet
    layout = ["2g.20gb", "2g.20gb", "2g.20gb", "1g.20gb"]
    publish(api, "carved", {0: layout, 1: None})
    assert manager.reconcile_once() == "success"
    assert labels(api)[MIG_CONFIG_STATE_LABEL] == "success"
    assert labels(api)["a"] == "b"  # a merge patch keeps the other labels
    assert sorted(mig_devices(node, 0)) == sorted(layout)
    nvml = node.nvml
    nvml.nvmlInit()
    try:
        gpu0 = nvml.nvmlDeviceGetHandleByIndex(0)
        assert nvml.nvmlDeviceGetMigMode(gpu0)[0] == pynvml.NVML_DEVICE_MIG_ENABLE
        gpu1 = nvml.nvmlDeviceGetHandleByIndex(1)
        assert nvml.nvmlDeviceGetMigMode(gpu1)[0] == pynvml.NVML_DEVICE_MIG_DISABLE
    finally:
        nvml.nvmlShutdown()
    assert manager.reconcile_once() is None  # the same label again: nothing to do


def test_a_gpu_with_a_running_pod_is_not_repartitioned(
    node: SimulatedNode, api: KubeApiServer
) -> None:
    manager = MigManager(node, api.url, apply_delay_seconds=0)
    publish(api, "busy", {0: ["7g.80gb"], 1: ["7g.80gb"]})  # GPU 1 runs the vLLM pod
    assert manager.reconcile_once() == "failed"
    assert labels(api)[MIG_CONFIG_STATE_LABEL] == "failed"
    # All or nothing, as one mig-parted apply: GPU 0 is left as it was too.
    assert mig_devices(node, 0) == []
    assert mig_devices(node, 1) == []


def test_the_api_refuses_stale_config_map_writes(api: KubeApiServer) -> None:
    publish(api, "first", {0: ["7g.80gb"]})
    current = requests.get(f"{api.url}{CONFIG_MAP}/gpu-analytics-mig-parted-config", timeout=5)
    version = current.json()["metadata"]["resourceVersion"]
    publish(api, "second", {0: ["3g.40gb"]})
    stale = requests.put(
        f"{api.url}{CONFIG_MAP}/gpu-analytics-mig-parted-config",
        json={"metadata": {"resourceVersion": version}, "data": {"config.yaml": "x"}},
        timeout=5,
    )
    assert stale.status_code == 409
    text = requests.get(f"{api.url}{CONFIG_MAP}/gpu-analytics-mig-parted-config", timeout=5).json()[
        "data"
    ]["config.yaml"]
    assert "second" in yaml.safe_load(text)["mig-configs"]
    missing = requests.patch(
        f"{api.url}/api/v1/nodes/nowhere",
        json={"metadata": {"labels": {"x": "y"}}},
        headers={"Content-Type": "application/merge-patch+json"},
        timeout=5,
    )
    assert missing.status_code == 404
