"""Publishing desired MIG layouts for the GPU operator's mig-manager (mig_apply), against the
simulator's Kubernetes API server over real HTTP: one mig-parted config per node covering every
MIG-capable GPU, written to the ConfigMap before the node's nvidia.com/mig.config label."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
import yaml
from flask.testing import FlaskClient

from simulator.kubeapi import ClusterObjects, KubeApiServer
from tests.analytics.conftest import ADMIN, API, AppFactory, register
from tests.analytics.prom_fake import FakePrometheus

CONFIG_MAP = "/api/v1/namespaces/gpu-operator/configmaps/gpu-analytics-mig-parted-config"


@pytest.fixture
def kube() -> Iterator[KubeApiServer]:
    nodes = {"gpu-worker-1": {"kubernetes.io/hostname": "gpu-worker-1"}, "gpu-worker-2": {}}
    with KubeApiServer(lambda: {"items": []}, ClusterObjects(nodes)) as server:
        yield server


@pytest.fixture
def client(make_app: AppFactory, kube: KubeApiServer) -> FlaskClient:
    client = make_app(mig_apply=True, kube_api_url=kube.url).test_client()
    register(client, "gpu-worker-1", 0, model="A100_80GB")
    register(client, "gpu-worker-1", 1, model="A100_80GB")
    register(client, "gpu-worker-1", 2, model="RTX4090")
    register(client, "gpu-worker-2", 0, model="H100_80GB")
    return client


def node_labels(kube: KubeApiServer, node: str) -> dict[str, str]:
    body = requests.get(f"{kube.url}/api/v1/nodes/{node}", timeout=5).json()
    labels: dict[str, str] = body["metadata"]["labels"]
    return labels


def parted(kube: KubeApiServer) -> dict[str, Any]:
    body = requests.get(kube.url + CONFIG_MAP, timeout=5).json()
    config: dict[str, Any] = yaml.safe_load(body["data"]["config.yaml"])
    return config


def test_an_on_demand_layout_is_published_for_its_whole_node(
    client: FlaskClient, kube: KubeApiServer
) -> None:
    response = client.post(
        f"{API}/gpu/allocations",
        json={"namespace": "a", "podName": "p", "requiredMemoryGb": 20, "useMig": True},
        headers=ADMIN,
    )
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["data"]["deviceId"] == "gpu-worker-1-GPU-00"
    label = node_labels(kube, "gpu-worker-1")["nvidia.com/mig.config"]
    assert node_labels(kube, "gpu-worker-1")["kubernetes.io/hostname"] == "gpu-worker-1"
    assert "nvidia.com/mig.config" not in node_labels(kube, "gpu-worker-2")
    entries = parted(kube)["mig-configs"][label]
    # Every MIG-capable GPU of the node, each by its index; the RTX 4090 is not one.
    assert entries == [
        {
            "devices": [0],
            "mig-enabled": True,
            "mig-devices": {"1g.20gb": 1, "2g.20gb": 3},
        },
        {"devices": [1], "mig-enabled": False},
    ]


def test_each_change_is_a_new_config_and_other_nodes_configs_stay(
    client: FlaskClient, kube: KubeApiServer
) -> None:
    created = client.post(
        f"{API}/gpu/mig/devices/gpu-worker-2-GPU-00",
        json={"profileIds": ["3g.40gb"]},
        headers=ADMIN,
    )
    assert created.status_code == 201
    second_node = node_labels(kube, "gpu-worker-2")["nvidia.com/mig.config"]
    client.post(
        f"{API}/gpu/mig/devices/gpu-worker-1-GPU-01",
        json={"profileIds": ["7g.80gb"]},
        headers=ADMIN,
    )
    first = node_labels(kube, "gpu-worker-1")["nvidia.com/mig.config"]
    client.delete(f"{API}/gpu/mig/devices/gpu-worker-1-GPU-01", headers=ADMIN)
    after_delete = node_labels(kube, "gpu-worker-1")["nvidia.com/mig.config"]
    assert len({first, after_delete, second_node}) == 3
    configs = parted(kube)["mig-configs"]
    assert configs[second_node] == [
        {"devices": [0], "mig-enabled": True, "mig-devices": {"3g.40gb": 1}}
    ]
    assert configs[after_delete] == [
        {"devices": [0], "mig-enabled": False},
        {"devices": [1], "mig-enabled": False},
    ]


def test_an_unreachable_api_leaves_the_layout_pending(make_app: AppFactory) -> None:
    client = make_app(mig_apply=True, kube_api_url="http://127.0.0.1:9").test_client()
    register(client, "gpu-worker-1", 0, model="A100_80GB")
    response = client.post(
        f"{API}/gpu/mig/devices/gpu-worker-1-GPU-00",
        json={"profileIds": ["3g.40gb"]},
        headers=ADMIN,
    )
    assert response.status_code == 201
    assert {i["state"] for i in response.get_json()["data"]["instances"]} == {"PENDING"}


def test_the_inventory_sync_publishes_again_what_the_cluster_refused(
    make_app: AppFactory, fake_prometheus: FakePrometheus
) -> None:
    """A publish the API refused (here: the node is not there yet) is not lost until the next
    layout change: each sync run publishes the nodes whose layout is not applied yet, and
    rewrites nothing that is already there."""
    objects = ClusterObjects({})
    with KubeApiServer(lambda: {"items": []}, objects) as kube:
        client = make_app(
            mig_apply=True, kube_api_url=kube.url, prometheus_url=fake_prometheus.url
        ).test_client()
        register(client, "gpu-worker-1", 0, model="A100_80GB")
        created = client.post(
            f"{API}/gpu/mig/devices/gpu-worker-1-GPU-00",
            json={"profileIds": ["3g.40gb"]},
            headers=ADMIN,
        )
        assert created.status_code == 201
        assert objects.node("gpu-worker-1") is None

        objects.add_node("gpu-worker-1")
        synced = client.post(f"{API}/gpu/metrics/collect", headers=ADMIN)
        assert synced.status_code == 200, synced.get_json()
        labels = node_labels(kube, "gpu-worker-1")
        published = labels["nvidia.com/mig.config"]
        assert published.startswith("gpu-analytics-")
        assert parted(kube)["mig-configs"][published] == [
            {"devices": [0], "mig-enabled": True, "mig-devices": {"3g.40gb": 1}}
        ]
        version = requests.get(kube.url + CONFIG_MAP, timeout=5).json()["metadata"][
            "resourceVersion"
        ]
        assert client.post(f"{API}/gpu/metrics/collect", headers=ADMIN).status_code == 200
        again = requests.get(kube.url + CONFIG_MAP, timeout=5).json()["metadata"]
        assert again["resourceVersion"] == version
