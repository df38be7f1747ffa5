"""Where the chart's pods run: affinity, node selectors, tolerations and the disruption budget."""

from __future__ import annotations

from typing import Any

import pytest

from tests.chart.chart import ALL_SWITCHES, POSTGRESQL_3, render

GPU_NODES = {
    "nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [
                {
                    "matchExpressions": [
                        {"key": "nvidia.com/gpu.present", "operator": "In", "values": ["true"]}
                    ]
                }
            ]
        }
    }
}
GPU_TAINT = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
SPREAD = {
    "podAntiAffinity": {
        "preferredDuringSchedulingIgnoredDuringExecution": [
            {
                "weight": 100,
                "podAffinityTerm": {
                    "topologyKey": "kubernetes.io/hostname",
                    "labelSelector": {"matchLabels": {"app.kubernetes.io/component": "analytics"}},
                },
            }
        ]
    }
}


def _pod(values: dict[str, Any], kind: str) -> dict[str, Any]:
    spec: dict[str, Any] = render(values).one(kind)["spec"]["template"]["spec"]
    return spec


def test_the_default_exporter_affinity_is_gpu_nodes_and_analytics_has_none() -> None:
    assert _pod({}, "DaemonSet")["affinity"] == GPU_NODES
    assert "affinity" not in _pod({}, "Deployment")


def test_exporter_affinity_is_passed_through_and_can_be_dropped() -> None:
    values = {"exporter": {"affinity": {"nodeAffinity": None, **SPREAD}}}
    assert _pod(values, "DaemonSet")["affinity"] == SPREAD
    assert "affinity" not in _pod({"exporter": {"affinity": None}}, "DaemonSet")


def test_another_node_affinity_replaces_the_gpu_label() -> None:
    terms = [{"matchExpressions": [{"key": "gpu", "operator": "Exists"}]}]
    values = {
        "exporter": {
            "affinity": {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": terms}
                }
            }
        }
    }
    affinity = _pod(values, "DaemonSet")["affinity"]
    assert affinity["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"] == {
        "nodeSelectorTerms": terms
    }


def test_analytics_affinity_reaches_the_deployment_and_the_migration_job() -> None:
    values = {**POSTGRESQL_3, "analytics": {**POSTGRESQL_3["analytics"], "affinity": SPREAD}}
    assert _pod(values, "Deployment")["affinity"] == SPREAD
    assert _pod(values, "Job")["affinity"] == SPREAD


def test_the_exporter_tolerates_the_gpu_taint_by_default_and_analytics_nothing() -> None:
    assert _pod({}, "DaemonSet")["tolerations"] == [GPU_TAINT]
    assert "tolerations" not in _pod({}, "Deployment")


def test_tolerations_are_overridable() -> None:
    custom = [{"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoExecute"}]
    assert _pod({"exporter": {"tolerations": custom}}, "DaemonSet")["tolerations"] == custom
    assert "tolerations" not in _pod({"exporter": {"tolerations": []}}, "DaemonSet")
    assert _pod({"analytics": {"tolerations": custom}}, "Deployment")["tolerations"] == custom


@pytest.mark.parametrize("kind", ["DaemonSet", "Deployment"])
def test_node_selectors_are_passed_through(kind: str) -> None:
    spec = render(ALL_SWITCHES).one(kind)["spec"]["template"]["spec"]
    assert spec["nodeSelector"] == {"kubernetes.io/os": "linux"}


def test_no_disruption_budget_for_one_replica_unless_asked() -> None:
    assert not render({}).of_kind("PodDisruptionBudget")
    budget = render({"analytics": {"podDisruptionBudget": {"enabled": True}}}).one(
        "PodDisruptionBudget"
    )
    # One replica: maxUnavailable 1, so a node drain can still evict it.
    assert budget["spec"]["maxUnavailable"] == 1 and "minAvailable" not in budget["spec"]


def test_replicas_get_a_disruption_budget_selecting_the_analytics_pods() -> None:
    rendered = render(POSTGRESQL_3)
    budget = rendered.one("PodDisruptionBudget")
    pod_labels = rendered.one("Deployment")["spec"]["template"]["metadata"]["labels"]
    selector = budget["spec"]["selector"]["matchLabels"]
    assert selector["app.kubernetes.io/component"] == "analytics"
    assert all(pod_labels[key] == value for key, value in selector.items())
    assert budget["spec"]["maxUnavailable"] == 1


def test_min_available_replaces_max_unavailable() -> None:
    budget = render(ALL_SWITCHES).one("PodDisruptionBudget")
    assert budget["spec"]["minAvailable"] == 2 and "maxUnavailable" not in budget["spec"]
    values = {"analytics": {"podDisruptionBudget": {"enabled": True, "minAvailable": "50%"}}}
    assert render(values).one("PodDisruptionBudget")["spec"]["minAvailable"] == "50%"


def test_zero_is_a_value_not_an_absence() -> None:
    values = {"analytics": {"podDisruptionBudget": {"enabled": True, "maxUnavailable": 0}}}
    assert render(values).one("PodDisruptionBudget")["spec"]["maxUnavailable"] == 0
    values = {"analytics": {"podDisruptionBudget": {"enabled": True, "minAvailable": 0}}}
    assert render(values).one("PodDisruptionBudget")["spec"]["minAvailable"] == 0
