"""The chart as a dependency of another chart: Helm hands it the parent's `global` values, which
its schema must accept, and it takes the shared image registry and pull secrets from there."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import helm_python as helm
import kubernetes_validate
import pytest
import yaml

from tests.chart.chart import CHART, KUBE_VERSION, NAMESPACE

PARENT_VALUES: dict[str, Any] = {
    "global": {
        "imageRegistry": "registry.example.com/mirror",
        "imagePullSecrets": [{"name": "mirror-pull"}],
        # The parent's own globals, which mean nothing to this chart.
        "storageClass": "fast-ssd",
        "postgresql": {"auth": {"database": "platform"}},
    },
    "k8s-gpu-management": {
        "imagePullSecrets": [{"name": "regcred"}],
        "monitoring": {"prometheusRule": {"enabled": True}},
    },
}


@pytest.fixture
def parent(tmp_path: Path) -> Path:
    """A platform chart that depends on this one, vendored under charts/ as `helm dep` does."""
    root = tmp_path / "platform"
    (root / "templates").mkdir(parents=True)
    (root / "Chart.yaml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v2",
                "name": "platform",
                "version": "1.0.0",
                "dependencies": [
                    {
                        "name": "k8s-gpu-management",
                        "version": yaml.safe_load((CHART / "Chart.yaml").read_text())["version"],
                    }
                ],
            }
        )
    )
    (root / "values.yaml").write_text(yaml.safe_dump({"global": {"storageClass": ""}}))
    (root / "templates" / "namespace-note.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: platform\n"
        "  namespace: {{ .Release.Namespace }}\ndata:\n  storageClass: {{ .Values.global.storageClass | quote }}\n"
    )
    shutil.copytree(CHART, root / "charts" / "k8s-gpu-management")
    return root


def _render(parent: Path, values: dict[str, Any]) -> list[dict[str, Any]]:
    rendered = helm.Chart.load(parent).render(
        values, name="platform", namespace=NAMESPACE, is_install=True
    )
    objects = []
    for template, text in sorted(rendered.items()):
        if template.endswith("NOTES.txt"):
            continue
        objects += [doc for doc in yaml.safe_load_all(text) if doc]
    return objects


def test_the_chart_renders_as_a_subchart_with_the_parents_globals(parent: Path) -> None:
    objects = _render(parent, PARENT_VALUES)
    kinds = {obj["kind"] for obj in objects}
    assert {"DaemonSet", "Deployment", "PrometheusRule", "ConfigMap"} <= kinds
    for obj in objects:
        if obj["apiVersion"].startswith("monitoring.coreos.com/"):
            continue
        kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)
    workloads = [obj for obj in objects if obj["kind"] in ("DaemonSet", "Deployment")]
    assert len(workloads) == 2
    for workload in workloads:
        spec = workload["spec"]["template"]["spec"]
        assert spec["imagePullSecrets"] == [{"name": "regcred"}, {"name": "mirror-pull"}]
        for container in spec["containers"]:
            assert container["image"].startswith("registry.example.com/mirror/gpu-")


def test_the_subcharts_schema_still_rejects_unknown_keys(parent: Path) -> None:
    values = {**PARENT_VALUES, "k8s-gpu-management": {"exporter": {"perprocess": True}}}
    with pytest.raises(helm.HelmValuesError, match="'perprocess' not allowed"):
        _render(parent, values)


def test_the_parent_lints_clean(parent: Path) -> None:
    report = helm.lint(
        parent,
        PARENT_VALUES,
        strict=True,
        namespace=NAMESPACE,
        with_subcharts=True,
        kube_version=KUBE_VERSION,
    )
    problems = [m for m in report["messages"] if m["severity"] >= 2]
    assert problems == [] and report["errors"] == [], report
