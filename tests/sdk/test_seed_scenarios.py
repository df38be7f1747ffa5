"""The seed's scenarios against the demo stack (node names gpu-worker-1 ... as in the seed):
section 7.1's Python snippet unchanged apart from base_url and api_key; the curl commands of
10.1, then 10.2, then 10.3 as written (an auth header added to the writes), one after another
with nothing undone in between, each step a success; the examples/ scripts. Each test undoes
what it allocated or carved once it is done. (The 7.1 snippet on a fleet without any MIG layout,
where MIG on demand carves a GPU: tests/integration/test_mig_on_demand.py.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

from k8s_gpu_client import GpuManagementClient
from tests.conftest import ROOT

# Seed section 7.1, verbatim but for the two values the test fills in.
SNIPPET_7_1 = """\
from k8s_gpu_client import GpuManagementClient

# 클라이언트 초기화
client = GpuManagementClient(
    base_url="http://your-server:8080/k8s-monitor/api/v1",
    api_key="your-api-key"
)

# GPU 장비 조회
devices = client.devices.list()

# GPU 할당
allocation = client.allocations.create(
    namespace="model-serving",
    pod_name="vllm-pod",
    workload_type="Inference",
    required_memory_gb=20,
    use_mig=True
)

# 비용 분석
cost_analysis = client.cost.analyze(days=30)
"""

AUTH = ' -H "Authorization: Bearer ${API_KEY}"'

# Seed section 10, command by command as written; POSTs get AUTH after their first line.
SCENARIO_10_1 = [
    'curl -X GET "${API_BASE}/gpu/devices?status=available"',
    """curl -X POST "${API_BASE}/gpu/allocations" \\
  -H "Content-Type: application/json" \\
  -d '{
    "namespace": "model-serving",
    "podName": "vllm-llama2-7b",
    "workloadType": "Inference",
    "requiredMemoryGb": 30,
    "useMig": false,
    "userId": "ml-engineer-1",
    "teamId": "ml-team"
  }'""",
    'curl -X GET "${API_BASE}/gpu/allocations?namespace=model-serving"',
    'curl -X GET "${API_BASE}/gpu/metrics/usage-statistics?hours=1"',
    'curl -X GET "${API_BASE}/gpu/cost/analysis?days=1"',
]
SCENARIO_10_2 = [
    'curl -X GET "${API_BASE}/gpu/devices?modelId=A100_80GB"',
    """curl -X POST "${API_BASE}/gpu/mig/devices/gpu-worker-1-GPU-00" \\
  -H "Content-Type: application/json" \\
  -d '{
    "profileIds": ["1g.10gb", "2g.20gb", "4g.40gb"]
  }'""",
    'curl -X GET "${API_BASE}/gpu/mig/available"',
    """curl -X POST "${API_BASE}/gpu/allocations" \\
  -H "Content-Type: application/json" \\
  -d '{
    "namespace": "development",
    "podName": "jupyter-notebook",
    "workloadType": "Development",
    "useMig": true,
    "requiredMemoryGb": 10
  }'""",
]
SCENARIO_10_3 = [
    'curl -X GET "${API_BASE}/gpu/cost/analysis?days=30"',
    'curl -X GET "${API_BASE}/gpu/cost/optimization"',
    'curl -X GET "${API_BASE}/gpu/devices?status=available"',
    'curl -X GET "${API_BASE}/gpu/allocations/expiring?hours=168"',
    'curl -X GET "${API_BASE}/gpu/allocations/cost-statistics"',
]


def with_auth(command: str) -> str:
    if not command.startswith("curl -X POST"):
        return command
    first, _, rest = command.partition(" \\\n")
    return f"{first}{AUTH} \\\n{rest}"


def run_curl(command: str, api_base: str, api_key: str) -> tuple[int, dict[str, Any]]:
    """One seed command through bash; the status code is appended with curl's own -w."""
    script = with_auth(command) + " -sS -w '\\n%{http_code}'"
    environment = {**os.environ, "API_BASE": api_base, "API_KEY": api_key}
    result = subprocess.run(
        ["bash", "-c", script],
        check=False,
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    body, _, status = result.stdout.rpartition("\n")
    return int(status), json.loads(body)


def run_scenario(commands: list[str], api_base: str, api_key: str) -> list[Any]:
    answers: list[Any] = []
    for step, command in enumerate(commands, start=1):
        status, body = run_curl(command, api_base, api_key)
        assert 200 <= status < 300 and body["status"] == "success", (step, status, body)
        answers.append(body["data"])
    return answers


def release_pod(client: GpuManagementClient, namespace: str, pod_name: str) -> None:
    """Undo a scenario's allocations even when it failed half-way."""
    for allocation in client.allocations.list(namespace=namespace):
        if allocation.pod_name == pod_name:
            client.allocations.release(allocation.allocation_id or "")


def carved_devices(client: GpuManagementClient) -> set[str]:
    """Devices with MIG instances now (desired or observed)."""
    return {d.device_id or "" for d in client.devices.list() if d.mig_instance_count}


def test_snippet_7_1_runs_unchanged(
    api_base: str, admin_key: str, client: GpuManagementClient
) -> None:
    before = carved_devices(client)
    snippet = SNIPPET_7_1.replace("http://your-server:8080/k8s-monitor/api/v1", api_base)
    snippet = snippet.replace('"your-api-key"', repr(admin_key))
    assert snippet.count(api_base) == 1 and snippet.count(admin_key) == 1
    report = """
import json
print(json.dumps({
    "devices": [d.to_api() for d in devices],
    "allocation": allocation.to_api(),
    "cost": cost_analysis.to_api(),
}))
"""
    result = subprocess.run(
        [sys.executable, "-c", snippet + report],
        cwd=ROOT,
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    try:
        assert result.returncode == 0, result.stderr
        out = json.loads(result.stdout)
        assert len(out["devices"]) >= 32
        assert {d["nodeName"] for d in out["devices"]} >= {f"gpu-worker-{i}" for i in range(1, 5)}
        assert any(d["currentTempC"] is not None for d in out["devices"])  # live from Prometheus
        allocation = out["allocation"]
        assert allocation["resourceType"] == "MIG_INSTANCE" and allocation["status"] == "ALLOCATED"
        assert allocation["allocatedMemoryGb"] >= 20 and allocation["podName"] == "vllm-pod"
        assert out["cost"]["monthlyCost"] > 0 and out["cost"]["costByNamespace"]
    finally:
        release_pod(client, "model-serving", "vllm-pod")
        # MIG on demand may have carved a GPU for it: undo that too.
        for device_id in carved_devices(client) - before:
            client.mig.delete(device_id)


def test_scenarios_10_1_10_2_10_3_in_order(
    api_base: str, admin_key: str, client: GpuManagementClient
) -> None:
    """As a new user runs section 10: each scenario on what the one before left."""
    try:
        available, allocation, listed, usage, cost = run_scenario(
            SCENARIO_10_1, api_base, admin_key
        )
        assert available and all(not d["allocated"] for d in available)
        assert allocation["resourceType"] == "GPU" and allocation["allocatedMemoryGb"] >= 30
        assert allocation["allocationId"] in {a["allocationId"] for a in listed}
        assert usage["deviceStatistics"] and usage["timeRange"]
        assert cost["dailyCost"] > 0

        a100s, layout, available_mig, mig_allocation = run_scenario(
            SCENARIO_10_2, api_base, admin_key
        )
        assert a100s and all(d["migSupport"] for d in a100s)
        assert layout["deviceId"] == "gpu-worker-1-GPU-00"
        assert sorted(i["profile"] for i in layout["instances"]) == [
            "1g.10gb",
            "2g.20gb",
            "4g.40gb",
        ]
        new_ids = {i["instanceId"] for i in layout["instances"]}
        assert new_ids <= {i["instanceId"] for i in available_mig}
        assert mig_allocation["resourceType"] == "MIG_INSTANCE"
        assert mig_allocation["allocatedMemoryGb"] >= 10

        cost, optimization, idle, expiring, statistics = run_scenario(
            SCENARIO_10_3, api_base, admin_key
        )
        assert cost["monthlyCost"] > 0 and cost["costByNamespace"]
        assert isinstance(optimization["suggestions"], list)
        assert idle and isinstance(expiring, list)
        # The two allocations of 10.1 and 10.2 are in the ledger's cost statistics.
        assert statistics["activeAllocations"] >= 2
        assert "ml-team" in statistics["costByTeam"]
        assert allocation["allocationId"] in {
            a.allocation_id for a in client.allocations.list(namespace="model-serving")
        }
    finally:
        release_pod(client, "model-serving", "vllm-llama2-7b")
        release_pod(client, "development", "jupyter-notebook")
        if client.mig.get("gpu-worker-1-GPU-00").instances:
            client.mig.delete("gpu-worker-1-GPU-00")


@pytest.mark.parametrize(
    "script",
    ["quickstart.py", "vllm_deployment.py", "mig_management.py", "cost_optimization.py"],
)
def test_examples_run(
    script: str, api_base: str, admin_key: str, client: GpuManagementClient
) -> None:
    environment = {**os.environ, "API_BASE": api_base, "API_KEY": admin_key}
    arguments = [] if script == "cost_optimization.py" else ["--cleanup"]
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / script), *arguments],
        check=False,
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
    )
    try:
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip()
        if arguments:
            assert "released" in result.stdout
    finally:
        release_pod(client, "model-serving", "vllm-pod")
        release_pod(client, "model-serving", "vllm-llama2-7b")
        release_pod(client, "development", "jupyter-notebook")
        if client.mig.get("gpu-worker-1-GPU-00").instances:
            client.mig.delete("gpu-worker-1-GPU-00")
