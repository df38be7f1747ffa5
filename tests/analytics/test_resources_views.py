"""From Prometheus rows to the /resources views: usage definitions, units, duplicates, ranking."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from analytics.prom import Sample
from analytics.services.cluster.service import (
    ClaimRef,
    PodView,
    assemble_namespaces,
    assemble_nodes,
    assemble_pod_detail,
    assemble_pods,
    bytes_quantity,
    cpu_quantity,
    quantity,
    summarise,
    top_pods,
)
from analytics.services.kernel.numbers import percent

GIB = 1024**3
T = datetime(2026, 3, 1, 12, 0, tzinfo=UTC).timestamp()


def row(part: str, value: float = 1.0, **labels: str) -> Sample:
    return Sample({"part": part, **labels}, value, T)


def rows(*samples: Sample) -> dict[str, list[Sample]]:
    found: dict[str, list[Sample]] = {}
    for s in samples:
        found.setdefault(s.labels["part"], []).append(s)
    return found


def pod_rows(name: str, *extra: Sample, containers: int = 2) -> list[Sample]:
    ids = {"namespace": "ns", "pod": name}
    return [
        row("info", node="n1", uid=f"uid-{name}", **ids),
        row("phase", phase="Running", **ids),
        row("created", T - 3600, **ids),
        row("containers", float(containers), **ids),
        *extra,
    ]


ALLOCATABLE = [
    row("node_allocatable", 30.0, node="n1", resource="cpu"),
    row("node_allocatable", 120.0 * GIB, node="n1", resource="memory"),
]


def test_cpu_percent_uses_the_limit_only_when_every_container_sets_one() -> None:
    ids = {"namespace": "ns"}
    found = assemble_pods(
        rows(
            *ALLOCATABLE,
            # a: both containers limited to 1 core each -> 2 cores.
            *pod_rows(
                "a",
                row("cpu_cores", 1.0, pod="a", **ids),
                row("limit_sum", 2.0, pod="a", resource="cpu", **ids),
                row("limit_count", 2.0, pod="a", resource="cpu", **ids),
                row("request_sum", 0.5, pod="a", resource="cpu", **ids),
            ),
            # b: one of two containers limited -> unbounded: the request.
            *pod_rows(
                "b",
                row("cpu_cores", 1.0, pod="b", **ids),
                row("limit_sum", 1.0, pod="b", resource="cpu", **ids),
                row("limit_count", 1.0, pod="b", resource="cpu", **ids),
                row("request_sum", 0.8, pod="b", resource="cpu", **ids),
            ),
            # c: neither limits nor requests -> the node's allocatable CPU.
            *pod_rows("c", row("cpu_cores", 3.0, pod="c", **ids)),
        )
    )
    by_name = {p.name: p for p in found}
    assert by_name["a"].cpu_usage_percent == 50.0
    assert by_name["b"].cpu_usage_percent == 125.0  # above its request, as it may be
    assert by_name["c"].cpu_usage_percent == 10.0
    assert by_name["c"].creation_time == datetime(2026, 3, 1, 11, 0, tzinfo=UTC)


def test_memory_percent_and_units() -> None:
    ids = {"namespace": "ns", "pod": "m"}
    (pod,) = assemble_pods(
        rows(
            *ALLOCATABLE,
            *pod_rows(
                "m",
                row("memory_bytes", 3 * GIB, **ids),
                row("limit_sum", 8.0 * GIB, resource="memory", **ids),
                row("limit_count", 1.0, resource="memory", **ids),
                containers=1,
            ),
        )
    )
    assert pod.memory_usage_percent == 37.5
    assert pod.memory_usage_gb == 3.0
    assert pod.cpu_usage_percent is None and pod.cpu_usage_cores is None


def test_gpu_percent_is_the_mean_of_devices_with_their_own_value() -> None:
    ids = {"namespace": "ns"}
    found = assemble_pods(
        rows(
            *pod_rows(
                "two-gpus",
                row("gpu_util_sum", 1.5, pod="two-gpus", **ids),
                row("gpu_util_count", 2.0, pod="two-gpus", **ids),
                row("gpu_devices", 2.0, pod="two-gpus", **ids),
            ),
            # Only a MIG instance: no utilisation of its own exists.
            *pod_rows("mig-only", row("gpu_devices", 1.0, pod="mig-only", **ids)),
            *pod_rows("no-gpu"),
        )
    )
    by_name = {p.name: p for p in found}
    assert (by_name["two-gpus"].gpu_usage_percent, by_name["two-gpus"].gpu_busy) == (75.0, 1.5)
    assert by_name["mig-only"].gpu_usage_percent is None
    assert by_name["mig-only"].gpu_count == 1
    assert (by_name["no-gpu"].gpu_usage_percent, by_name["no-gpu"].gpu_count) == (None, 0)


def test_claims_are_listed_once_each_and_devices_without_one_have_none() -> None:
    ids = {"namespace": "ns"}
    claim = {"claim_namespace": "ns", "pod": "dra"}
    (pod,) = assemble_pods(
        rows(
            *pod_rows(
                "dra",
                row("claims", claim_name="train-b", **claim, **ids),
                row("claims", claim_name="train-a", **claim, **ids),
            )
        )
    )
    assert pod.claims == (ClaimRef("train-a", "ns"), ClaimRef("train-b", "ns"))

    device = {"container": "main", "node": "n1", "sharing": "exclusive"}
    detail = assemble_pod_detail(
        pod,
        rows(
            row(
                "allocation",
                gpu="0",
                uuid="GPU-a",
                resource="gpu.nvidia.com",
                **device,
                claim_name="train-a",
                claim_namespace="ns",
            ),
            # A device-plugin GPU: empty claim labels, or none at all from an older exporter.
            row(
                "allocation",
                gpu="1",
                uuid="GPU-b",
                resource="nvidia.com/gpu",
                **device,
                claim_name="",
                claim_namespace="",
            ),
            row("allocation", gpu="2", uuid="GPU-c", resource="nvidia.com/gpu", **device),
        ),
    )
    assert [(g.gpu_uuid, g.claim) for g in detail.gpus] == [
        ("GPU-a", ClaimRef("train-a", "ns")),
        ("GPU-b", None),
        ("GPU-c", None),
    ]


def test_a_label_change_does_not_duplicate_a_pod_or_node() -> None:
    ids = {"namespace": "ns", "pod": "p"}
    pods = assemble_pods(
        rows(
            row("info", node="", pod_ip="", **ids), row("info", node="n1", pod_ip="10.0.0.9", **ids)
        )
    )
    assert len(pods) == 1 and pods[0].node_name == "n1" and pods[0].phase == "Unknown"
    nodes = assemble_nodes(
        rows(
            row("info", node="n1", kernel_version="6.1"),
            row("info", node="n1", kernel_version="6.8"),
        )
    )
    assert len(nodes) == 1 and nodes[0].kernel_version == "6.8"


def test_nodes_status_role_capacity_and_usage() -> None:
    nodes = assemble_nodes(
        rows(
            row("info", node="n1"),
            row("info", node="n2"),
            row("info", node="n3"),
            row("role", node="n2", role="control-plane"),
            row("role", node="n2", role="etcd"),
            row("condition", node="n1", condition="Ready", status="true"),
            row("condition", node="n2", condition="Ready", status="false"),
            row("capacity", 32.0, node="n1", resource="cpu"),
            row("capacity", 128.0 * GIB, node="n1", resource="memory"),
            row("capacity", 8.0, node="n1", resource="nvidia_com_gpu"),
            row("allocatable", 31.5, node="n1", resource="cpu"),
            row("allocatable", 100.0 * GIB, node="n1", resource="memory"),
            row("cpu_cores", 6.3, node="n1"),
            row("memory_bytes", 25.0 * GIB, node="n1"),
            row("gpu_util", 0.75, node="n1"),
            row("gpu_util_count", 8.0, node="n1"),
            row("gpu_util", 0.25, node="n2"),
            row("gpu_util_count", 2.0, node="n2"),
            row("pods_total", 24.0, node="n1"),
            row("pods_running", 22.0, node="n1"),
            row("serving", 8.0, node="n1", model_type="vllm"),
            row("serving", 4.0, node="n1", model_type="sglang"),
            row("serving", 1.0, node="n1", model_type="tgi"),
        )
    )
    n1, n2, n3 = nodes
    assert (n1.role, n1.status, n2.role, n2.status, n3.status) == (
        "worker",
        "Ready",
        "control-plane,etcd",
        "NotReady",
        "Unknown",
    )
    assert (n1.cpu_capacity, n1.memory_capacity, n1.gpu_capacity) == ("32", "128Gi", "8")
    assert (n1.cpu_allocatable, n1.memory_allocatable) == ("31500m", "100Gi")
    assert (n1.cpu_usage_percent, n1.memory_usage_percent, n1.gpu_usage_percent) == (
        20.0,
        25.0,
        75.0,
    )
    assert (n1.total_pod_count, n1.running_pod_count, n1.vllm_pod_count) == (24, 22, 8)
    assert n1.model_serving_pod_counts == {"sglang": 4, "tgi": 1, "vllm": 8}
    assert (n3.cpu_capacity, n3.gpu_capacity, n3.cpu_usage_percent) == (None, "0", None)
    summary = summarise([], nodes)
    assert (summary.total_nodes, summary.ready_nodes) == (3, 1)
    # GPUs weigh equally: (8 x 75 + 2 x 25) / 10.
    assert summary.avg_gpu_usage == 65.0
    assert summary.avg_cpu_usage == 20.0  # n2 and n3 have no value


def test_namespaces_share_of_the_cluster() -> None:
    (view,) = assemble_namespaces(
        rows(
            row("pods", 3.0, namespace="ml"),
            row("running", 2.0, namespace="ml"),
            row("cpu_cores", 4.0, namespace="ml"),
            row("memory_bytes", 16.0 * GIB, namespace="ml"),
            row("gpu_devices", 3.0, namespace="ml"),
            row("gpu_whole", 1.0, namespace="ml"),
            row("gpu_mig", 1.0, namespace="ml"),
            row("gpu_shared", 1.0, namespace="ml"),
            row("cluster_allocatable", 40.0, resource="cpu"),
            row("cluster_allocatable", 64.0 * GIB, resource="memory"),
        )
    )
    assert (view.pod_count, view.running_pod_count, view.serving_pod_count) == (3, 2, 0)
    assert (view.cpu_usage_percent, view.memory_usage_percent, view.memory_usage_gb) == (
        10.0,
        25.0,
        16.0,
    )
    assert (view.gpu_devices, view.whole_gpus, view.mig_instances, view.shared_gpus) == (3, 1, 1, 1)
    assert view.gpu_usage_percent is None


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        (32, "core", "32"),
        (0.25, "core", "250m"),
        (31.36, "core", "31360m"),
        (128 * 1024**3, "byte", "128Gi"),
        (512 * 1024**2, "byte", "512Mi"),
        (1000, "byte", "1000"),
        (2, "integer", "2"),
    ],
)
def test_quantities_are_written_as_kubernetes_writes_them(
    value: float, unit: str, text: str
) -> None:
    assert quantity(value, unit) == text


def test_percent_rounds_to_one_decimal_and_knows_unknowns() -> None:
    assert percent(0.4567) == 45.7
    assert percent(3, 4) == 75.0
    assert percent(None) is None and percent(1, 0) is None and percent(1, None) is None
    assert cpu_quantity(8.0) == "8" and bytes_quantity(0) == "0"


def _pod(name: str, cores: float | None, gib: float | None, busy: float | None) -> PodView:
    return PodView(
        name=name,
        namespace="ns",
        node_name="n1",
        phase="Running",
        model_type=None,
        model_name=None,
        cpu_usage_percent=None,
        memory_usage_percent=None,
        gpu_usage_percent=None,
        creation_time=None,
        cpu_usage_cores=cores,
        memory_usage_gb=gib,
        gpu_count=1,
        gpu_busy=busy,
    )


def test_top_pods_rank_by_absolute_use_and_skip_unknowns() -> None:
    pods = [_pod("a", 1.0, 4.0, None), _pod("b", 3.0, 1.0, 1.8), _pod("c", None, 9.0, 0.5)]
    cpu = top_pods(pods, "cpu", 10)
    assert [(t.rank, t.pod.name, t.usage_value, t.usage_unit) for t in cpu] == [
        (1, "b", 3.0, "cores"),
        (2, "a", 1.0, "cores"),
    ]
    assert [t.pod.name for t in top_pods(pods, "memory", 2)] == ["c", "a"]
    assert [(t.pod.name, t.usage_value) for t in top_pods(pods, "gpu", 10)] == [
        ("b", 1.8),
        ("c", 0.5),
    ]
