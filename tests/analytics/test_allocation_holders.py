"""The allocator respects what Kubernetes already did: a GPU or MIG instance the exporter shows
held by another pod is never reserved for a new one, and a pod that already holds a resource
gets that one. Real Prometheus (the shared history stack on test-small.yaml), real SQLite."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from analytics import create_app
from analytics.settings import Secret, Settings
from analytics.store import holders as holder_store
from devstack.stack import Stack
from tests.analytics.conftest import ADMIN, ADMIN_KEY, API, assert_error
from tests.stack_fixtures import history_stack

__all__ = ["history_stack"]  # the fixture, imported for pytest

VLLM = ("model-serving", "vllm-llama2-7b-chat-hf-6d8f9b8b8-abc12")  # holds GPU 1 (H100)
NOTEBOOK = ("development", "jupyter-alice-0")  # holds a MIG instance of GPU 0
SGLANG = ("model-serving", "sglang-qwen2-7b-instruct-6f8d7c5b9-t7y6u")  # another of GPU 0


@pytest.fixture
def synced(history_stack: Stack, tmp_path: Path) -> FlaskClient:
    app: Flask = create_app(
        Settings(
            data_dir=tmp_path,
            prometheus_url=history_stack.prometheus_url,
            admin_api_key=Secret(ADMIN_KEY),
            sync_interval_seconds=0,
            forecast_warmup=False,
            rate_limit_storage="memory",
        )
    )
    client = app.test_client()
    response = client.post(f"{API}/gpu/metrics/collect", headers=ADMIN)
    assert response.status_code == 200, response.get_data(as_text=True)
    return client


def allocate(client: FlaskClient, pod: tuple[str, str], memory: float, mig: bool) -> Any:
    return client.post(
        f"{API}/gpu/allocations",
        json={
            "namespace": pod[0],
            "podName": pod[1],
            "workloadType": "Inference",
            "requiredMemoryGb": memory,
            "useMig": mig,
        },
        headers=ADMIN,
    )


def test_whole_gpus_held_by_pods_are_not_offered_to_others(synced: FlaskClient) -> None:
    # GPU 1 is the vLLM pod's, GPU 2 is time-sliced between two pods, GPU 0 is in MIG mode.
    assert_error(
        allocate(synced, ("default", "newcomer"), 20, False), 409, "INSUFFICIENT_RESOURCES"
    )
    mine = allocate(synced, VLLM, 20, False)
    assert mine.status_code == 201, mine.get_data(as_text=True)
    assert mine.get_json()["data"]["deviceId"] == "sim-node-1-GPU-01"


def test_mig_instances_go_to_their_holders_and_the_free_one_to_a_newcomer(
    synced: FlaskClient,
) -> None:
    newcomer = allocate(synced, ("default", "newcomer"), 5, True)
    assert newcomer.status_code == 201, newcomer.get_data(as_text=True)
    notebook = allocate(synced, NOTEBOOK, 5, True)
    sglang = allocate(synced, SGLANG, 5, True)
    assert notebook.status_code == 201 and sglang.status_code == 201
    chosen = [r.get_json()["data"] for r in (newcomer, notebook, sglang)]
    assert {c["deviceId"] for c in chosen} == {"sim-node-1-GPU-00"}
    assert len({c["allocatedResource"] for c in chosen}) == 3, chosen
    # Each holder got the instance the exporter shows it holding; the newcomer the free one.
    database = synced.application.extensions["gpu_analytics.database"]
    with database.read() as conn:
        held = holder_store.holders_by_resource(conn)
    assert NOTEBOOK in held[chosen[1]["allocatedResource"]]
    assert SGLANG in held[chosen[2]["allocatedResource"]]
    assert chosen[0]["allocatedResource"] not in held
    # Every instance is now reserved (one free, two by their holders): nothing is left.
    assert_error(allocate(synced, ("default", "late"), 5, True), 409, "INSUFFICIENT_RESOURCES")


def test_every_view_calls_free_what_the_allocator_would_give(synced: FlaskClient) -> None:
    """Held by a pod is not free, in the device list, its filter and statistics, and the MIG
    views alike: what they offer is exactly what allocations then get (issue 15, finding 8)."""
    database = synced.application.extensions["gpu_analytics.database"]
    with database.read() as conn:
        held = holder_store.holders_by_resource(conn)
    devices = synced.get(f"{API}/gpu/devices").get_json()["data"]
    by_id = {d["deviceId"]: d for d in devices}
    holds_gpu = {r for r in held if "-MIG-" not in r}
    holds_slice = {r.split("-MIG-")[0] for r in held if "-MIG-" in r}
    assert holds_gpu and holds_slice, held
    for device_id in holds_gpu | holds_slice:
        assert by_id[device_id]["allocated"] is True, by_id[device_id]
    available = synced.get(f"{API}/gpu/devices", query_string={"status": "available"})
    offered = {d["deviceId"] for d in available.get_json()["data"]}
    assert offered == {d["deviceId"] for d in devices if not d["allocated"]}
    assert not offered & (holds_gpu | holds_slice)
    statistics = synced.get(f"{API}/gpu/devices/statistics").get_json()["data"]
    assert statistics["allocatedDevices"] == sum(d["allocated"] for d in devices)

    free_mig = synced.get(f"{API}/gpu/mig/available").get_json()["data"]
    free_ids = {i["instanceId"] for i in free_mig}
    assert not free_ids & set(held)
    mig_statistics = synced.get(f"{API}/gpu/mig/statistics").get_json()["data"]
    assert mig_statistics["freeInstances"] == len(free_ids)
    # A newcomer gets each offered instance, and then nothing more.
    given = set()
    for number in range(len(free_ids)):
        response = allocate(synced, ("default", f"newcomer-{number}"), 1, True)
        assert response.status_code == 201, response.get_data(as_text=True)
        given.add(response.get_json()["data"]["allocatedResource"])
    assert given == free_ids
    assert_error(allocate(synced, ("default", "late"), 1, True), 409, "INSUFFICIENT_RESOURCES")
