"""Every operation of the served OpenAPI document has an SDK method, called here against the
demo stack (real gunicorn, Prometheus, exporters), with typed results that mirror the API's
fields exactly (nothing left over in ``extra``)."""

from __future__ import annotations

from typing import Any

from k8s_gpu_client import AllocationRequest, GpuManagementClient
from k8s_gpu_client.models import (
    allocations,
    batch,
    devices,
    metrics,
    mig,
    resources,
)
from tests.sdk.recording import (
    API_PREFIX,
    Recorder,
    assert_mirrors,
    mirrored_models,
    openapi_operations,
)

# Areas other tests cover (test_cost.py, test_forecast.py, test_webhooks.py, test_accounts.py).
OTHER_AREAS = (
    "/api-keys",
    "/auth/token",
    "/gpu/cost",
    "/gpu/forecast",
    "/resources/forecast",
    "/users",
    "/webhooks",
    "/alerts/alertmanager",
)


def core_operations(document: dict[str, Any]) -> set[tuple[str, str]]:
    """(method, full path template) of every operation outside the areas tested elsewhere."""
    return {
        (m, p)
        for m, p in openapi_operations(document)
        if not p.removeprefix(API_PREFIX).startswith(OTHER_AREAS)
    }


def test_every_core_operation_through_the_sdk(
    api_base: str, admin_key: str, openapi: dict[str, Any], recorder: Recorder
) -> None:
    client = GpuManagementClient(base_url=api_base, api_key=admin_key, session=recorder.session)
    reads: list[Any] = []
    fleet = client.devices.list()
    assert len(fleet) >= 32 and {d.node_name for d in fleet} >= {"gpu-worker-1", "gpu-worker-4"}
    reads += [fleet, client.devices.get("gpu-worker-1-GPU-00")]
    reads += [client.devices.statistics(), client.devices.overheating()]
    reads += [client.devices.health("gpu-worker-3-GPU-01")]
    reads += [
        client.mig.get("gpu-worker-1-GPU-04"),
        client.mig.available(),
        client.mig.statistics(),
    ]
    reads += [client.allocations.list(), client.allocations.expiring(hours=168)]
    reads += [client.allocations.cost_statistics(), client.allocations.reconciliation()]
    pods = client.resources.pods(namespace="model-serving")
    assert pods and all(p.model_type in {"vllm", "sglang"} for p in pods)
    reads += [pods, client.resources.all_pods(), client.resources.top_pods(resource_type="cpu")]
    reads += [client.resources.pod(pods[0].namespace or "", pods[0].name or "")]
    nodes = client.resources.nodes()
    assert sorted(n.name or "" for n in nodes) == [f"gpu-worker-{i}" for i in range(1, 5)]
    reads += [nodes, client.resources.node("gpu-worker-3"), client.resources.usage()]
    reads += [client.resources.namespaces(), client.resources.statistics(hours=1)]
    reads += [client.resources.health(), client.resources.alerts()]
    reads += [client.resources.metrics_status()]
    usage = client.metrics.usage_statistics(hours=1)
    assert usage.device_statistics["gpu-worker-1-GPU-00"].avg_gpu_utilization is not None
    reads += [usage, client.metrics.overheating_alerts(hours=24)]
    reads += [client.metrics.collection_status(), client.metrics.collect()]
    overview = client.cluster.overview()
    assert overview.total_gpu_devices == len(fleet) and overview.devices_by_model["H100_80GB"] == 8
    reads += [overview, client.cluster.health()]
    for result in reads:
        assert_mirrors(result)

    # Writes, each undone: a device parked in MAINTENANCE, a MIG layout, allocations.
    registered = client.devices.register(
        node_name="sdk-node-1", model_id="L4", device_index=0, purchase_cost=2500.0
    )
    assert registered.device_id == "sdk-node-1-GPU-00" and registered.purchase_cost == 2500.0
    parked = client.devices.update_status("sdk-node-1-GPU-00", "MAINTENANCE")
    assert parked.device_status == "MAINTENANCE"
    layout = client.mig.create("gpu-worker-3-GPU-07", ["1g.10gb", "2g.20gb"])
    try:
        assert sorted(i.profile or "" for i in layout.instances) == ["1g.10gb", "2g.20gb"]
        one = client.allocations.create(
            namespace="sdk-tests", pod_name="one", required_memory_gb=8, use_mig=True
        )
        many = client.batch.allocations(
            [
                {"namespace": "sdk-tests", "podName": "b1", "requiredMemoryGb": 20},
                AllocationRequest(
                    namespace="sdk-tests", pod_name="b2", required_memory_gb=5, use_mig=True
                ),
            ]
        )
        try:
            assert client.allocations.get(one.allocation_id or "").history
            assert [a.pod_name for a in many.allocations] == ["b1", "b2"]
            assert_mirrors([one, many])
        finally:
            for allocation in [one, *many.allocations]:
                released = client.allocations.release(allocation.allocation_id or "")
                assert released.status == "RELEASED"
    finally:
        client.mig.delete("gpu-worker-3-GPU-07")
    collected = client.batch.collect_metrics(["gpu-worker-1"], time_range="1h")
    assert collected.nodes[0].status == "OK" and collected.nodes[0].gpu_metrics is not None
    assert_mirrors(collected)

    templates = core_operations(openapi)
    missing = templates - recorder.operations(templates)
    assert missing == set(), f"operations no SDK call reached: {sorted(missing)}"
    assert all(status < 400 for _m, _p, status in recorder.calls), recorder.calls


def test_models_mirror_the_openapi_schemas(openapi: dict[str, Any]) -> None:
    modules = (devices, mig, allocations, metrics, batch, resources)
    assert sum(mirrored_models(module, openapi) for module in modules) >= 60


def test_unknown_fields_and_odd_values_land_in_extra() -> None:
    device = devices.Device.from_api(
        {"deviceId": "x", "memoryGb": 80, "deviceIndex": "zero", "registeredAt": "soon", "new": 1}
    )
    assert device.device_id == "x" and device.memory_gb == 80.0
    assert device.device_index is None and device.registered_at is None
    assert device.extra == {"deviceIndex": "zero", "registeredAt": "soon", "new": 1}
    assert device.to_api()["new"] == 1 and device.to_api()["deviceIndex"] == "zero"
