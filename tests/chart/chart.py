"""Render the Helm chart with Helm's own engine (helm-python-sdk) and parse what it renders."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import helm_python as helm
import kubernetes_validate
import yaml

ROOT = Path(__file__).resolve().parent.parent.parent
CHART = ROOT / "charts" / "k8s-gpu-management"
RELEASE = "k8s-gpu-management"
NAMESPACE = "gpu-management"
# The newest Kubernetes version whose OpenAPI schemas the installed kubernetes-validate ships.
KUBE_VERSION = kubernetes_validate.latest_version()

# The value sets every structural test runs on (besides the defaults).
MINIMAL: dict[str, Any] = {
    # Only the exporter, with neither the kubelet socket nor the API: the non-root path.
    "exporter": {"podResources": {"enabled": False}, "kubernetesApi": False},
    "analytics": {"enabled": False},
}
FULL_MONITORING: dict[str, Any] = {
    "commonLabels": {"team": "ml-platform"},
    "imagePullSecrets": [{"name": "regcred"}],
    "exporter": {
        "runtimeClassName": "nvidia",
        "perProcess": True,
        "expectedDevices": 8,
        "resourcePrefixes": ["nvidia.com/", "example.com/"],
        "priorityClassName": "system-node-critical",
        "extraEnv": [{"name": "EXTRA", "value": "1"}],
    },
    "analytics": {
        "workers": 4,
        "workerClass": "gthread",
        "threads": 2,
        "accessLog": True,
        "trustedProxies": 1,
        "migApply": {"enabled": True},
        "priceOverrides": {"H100_80GB": 4, "A100_80GB": 2.5},
        "prometheus": {
            "url": "http://kube-prometheus-stack-prometheus.monitoring.svc:9090",
            "orgId": "gpu",
            "flavor": "victoriametrics",
            "bearerTokenSecret": {"name": "prometheus-token", "key": "token"},
        },
        "persistence": {"storageClassName": "fast-ssd", "size": "5Gi"},
        "extraEnv": [
            {
                "name": "GPU_ANALYTICS_MAX_REQUEST_BYTES",
                "valueFrom": {"configMapKeyRef": {"name": "limits", "key": "bytes"}},
            }
        ],
    },
    "ingress": {
        "enabled": True,
        "className": "nginx",
        "host": "gpu.example.com",
        "tlsSecretName": "gpu-tls",
        "annotations": {"cert-manager.io/cluster-issuer": "letsencrypt"},
    },
    "networkPolicy": {
        "enabled": True,
        "apiFrom": [{"namespaceSelector": {"matchLabels": {"name": "ingress-nginx"}}}],
        "metricsFrom": [
            {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
        ],
    },
    "monitoring": {
        "additionalLabels": {"release": "kube-prometheus-stack"},
        "serviceMonitor": {"enabled": True, "interval": "15s", "scrapeTimeout": "10s"},
        "prometheusRule": {"enabled": True},
        "dashboards": {
            "enabled": True,
            "namespace": "monitoring",
            "annotations": {"grafana_folder": "GPU"},
        },
    },
}
POSTGRESQL_3: dict[str, Any] = {
    "analytics": {
        "replicas": 3,
        "database": {"type": "postgresql", "postgresql": {"existingSecret": "gpu-analytics-db"}},
        "adminApiKey": {"existingSecret": "gpu-admin", "key": "key"},
    },
    "monitoring": {
        "podMonitor": {
            "enabled": True,
            "relabelings": [{"action": "labeldrop", "regex": "container"}],
            "metricRelabelings": [
                {"sourceLabels": ["__name__"], "regex": "gpu_process_.*", "action": "drop"}
            ],
            "scheme": "https",
            "tlsConfig": {"insecureSkipVerify": True},
            "basicAuth": {
                "username": {"name": "scrape", "key": "username"},
                "password": {"name": "scrape", "key": "password"},
            },
        }
    },
}
# Every switch on at once: the chart's CI values file.
ALL_SWITCHES_FILE = CHART / "ci" / "all-switches-values.yaml"
ALL_SWITCHES: dict[str, Any] = yaml.safe_load(ALL_SWITCHES_FILE.read_text())
VALUE_SETS: dict[str, dict[str, Any]] = {
    "default": {},
    "minimal": MINIMAL,
    "full-monitoring": FULL_MONITORING,
    "postgresql-3": POSTGRESQL_3,
    "all-switches": ALL_SWITCHES,
}


class _UniqueKeyLoader(yaml.SafeLoader):
    """A YAML loader that refuses duplicate mapping keys (the API server would keep one)."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    keys = [loader.construct_object(key) for key, _ in node.value]
    duplicates = {key for key in keys if keys.count(key) > 1}
    if duplicates:
        raise yaml.constructor.ConstructorError(
            None, None, f"duplicate keys {sorted(duplicates)}", node.start_mark
        )
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_mapping,
)


@dataclass
class Rendered:
    """One rendering: the objects by (kind, name), the template each came from, and NOTES.txt."""

    objects: list[dict[str, Any]] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    notes: str = ""

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [obj for obj in self.objects if obj["kind"] == kind]

    def one(self, kind: str, name: str | None = None) -> dict[str, Any]:
        found = [o for o in self.of_kind(kind) if name is None or o["metadata"]["name"] == name]
        assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
        return found[0]

    def names(self, kind: str) -> set[str]:
        return {obj["metadata"]["name"] for obj in self.of_kind(kind)}


@functools.cache
def _chart() -> helm.Chart:
    return helm.Chart.load(CHART)


def render_raw(values: dict[str, Any]) -> dict[str, str]:
    return _chart().render(values, name=RELEASE, namespace=NAMESPACE, is_install=True)


def render(values: dict[str, Any]) -> Rendered:
    """Render like `helm install k8s-gpu-management charts/k8s-gpu-management -n gpu-management`."""
    result = Rendered()
    for template, text in sorted(render_raw(values).items()):
        if template.endswith("NOTES.txt"):
            result.notes = text
            continue
        for document in _documents(text):
            result.objects.append(document)
            result.sources.append(template)
    return result


def _documents(text: str) -> Iterator[dict[str, Any]]:
    for document in yaml.load_all(text, Loader=_UniqueKeyLoader):
        if document is not None:
            assert isinstance(document, dict), f"a rendered document is not an object: {document!r}"
            yield document


def containers(workload: dict[str, Any]) -> list[dict[str, Any]]:
    return list(workload["spec"]["template"]["spec"]["containers"])


def env_of(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in container.get("env", [])}
