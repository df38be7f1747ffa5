"""The chart renders with Helm's engine for every value set, lints clean, and every object is valid.

Core objects are validated by kubernetes-validate in strict mode (unknown fields are errors)
against the newest Kubernetes version it ships; Prometheus Operator objects, which have no
schema there, against the subset of their CRDs' schemas the chart uses.
"""

from __future__ import annotations

import copy

import helm_python as helm
import jsonschema
import kubernetes_validate
import pytest
from packaging.version import Version

from tests.chart.chart import CHART, KUBE_VERSION, NAMESPACE, VALUE_SETS, render
from tests.chart.monitoring_shapes import OPERATOR_SCHEMAS

LINT_ERROR = 3


def test_validation_is_against_a_current_kubernetes() -> None:
    assert Version(KUBE_VERSION) >= Version("1.33")


@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_lint_finds_no_error_or_warning(value_set: str) -> None:
    report = helm.lint(
        CHART, VALUE_SETS[value_set], strict=True, namespace=NAMESPACE, kube_version=KUBE_VERSION
    )
    assert report["total_charts_linted"] == 1
    problems = [m for m in report["messages"] if m["severity"] >= 2]
    assert problems == [] and report["errors"] == [], report


@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_every_object_is_valid_for_kubernetes(value_set: str) -> None:
    rendered = render(VALUE_SETS[value_set])
    assert rendered.objects
    for obj, source in zip(rendered.objects, rendered.sources, strict=True):
        where = f"{source}: {obj['kind']} {obj['metadata']['name']}"
        if obj["apiVersion"].startswith("monitoring.coreos.com/"):
            jsonschema.validate(obj, OPERATOR_SCHEMAS[obj["kind"]])
            continue
        try:
            kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            raise AssertionError(f"{where}: {exc}") from exc
        # Namespaced objects land in the release namespace (cluster RBAC has none), but for the
        # access to the mig-parted ConfigMap, which lives in the GPU operator's namespace.
        allowed = (NAMESPACE, "monitoring")
        if obj["kind"] in ("Role", "RoleBinding") and obj["metadata"]["name"].endswith(
            "-mig-config"
        ):
            allowed = ("gpu-operator",)
        if obj["kind"] not in ("ClusterRole", "ClusterRoleBinding"):
            assert obj["metadata"]["namespace"] in allowed, where


@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_object_names_are_unique_per_kind(value_set: str) -> None:
    rendered = render(VALUE_SETS[value_set])
    keys = [(o["kind"], o["metadata"]["name"]) for o in rendered.objects]
    assert len(keys) == len(set(keys))


def test_strict_validation_rejects_an_unknown_field() -> None:
    """The validator really is strict: a field Kubernetes does not know fails it."""
    deployment = copy.deepcopy(render({}).one("Deployment"))
    deployment["spec"]["template"]["spec"]["containers"][0]["bogusField"] = 1
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBE_VERSION, strict=True)


def test_operator_shapes_reject_a_missing_required_field() -> None:
    monitor = copy.deepcopy(render(VALUE_SETS["full-monitoring"]).of_kind("ServiceMonitor")[0])
    del monitor["spec"]["selector"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(monitor, OPERATOR_SCHEMAS["ServiceMonitor"])


def test_the_documented_install_names_the_deployment_for_the_seeds_troubleshooting() -> None:
    """`kubectl logs deployment/k8s-gpu-management -n gpu-management` finds the service."""
    rendered = render({})
    deployment = rendered.one("Deployment", "k8s-gpu-management")
    assert deployment["metadata"]["namespace"] == "gpu-management"
    assert "kubectl logs deployment/k8s-gpu-management -n gpu-management" in rendered.notes


def test_a_release_with_another_name_prefixes_its_objects() -> None:
    chart = helm.Chart.load(CHART)
    try:
        manifests = chart.render({}, name="gpu", namespace="ops")
    finally:
        chart.close()
    deployment = manifests["k8s-gpu-management/templates/analytics-deployment.yaml"]
    assert "name: gpu-k8s-gpu-management\n" in deployment
