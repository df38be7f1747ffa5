"""The /resources PromQL builders, as strings: server-side aggregation, escaping, tagged unions."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from analytics.prom import promql
from analytics.prom import queries_resources as q

ROOT = Path(__file__).resolve().parents[2]


def test_quote_escapes_backslash_quote_and_line_breaks() -> None:
    assert promql.quote("plain") == '"plain"'
    assert promql.quote('a"b') == '"a\\"b"'
    assert promql.quote("a\\b") == '"a\\\\b"'
    assert promql.quote("a\nb\rc") == '"a\\nb\\rc"'
    # A value cannot close the string and inject a selector.
    injected = promql.quote('x"} or vector(1) or up{a="')
    assert injected.count('"') - injected.count('\\"') == 2


def test_select_and_scope_matchers() -> None:
    assert q.select("up") == "up"
    assert q.select("up", "", 'job="a"') == 'up{job="a"}'
    scope = q.PodScope(namespace="ns", pod='p"1', node="n")
    assert scope.matchers() == ['namespace="ns"', 'pod="p\\"1"', 'node="n"']
    assert scope.matchers(node=False) == ['namespace="ns"', 'pod="p\\"1"']
    assert q.ALL_PODS.matchers() == []


def test_tagged_union_labels_each_part() -> None:
    union = promql.tagged({"a": "vector(1)", "b": "sum(up)"}, q.TAG)
    assert union == (
        'label_replace(vector(1), "part", "a", "", "") or label_replace(sum(up), "part", "b", "", "")'
    )
    with pytest.raises(ValueError):
        promql.tagged({}, q.TAG)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(86400, "1d"), (7200, "2h"), (5400, "90m"), (45, "45s"), (3 * 86400, "3d"), (61, "61s")],
)
def test_durations_use_the_largest_exact_unit(seconds: int, text: str) -> None:
    assert promql.duration(seconds) == text


def test_duration_must_be_positive() -> None:
    with pytest.raises(ValueError):
        promql.duration(0)


def _parts(query: str) -> dict[str, str]:
    """part name -> its expression, from a tagged union."""
    found = re.findall(r'label_replace\((.*?), "part", "([^"]+)", "", ""\)(?: or |$)', query)
    return {name: expr for expr, name in found}


def test_pod_parts_aggregate_per_pod_and_exclude_pod_level_cadvisor_series() -> None:
    parts = q.pod_parts(q.PodScope(namespace="model-serving"))
    assert parts["cpu_cores"] == (
        "sum by (namespace, pod) (rate(container_cpu_usage_seconds_total"
        '{container!="",container!="POD",namespace="model-serving"}[5m]))'
    )
    assert parts["memory_bytes"] == (
        "sum by (namespace, pod) (container_memory_working_set_bytes"
        '{container!="",container!="POD",namespace="model-serving"})'
    )
    assert parts["phase"] == (
        'max by (namespace, pod, phase) (kube_pod_status_phase{namespace="model-serving"} == 1)'
    )
    assert parts["info"] == (
        "max by (namespace, pod, node, uid, pod_ip, host_ip, created_by_kind, created_by_name) "
        '(kube_pod_info{namespace="model-serving"})'
    )
    assert parts["limit_count"] == (
        "count by (namespace, pod, resource) (kube_pod_container_resource_limits"
        '{resource=~"cpu|memory",namespace="model-serving"})'
    )
    assert parts["gpu_devices"] == (
        "count by (namespace, pod) (max by (namespace, pod, uuid, mig_uuid) "
        '(gpu_pod_allocation_info{namespace="model-serving"}))'
    )
    assert parts["claims"] == (
        "max by (namespace, pod, claim_namespace, claim_name) "
        '(gpu_pod_allocation_info{claim_name!="",namespace="model-serving"})'
    )
    assert set(_parts(q.pods(q.PodScope(namespace="model-serving")))) == set(parts)


def test_device_utilization_never_copies_a_shared_device_value() -> None:
    expr = q.device_utilization([], "namespace, pod")
    # The device's own value is joined only for whole GPUs held exclusively.
    assert (
        'max by (namespace, pod, uuid, mig_uuid) (gpu_pod_allocation_info{sharing="exclusive",'
        'mig_uuid=""}) * on (uuid) group_left () max by (uuid) (gpu_utilization_ratio)'
    ) in expr
    # Everything else comes from the pod's own per-process samples.
    assert expr.endswith(
        "or sum by (namespace, pod, uuid, mig_uuid) (gpu_pod_sm_utilization_ratio)"
    )


def test_a_node_scope_joins_kube_state_metrics_pod_series_with_kube_pod_info() -> None:
    parts = q.pod_parts(q.PodScope(node="gpu-worker-1"))
    assert parts["created"] == (
        "(max by (namespace, pod) (kube_pod_created)) and on (namespace, pod) "
        'max by (namespace, pod) (kube_pod_info{node="gpu-worker-1"})'
    )
    assert 'kube_pod_info{node="gpu-worker-1"}' in parts["info"]
    assert 'node="gpu-worker-1"' in parts["cpu_cores"]
    assert parts["node_allocatable"] == (
        'max by (node, resource) (kube_node_status_allocatable{resource=~"cpu|memory",'
        'node="gpu-worker-1"})'
    )


def test_node_parts_count_pods_and_serving_engines_per_node() -> None:
    parts = _parts(q.nodes())
    assert parts["pods_total"] == (
        "count by (node) (max by (node, namespace, pod) (kube_pod_info))"
    )
    assert parts["pods_running"] == (
        "count by (node) (max by (node, namespace, pod) (kube_pod_info) * on (namespace, pod) "
        'group_left () max by (namespace, pod) (kube_pod_status_phase{phase="Running"} == 1))'
    )
    assert parts["serving"] == (
        "count by (node, model_type) (max by (node, namespace, pod, model_type) "
        "(gpu_model_serving_info))"
    )
    assert parts["capacity"] == (
        'max by (node, resource) (kube_node_status_capacity{resource=~"cpu|memory|nvidia_com_gpu"})'
    )
    assert parts["gpu_util"] == "avg by (node) (max by (node, uuid) (gpu_utilization_ratio))"
    assert 'node="a\\"b"' in q.nodes('a"b')


def test_namespaces_count_each_device_once_per_namespace() -> None:
    parts = _parts(q.namespaces())
    assert parts["gpu_devices"] == (
        "count by (namespace) (max by (namespace, uuid, mig_uuid) (gpu_pod_allocation_info))"
    )
    assert parts["gpu_shared"] == (
        "count by (namespace) (max by (namespace, uuid, mig_uuid) "
        '(gpu_pod_allocation_info{sharing="shared",mig_uuid=""}))'
    )
    assert 'phase=~"Running|Pending"' in parts["cpu_requests"]


def test_health_thresholds_are_in_the_query() -> None:
    parts = _parts(q.health(900, 600, 3))
    assert parts["pending"].endswith("> 900")
    assert parts["restarting"] == (
        "sum by (namespace, pod) (increase(kube_pod_container_status_restarts_total[10m])) >= 3"
    )
    assert parts["target"] == "max by (job, instance) (up)"


def test_statistics_read_the_minutely_rules_only() -> None:
    parts = _parts(q.window_statistics(86400))
    assert set(parts) == {f"{n}/{s}" for n in q.STATISTICS_RULES for s in ("avg", "max", "now")}
    rule = q.STATISTICS_RULES["cpu"]
    assert parts["cpu/avg"] == f"avg_over_time({rule}[86400s])"
    assert parts["cpu/max"] == f"max_over_time({rule}[86400s])"
    assert parts["cpu/now"] == f"last_over_time({rule}[300s])"
    # Recorded series only: no raw cAdvisor or exporter series at request time.
    rules = "|".join(re.escape(r) for r in q.STATISTICS_RULES.values())
    for expr in parts.values():
        assert re.fullmatch(rf"(avg|max|last)_over_time\(({rules})\[\d+s\]\)", expr), expr


def test_statistics_rules_are_the_recording_rules_group() -> None:
    groups = yaml.safe_load((ROOT / "alerts" / "recording-rules.yml").read_text())["groups"]
    (group,) = [g for g in groups if g["name"] == "cluster-statistics"]
    assert group["interval"] == f"{q.STATISTICS_INTERVAL_SECONDS // 60}m"
    assert [r["record"] for r in group["rules"]] == [
        q.CPU_CORES_RULE,
        q.MEMORY_BYTES_RULE,
        *q.STATISTICS_RULES.values(),
    ]


def test_source_freshness_checks_each_source() -> None:
    parts = _parts(q.source_freshness())
    assert parts["cadvisor/age"] == "time() - max(timestamp(container_cpu_usage_seconds_total))"
    assert parts["kube-state-metrics/series"] == "count(kube_pod_info)"
