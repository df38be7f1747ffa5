"""KubePodSource through the real ``kubernetes`` client against the simulated API server."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from exporter.kube import KubeError, KubePodSource, pod_info
from exporter.snapshot import PodInfo
from simulator.kubeapi import KubeApiServer

NODE = "gpu-node-1"


def container_id(seed: str) -> str:
    return (seed.encode().hex() * 64)[:64]


def container(
    name: str,
    image: str,
    *,
    command: list[str] | None = None,
    args: list[str] | None = None,
    gpus: int = 0,
) -> dict[str, Any]:
    """A container spec as the API server returns it."""
    limits: dict[str, str] = {"cpu": "4", "memory": "32Gi"}
    if gpus:
        limits["nvidia.com/gpu"] = str(gpus)
    spec: dict[str, Any] = {
        "name": name,
        "image": image,
        "resources": {"limits": limits, "requests": dict(limits)},
        "ports": [{"name": "http", "containerPort": 8000, "protocol": "TCP"}],
        "volumeMounts": [
            {
                "name": "kube-api-access-abcde",
                "readOnly": True,
                "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
            }
        ],
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
        "imagePullPolicy": "IfNotPresent",
    }
    if command is not None:
        spec["command"] = command
    if args is not None:
        spec["args"] = args
    return spec


def pod(
    name: str,
    namespace: str = "default",
    *,
    node: str = NODE,
    uid: str = "0f9e8d7c-6b5a-4938-a726-150493827160",
    phase: str = "Running",
    labels: dict[str, str] | None = None,
    containers: list[dict[str, Any]] | None = None,
    runtime: str = "containerd",
) -> dict[str, Any]:
    """A Pod as ``GET /api/v1/pods`` lists it, with the fields a real API server sends."""
    containers = containers or [container("main", "busybox:1.36", command=["sleep", "inf"])]
    owner = name.rsplit("-", 1)[0]
    statuses = [
        {
            "name": c["name"],
            "image": c["image"],
            "imageID": "docker.io/library/image@sha256:" + "ab" * 32,
            "containerID": f"{runtime}://{container_id(name + c['name'])}",
            "ready": phase == "Running",
            "restartCount": 0,
            "started": phase == "Running",
            "state": {"running": {"startedAt": "2025-08-03T10:30:05Z"}},
            "lastState": {},
        }
        for c in containers
    ]
    return {
        "metadata": {
            "name": name,
            "generateName": owner + "-",
            "namespace": namespace,
            "uid": uid,
            "resourceVersion": "123456",
            "creationTimestamp": "2025-08-03T10:30:00Z",
            "labels": labels if labels is not None else {"app": owner},
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "name": owner,
                    "uid": "11111111-2222-3333-4444-555555555555",
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": {
            "volumes": [
                {
                    "name": "kube-api-access-abcde",
                    "projected": {
                        "sources": [
                            {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}}
                        ],
                        "defaultMode": 420,
                    },
                }
            ],
            "containers": containers,
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30,
            "dnsPolicy": "ClusterFirst",
            "serviceAccountName": "default",
            "nodeName": node,
            "schedulerName": "default-scheduler",
            "tolerations": [
                {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
            ],
            "priority": 0,
        },
        "status": {
            "phase": phase,
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True" if phase == "Running" else "False",
                    "lastProbeTime": None,
                    "lastTransitionTime": "2025-08-03T10:30:06Z",
                }
            ],
            "hostIP": "10.0.0.11",
            "podIP": "10.244.1.17",
            "podIPs": [{"ip": "10.244.1.17"}],
            "startTime": "2025-08-03T10:30:00Z",
            "containerStatuses": statuses,
            "qosClass": "Burstable",
        },
    }


def cluster_pods() -> list[dict[str, Any]]:
    return [
        pod(
            "vllm-llama2-7b-chat-hf-6d8f9b8b8-abc12",
            "model-serving",
            uid="a1b2c3d4-0000-4000-8000-000000000001",
            labels={"app": "vllm-llama2-7b", "pod-template-hash": "6d8f9b8b8"},
            containers=[
                container(
                    "vllm",
                    "vllm/vllm-openai:v0.6.3",
                    args=[
                        "--model",
                        "meta-llama/Llama-2-7b-chat-hf",
                        "--gpu-memory-utilization=0.9",
                    ],
                    gpus=1,
                ),
                container("istio-proxy", "docker.io/istio/proxyv2:1.22.0", args=["proxy"]),
            ],
        ),
        pod(
            "sglang-qwen-7d9c-xyz89",
            "model-serving",
            uid="a1b2c3d4-0000-4000-8000-000000000002",
            phase="Pending",
            runtime="cri-o",
            containers=[
                container(
                    "server",
                    "lmsysorg/sglang:v0.3.5-cu124",
                    command=["python3", "-m", "sglang.launch_server"],
                    args=["--model-path", "Qwen/Qwen2-7B-Instruct", "--tp", "2"],
                    gpus=2,
                )
            ],
        ),
        pod(
            "trainer-0",
            "ml",
            uid="a1b2c3d4-0000-4000-8000-000000000003",
            phase="Succeeded",
            runtime="docker",
            containers=[container("trainer", "nvcr.io/nvidia/pytorch:24.08-py3", gpus=1)],
        ),
        pod(
            "web-5f6d-qq1",
            "default",
            node="cpu-node-7",
            uid="a1b2c3d4-0000-4000-8000-000000000004",
        ),
    ]


@pytest.fixture
def api() -> Iterator[KubeApiServer]:
    pods = cluster_pods()
    with KubeApiServer(
        lambda: {"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": pods}
    ) as server:
        yield server


@pytest.fixture
def source(api: KubeApiServer) -> Iterator[KubePodSource]:
    with KubePodSource(NODE, api_url=api.url, timeout_seconds=2.0) as pod_source:
        yield pod_source


def test_lists_only_the_pods_on_its_node(source: KubePodSource) -> None:
    pods = source.list_pods()
    assert [(p.namespace, p.name, p.phase) for p in pods] == [
        ("model-serving", "vllm-llama2-7b-chat-hf-6d8f9b8b8-abc12", "Running"),
        ("model-serving", "sglang-qwen-7d9c-xyz89", "Pending"),
        ("ml", "trainer-0", "Succeeded"),
    ]
    assert {p.node_name for p in pods} == {NODE}


def test_pods_carry_uid_labels_runtime_free_container_ids_and_model(
    source: KubePodSource,
) -> None:
    vllm, sglang, trainer = source.list_pods()
    assert vllm == PodInfo(
        namespace="model-serving",
        name="vllm-llama2-7b-chat-hf-6d8f9b8b8-abc12",
        uid="a1b2c3d4-0000-4000-8000-000000000001",
        phase="Running",
        node_name=NODE,
        labels={"app": "vllm-llama2-7b", "pod-template-hash": "6d8f9b8b8"},
        container_ids={
            "vllm": container_id("vllm-llama2-7b-chat-hf-6d8f9b8b8-abc12vllm"),
            "istio-proxy": container_id("vllm-llama2-7b-chat-hf-6d8f9b8b8-abc12istio-proxy"),
        },
        model_type="vllm",
        model_name="llama-2-7b-chat-hf",
    )
    assert (sglang.model_type, sglang.model_name) == ("sglang", "qwen2-7b-instruct")
    assert sglang.container_ids == {"server": container_id("sglang-qwen-7d9c-xyz89server")}
    assert (trainer.model_type, trainer.model_name) == (None, None)
    assert trainer.container_ids == {"trainer": container_id("trainer-0trainer")}


def test_containers_not_yet_started_have_no_id() -> None:
    pending = pod("p-1", phase="Pending")
    pending["status"]["containerStatuses"][0]["containerID"] = ""
    pending["status"]["initContainerStatuses"] = [
        {"name": "init", "containerID": "containerd://" + "f" * 64}
    ]
    assert pod_info(pending).container_ids == {"init": "f" * 64}
    assert pod_info({}) == PodInfo("", "", "", "Unknown", "")


def test_an_unreachable_api_server_is_a_kube_error() -> None:
    with KubeApiServer(lambda: {"items": []}) as server:
        url = server.url
    with KubePodSource(NODE, api_url=url, timeout_seconds=0.5) as pod_source:
        with pytest.raises(KubeError) as info:
            pod_source.list_pods()
        assert info.value.status is None


def test_an_api_error_is_a_kube_error_with_its_status() -> None:
    with (
        KubeApiServer(lambda: {"items": []}) as server,
        KubePodSource(NODE, api_url=server.url + "/no-such-prefix") as pod_source,
        pytest.raises(KubeError, match="HTTP 404") as info,
    ):
        pod_source.list_pods()
    assert info.value.status == 404


def test_a_missing_kubeconfig_is_a_kube_error(tmp_path: Any) -> None:
    with pytest.raises(KubeError, match="no usable Kubernetes configuration"):
        KubePodSource(NODE, kubeconfig=str(tmp_path / "missing-kubeconfig"))


def test_a_kubeconfig_file_is_honoured(api: KubeApiServer, tmp_path: Any) -> None:
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "sim", "cluster": {"server": api.url}}],
                "users": [{"name": "sim", "user": {"token": "t0ken"}}],
                "contexts": [{"name": "sim", "context": {"cluster": "sim", "user": "sim"}}],
                "current-context": "sim",
            }
        )
    )
    with KubePodSource(NODE, kubeconfig=str(kubeconfig)) as pod_source:
        assert len(pod_source.list_pods()) == 3


# -- the simulated API server's own contract -------------------------------------------------


def get(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.load(error)


def test_api_server_serves_namespaced_lists_single_pods_and_version(api: KubeApiServer) -> None:
    status, body = get(f"{api.url}/api/v1/namespaces/model-serving/pods")
    assert status == 200
    assert body["kind"] == "PodList"
    assert len(body["items"]) == 2

    status, body = get(f"{api.url}/api/v1/namespaces/ml/pods/trainer-0")
    assert (status, body["kind"], body["metadata"]["uid"]) == (
        200,
        "Pod",
        "a1b2c3d4-0000-4000-8000-000000000003",
    )

    status, body = get(f"{api.url}/version")
    assert (status, body["major"]) == (200, "1")


def test_api_server_answers_like_kubernetes_for_missing_pods(api: KubeApiServer) -> None:
    status, body = get(f"{api.url}/api/v1/namespaces/ml/pods/nope")
    assert status == 404
    assert body == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'pods "nope" not found',
        "reason": "NotFound",
        "details": {"name": "nope", "kind": "pods"},
        "code": 404,
    }


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ("fieldSelector=spec.nodeName%3Dcpu-node-7", ["web-5f6d-qq1"]),
        ("fieldSelector=status.phase%21%3DRunning", ["sglang-qwen-7d9c-xyz89", "trainer-0"]),
        ("fieldSelector=metadata.namespace%3D%3Dml", ["trainer-0"]),
        ("labelSelector=app%3Dweb-5f6d", ["web-5f6d-qq1"]),
        ("labelSelector=pod-template-hash", ["vllm-llama2-7b-chat-hf-6d8f9b8b8-abc12"]),
        (
            "labelSelector=%21pod-template-hash,app%21%3Dweb-5f6d",
            ["sglang-qwen-7d9c-xyz89", "trainer-0"],
        ),
    ],
)
def test_api_server_honours_selectors(api: KubeApiServer, query: str, names: list[str]) -> None:
    status, body = get(f"{api.url}/api/v1/pods?{query}")
    assert status == 200
    assert [item["metadata"]["name"] for item in body["items"]] == names


def test_api_server_refuses_unsupported_selectors(api: KubeApiServer) -> None:
    status, body = get(f"{api.url}/api/v1/pods?fieldSelector=spec.hostname%3Dx")
    assert (status, body["reason"]) == (400, "BadRequest")
