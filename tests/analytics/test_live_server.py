"""Against a real gunicorn (`gpu-analytics serve`, several workers): the seed's scenarios,
no double allocation under concurrency, rate limits shared by all workers, the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from threading import Barrier

import pytest
import requests

from tests.analytics.conftest import ADMIN, LiveServerFactory, assert_error
from tests.conftest import ROOT


def register_fleet(api: str, nodes: int, gpus: int, model: str = "A100_80GB") -> None:
    with requests.Session() as session:
        for node in range(1, nodes + 1):
            for index in range(gpus):
                response = session.post(
                    f"{api}/gpu/devices",
                    json={"nodeName": f"gpu-worker-{node}", "modelId": model, "deviceIndex": index},
                    headers=ADMIN,
                    timeout=10,
                )
                assert response.status_code == 201, response.text


def test_seed_scenarios_10_1_and_10_2(live_server: LiveServerFactory) -> None:
    server = live_server(workers=2)
    api = server.api
    register_fleet(api, nodes=1, gpus=2)

    # 10.1 step 1-3: available GPUs, allocate one for vLLM, check the allocation.
    available = requests.get(f"{api}/gpu/devices?status=available", timeout=10).json()
    assert len(available["data"]) == 2
    response = requests.post(
        f"{api}/gpu/allocations",
        headers={"Content-Type": "application/json", **ADMIN},
        data="""{
            "namespace": "model-serving",
            "podName": "vllm-llama2-7b",
            "workloadType": "Inference",
            "requiredMemoryGb": 30,
            "useMig": false,
            "userId": "ml-engineer-1",
            "teamId": "ml-team"
        }""",
        timeout=10,
    )
    assert response.status_code == 201, response.text
    vllm = response.json()["data"]
    assert vllm["resourceType"] == "GPU"
    assert vllm["status"] == "ALLOCATED"
    listed = requests.get(f"{api}/gpu/allocations?namespace=model-serving", timeout=10).json()
    assert [a["allocationId"] for a in listed["data"]] == [vllm["allocationId"]]
    assert listed["data"][0]["podName"] == "vllm-llama2-7b"

    # 10.2 step 1-4 on the GPU left: MIG-capable devices, layout, free instances, allocate.
    a100s = requests.get(f"{api}/gpu/devices?modelId=A100_80GB", timeout=10).json()["data"]
    assert all(d["migSupport"] for d in a100s)
    free_gpu = next(d["deviceId"] for d in a100s if not d["allocated"])
    response = requests.post(
        f"{api}/gpu/mig/devices/{free_gpu}",
        headers={"Content-Type": "application/json", **ADMIN},
        data='{"profileIds": ["1g.10gb", "2g.20gb", "4g.40gb"]}',
        timeout=10,
    )
    assert response.status_code == 201, response.text
    available_mig = requests.get(f"{api}/gpu/mig/available", timeout=10).json()["data"]
    assert sorted(i["profile"] for i in available_mig) == ["1g.10gb", "2g.20gb", "4g.40gb"]
    response = requests.post(
        f"{api}/gpu/allocations",
        headers={"Content-Type": "application/json", **ADMIN},
        data="""{
            "namespace": "development",
            "podName": "jupyter-notebook",
            "workloadType": "Development",
            "useMig": true,
            "requiredMemoryGb": 10
        }""",
        timeout=10,
    )
    assert response.status_code == 201, response.text
    notebook = response.json()["data"]
    assert notebook["resourceType"] == "MIG_INSTANCE"
    assert notebook["allocatedResource"].startswith(f"{free_gpu}-MIG-")
    assert notebook["allocatedMemoryGb"] == 10
    assert notebook["resourceState"] == "PENDING"
    assert notebook["kubernetes"]["resourceName"] == "nvidia.com/mig-1g.10gb"

    # 11.1: health and metric names through the seed's relative path.
    health = requests.get(f"{api}/../actuator/health", timeout=10).json()
    assert health["status"] == "UP"
    names = requests.get(f"{api}/../actuator/metrics", timeout=10).json()["names"]
    assert any("gpu" in name for name in names)


@pytest.mark.databases
def test_concurrent_allocations_never_share_a_resource(live_server: LiveServerFactory) -> None:
    server = live_server(workers=3, rate_limit_authenticated_per_minute="100000")
    register_fleet(server.api, nodes=2, gpus=4)  # 8 GPUs for 24 clients
    clients = 24
    barrier = Barrier(clients)

    def grab(index: int) -> tuple[int, str | None]:
        with requests.Session() as session:
            barrier.wait(timeout=30)
            response = session.post(
                f"{server.api}/gpu/allocations",
                json={"namespace": "load", "podName": f"pod-{index}", "requiredMemoryGb": 10},
                headers=ADMIN,
                timeout=30,
            )
            body = response.json()
            resource = body["data"]["allocatedResource"] if response.status_code == 201 else None
            return response.status_code, resource

    with ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(grab, range(clients)))
    codes = Counter(code for code, _ in results)
    assert codes == {201: 8, 409: 16}, codes
    granted = [resource for code, resource in results if code == 201 and resource]
    assert len(set(granted)) == 8
    live = requests.get(f"{server.api}/gpu/allocations", timeout=10).json()["data"]
    assert sorted(a["allocatedResource"] for a in live) == sorted(granted)


def test_rate_limit_holds_across_workers(live_server: LiveServerFactory) -> None:
    server = live_server(workers=3, rate_limit_anonymous_per_minute="30")
    with ThreadPoolExecutor(6) as pool:
        responses = list(
            pool.map(lambda _: requests.get(f"{server.api}/gpu/devices", timeout=10), range(45))
        )
    codes = Counter(r.status_code for r in responses)
    # A minute boundary may fall inside the burst and open a fresh window.
    assert codes[200] in (30, 45) and codes[200] + codes[429] == 45, codes
    if codes[429]:
        limited = next(r for r in responses if r.status_code == 429)
        assert_error(limited, 429, "RATE_LIMIT_EXCEEDED")
        assert int(limited.headers["Retry-After"]) >= 1
        assert limited.headers["X-RateLimit-Remaining"] == "0"
    # Requests are counted in every worker, so /metrics (multiprocess) sees all of them.
    metrics = requests.get(f"{server.url}/metrics", timeout=10).text
    total = sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("gpu_analytics_http_requests_total{")
        and 'route="/k8s-monitor/api/v1/gpu/devices"' in line
    )
    assert total == 45


def test_cli_creates_a_key_that_the_server_accepts(
    live_server: LiveServerFactory, tmp_path: Path
) -> None:
    server = live_server(workers=2)
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("GPU_ANALYTICS_")},
        "GPU_ANALYTICS_DATA_DIR": str(server.data_dir),
    }
    result = subprocess.run(
        [sys.executable, "-m", "analytics", "create-api-key", "--role", "operator", "--name", "ci"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    key = result.stdout.strip()
    assert key.startswith("gak_") and "\n" not in key
    assert key not in result.stderr
    response = requests.post(
        f"{server.api}/gpu/devices",
        json={"nodeName": "gpu-worker-9", "modelId": "L4", "deviceIndex": 0},
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    )
    assert response.status_code == 201
    database = server.data_dir / "analytics.db"
    assert key.encode() not in database.read_bytes()
