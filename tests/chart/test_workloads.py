"""What the chart's workloads do: GPU nodes only, no GPU requested, real flags and settings."""

from __future__ import annotations

import base64
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import helm_python as helm
import pytest
import yaml

from analytics.cli import build_parser as analytics_parser
from analytics.settings import ENV_PREFIX as ANALYTICS_PREFIX
from analytics.settings import Settings as AnalyticsSettings
from exporter.config import ENV_PREFIX as EXPORTER_PREFIX
from exporter.config import build_parser as exporter_parser
from exporter.config import load_settings
from tests.chart.chart import (
    FULL_MONITORING,
    MINIMAL,
    POSTGRESQL_3,
    ROOT,
    VALUE_SETS,
    containers,
    env_of,
    render,
    render_raw,
)
from tests.conftest import ExporterFactory, http_get

NODE = "gpu-node-7"


def _pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = workload["spec"]["template"]["spec"]
    return spec


def _resolve_env(container: dict[str, Any], secrets: dict[str, str]) -> dict[str, str]:
    """The container's environment as the kubelet would resolve it (Secrets from ``secrets``)."""
    resolved: dict[str, str] = {}
    for item in container.get("env", []):
        if "value" in item:
            resolved[item["name"]] = item["value"]
        elif "fieldRef" in item.get("valueFrom", {}):
            assert item["valueFrom"]["fieldRef"]["fieldPath"] == "spec.nodeName"
            resolved[item["name"]] = NODE
        elif "secretKeyRef" in item.get("valueFrom", {}):
            ref = item["valueFrom"]["secretKeyRef"]
            resolved[item["name"]] = secrets[f"{ref['name']}/{ref['key']}"]
    return resolved


def _scripts() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    scripts: dict[str, str] = project["project"]["scripts"]
    return scripts


# -- the exporter DaemonSet --------------------------------------------------------------------


@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_exporter_never_requests_a_gpu(value_set: str) -> None:
    daemonset = render(VALUE_SETS[value_set]).one("DaemonSet")
    for container in containers(daemonset):
        for kind in ("requests", "limits"):
            assert not any(
                name.startswith("nvidia.com/") for name in container["resources"].get(kind, {})
            )
        env = env_of(container)
        assert env["NVIDIA_VISIBLE_DEVICES"]["value"] == "all"
        assert env["NVIDIA_DRIVER_CAPABILITIES"]["value"] == "utility"


def test_exporter_runs_only_on_gpu_nodes_and_tolerates_their_taint() -> None:
    spec = _pod_spec(render({}).one("DaemonSet"))
    terms = spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert terms["nodeSelectorTerms"] == [
        {
            "matchExpressions": [
                {"key": "nvidia.com/gpu.present", "operator": "In", "values": ["true"]}
            ]
        }
    ]
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in spec[
        "tolerations"
    ]


def test_host_pid_only_with_per_process_attribution() -> None:
    assert "hostPID" not in _pod_spec(render({}).one("DaemonSet"))
    with_processes = render({"exporter": {"perProcess": True}}).one("DaemonSet")
    assert _pod_spec(with_processes)["hostPID"] is True
    env = env_of(containers(with_processes)[0])
    assert env["GPU_EXPORTER_PER_PROCESS"]["value"] == "true"


def test_runtime_class_is_optional() -> None:
    assert "runtimeClassName" not in _pod_spec(render({}).one("DaemonSet"))
    assert _pod_spec(render(FULL_MONITORING).one("DaemonSet"))["runtimeClassName"] == "nvidia"


def test_pod_resources_directory_is_mounted_read_only() -> None:
    daemonset = render({}).one("DaemonSet")
    (mount,) = [m for m in containers(daemonset)[0]["volumeMounts"] if m["name"] == "pod-resources"]
    assert mount == {
        "name": "pod-resources",
        "mountPath": "/var/lib/kubelet/pod-resources",
        "readOnly": True,
    }
    (volume,) = [v for v in _pod_spec(daemonset)["volumes"] if v["name"] == "pod-resources"]
    assert volume["hostPath"]["path"] == "/var/lib/kubelet/pod-resources"


def test_exporter_is_root_only_for_the_kubelet_socket() -> None:
    with_socket = _pod_spec(render({}).one("DaemonSet"))
    assert with_socket["securityContext"]["runAsUser"] == 0
    without = render(MINIMAL).one("DaemonSet")
    context = _pod_spec(without)["securityContext"]
    assert context["runAsNonRoot"] is True and context["runAsUser"] == 10001
    assert not [m for m in containers(without)[0]["volumeMounts"] if m["name"] == "pod-resources"]
    assert _pod_spec(without)["automountServiceAccountToken"] is False
    for spec in (with_socket, _pod_spec(without)):
        container = spec["containers"][0]["securityContext"]
        assert container["capabilities"] == {"drop": ["ALL"]}
        assert container["readOnlyRootFilesystem"] is True
        assert container["allowPrivilegeEscalation"] is False


def test_exporter_probes_use_healthz_on_the_metrics_port() -> None:
    (container,) = containers(render({}).one("DaemonSet"))
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "metrics"}


@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_exporter_environment_is_read_by_the_real_settings(value_set: str) -> None:
    """Every GPU_EXPORTER_* the chart sets is a real flag's twin, and parses to the values."""
    values = VALUE_SETS[value_set]
    (container,) = containers(render(values).one("DaemonSet"))
    assert container["image"].endswith(":0.1.0")
    assert "command" not in container  # the image's gpu-exporter
    # Arguments only for the web config (tests/chart/test_web_config.py).
    web_config = values.get("exporter", {}).get("webConfig", {}).get("existingSecret")
    assert ("args" in container) is bool(web_config)
    env = _resolve_env(container, {})
    flags = {
        EXPORTER_PREFIX + option.lstrip("-").replace("-", "_").upper()
        for action in exporter_parser({})._actions
        for option in action.option_strings
        if option.startswith("--")
    }
    chart_names = {name for name in env if name.startswith(EXPORTER_PREFIX)}
    assert chart_names <= flags, chart_names - flags
    settings = load_settings([], env)
    exporter = values.get("exporter", {})
    assert settings.node_name == NODE
    assert (settings.listen_host, settings.listen_port) == ("0.0.0.0", 9835)
    pod_resources = exporter.get("podResources", {}).get("enabled", True)
    expected_socket = "/var/lib/kubelet/pod-resources/kubelet.sock" if pod_resources else None
    assert settings.pod_resources_socket == expected_socket
    assert settings.kubernetes is exporter.get("kubernetesApi", True)
    assert settings.per_process is exporter.get("perProcess", False)
    assert settings.nvlink_per_link is exporter.get("nvlinkPerLink", False)
    assert settings.gpm is exporter.get("gpm", True)
    assert settings.expected_devices == exporter.get("expectedDevices", 0)
    assert settings.resource_prefixes == tuple(exporter.get("resourcePrefixes", ["nvidia.com/"]))
    assert settings.nvml_interval_seconds == 1.0
    assert settings.mig_refresh_seconds == 60.0
    port = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert port == {"metrics": settings.listen_port}


# -- the analytics Deployment ------------------------------------------------------------------


def test_sqlite_runs_one_replica_with_recreate_on_a_read_write_once_volume() -> None:
    rendered = render({})
    deployment = rendered.one("Deployment")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    claim = rendered.one("PersistentVolumeClaim")
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    (volume,) = [v for v in _pod_spec(deployment)["volumes"] if v["name"] == "data"]
    assert volume["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    (mount,) = [m for m in containers(deployment)[0]["volumeMounts"] if m["name"] == "data"]
    env = env_of(containers(deployment)[0])
    assert env["GPU_ANALYTICS_DATA_DIR"]["value"] == mount["mountPath"] == "/var/lib/gpu-analytics"
    assert env["GPU_ANALYTICS_RATE_LIMIT_STORAGE"]["value"] == "file"
    assert "GPU_ANALYTICS_DATABASE_URL" not in env


def test_sqlite_refuses_more_than_one_replica() -> None:
    with pytest.raises(
        helm.HelmRenderError, match=r"analytics.replicas=3 needs analytics.database.type=postgresql"
    ):
        render_raw({"analytics": {"replicas": 3}})


def test_postgresql_runs_n_replicas_rolling_with_the_url_from_a_secret() -> None:
    rendered = render(POSTGRESQL_3)
    deployment = rendered.one("Deployment")
    assert deployment["spec"]["replicas"] == 3
    assert deployment["spec"]["strategy"]["type"] == "RollingUpdate"
    assert not rendered.of_kind("PersistentVolumeClaim")
    env = env_of(containers(deployment)[0])
    assert env["GPU_ANALYTICS_DATABASE_URL"]["valueFrom"] == {
        "secretKeyRef": {"name": "gpu-analytics-db", "key": "database-url"}
    }
    assert env["GPU_ANALYTICS_RATE_LIMIT_STORAGE"]["value"] == "database"
    # An existing admin key Secret: the chart makes none.
    assert not rendered.of_kind("Secret")
    assert env["GPU_ANALYTICS_ADMIN_API_KEY"]["valueFrom"]["secretKeyRef"] == {
        "name": "gpu-admin",
        "key": "key",
    }


def test_postgresql_migrates_in_a_hook_job_before_the_replicas() -> None:
    job = render(POSTGRESQL_3).one("Job")
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    (container,) = containers(job)
    assert container["command"] == ["gpu-analytics", "migrate"]
    env = env_of(container)
    # It runs before the release's objects exist: no admin key, only the database.
    assert "GPU_ANALYTICS_ADMIN_API_KEY" not in env
    assert "secretKeyRef" in env["GPU_ANALYTICS_DATABASE_URL"]["valueFrom"]
    assert analytics_parser().parse_args(container["command"][1:]).command == "migrate"


def test_postgresql_without_a_secret_fails_with_a_message() -> None:
    with pytest.raises(helm.HelmRenderError, match="existingSecret is required"):
        render_raw({"analytics": {"database": {"type": "postgresql"}}})


@pytest.mark.parametrize("value_set", ["default", "full-monitoring", "postgresql-3"])
def test_analytics_runs_the_real_command_with_real_settings(value_set: str) -> None:
    values = VALUE_SETS[value_set]
    rendered = render(values)
    deployment = rendered.one("Deployment", "k8s-gpu-management")
    (container,) = containers(deployment)
    assert container["command"] == ["gpu-analytics"] and "gpu-analytics" in _scripts()
    args = analytics_parser().parse_args(container["args"])
    analytics = values.get("analytics", {})
    assert args.command == "serve"
    assert args.bind == "0.0.0.0:8080"
    assert args.workers == analytics.get("workers", 2)
    assert args.worker_class == analytics.get("workerClass", "buffered")
    assert args.threads == analytics.get("threads", 4)
    assert args.client_timeout == analytics.get("clientTimeoutSeconds", 10)
    assert args.access_log is analytics.get("accessLog", False)
    secrets = {
        "k8s-gpu-management-admin-key/admin-api-key": "admin-key",
        "gpu-admin/key": "admin-key",
        "gpu-analytics-db/database-url": "postgresql+psycopg://u:p@db:5432/gpu",
        "prometheus-token/token": "prom-token",
    }
    env = _resolve_env(container, secrets)
    names = {ANALYTICS_PREFIX + f.upper() for f in AnalyticsSettings.__dataclass_fields__}
    unknown = {n for n in env if n.startswith(ANALYTICS_PREFIX)} - names
    assert unknown == set()
    settings = AnalyticsSettings.load(env)
    assert settings.admin_api_key is not None and settings.admin_api_key.value == "admin-key"
    assert str(settings.data_dir) == "/var/lib/gpu-analytics"
    prometheus = analytics.get("prometheus", {})
    assert settings.prometheus_url == prometheus.get(
        "url", "http://prometheus-operated.monitoring.svc:9090"
    )
    assert settings.prometheus_org_id == prometheus.get("orgId", "")
    assert settings.prometheus_flavor == prometheus.get("flavor", "prometheus")
    if "bearerTokenSecret" in prometheus:
        assert settings.prometheus_bearer_token is not None
        assert settings.prometheus_bearer_token.value == "prom-token"
    assert dict(settings.price_overrides) == {
        k: float(v) for k, v in analytics.get("priceOverrides", {}).items()
    }
    assert settings.trusted_proxies == analytics.get("trustedProxies", 0)
    postgres = analytics.get("database", {}).get("type") == "postgresql"
    assert settings.database_url == (secrets["gpu-analytics-db/database-url"] if postgres else "")
    assert settings.rate_limit_storage == ("database" if postgres else "file")
    port = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert port == {"http": 8080}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert _pod_spec(deployment)["securityContext"]["runAsNonRoot"] is True


def test_admin_key_secret_is_generated_when_none_is_given() -> None:
    secret = render({}).one("Secret", "k8s-gpu-management-admin-key")
    key = base64.b64decode(secret["data"]["admin-api-key"]).decode()
    assert len(key) == 48 and key.isalnum()
    assert "admin-api-key" in render({}).notes


# -- RBAC ----------------------------------------------------------------------------------------


def _rules(rendered_values: dict[str, Any], name: str) -> list[dict[str, Any]]:
    role = render(rendered_values).one("ClusterRole", name)
    rules: list[dict[str, Any]] = role["rules"]
    return rules


def test_analytics_has_no_cluster_role_unless_mig_apply_patches_nodes() -> None:
    """The service reads Prometheus, not the API: only MIG apply grants it anything."""
    assert "k8s-gpu-management-analytics" not in render({}).names("ClusterRole")
    with_apply = _rules(
        {"analytics": {"migApply": {"enabled": True}}}, "k8s-gpu-management-analytics"
    )
    assert with_apply == [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["patch"]}]


def test_the_exporter_cluster_role_only_lists_and_only_with_the_kubernetes_api() -> None:
    exporter = _rules({}, "k8s-gpu-management-exporter")
    assert {verb for rule in exporter for verb in rule["verbs"]} == {"list"}
    assert {r for rule in exporter for r in rule["resources"]} == {"pods", "resourceslices"}
    assert not render({"exporter": {"kubernetesApi": False}}).of_kind("ClusterRole")


def test_mig_apply_writes_only_its_config_map_and_sets_the_settings() -> None:
    assert render({}).of_kind("Role") == []
    rendered = render(
        {"analytics": {"migApply": {"enabled": True, "configMap": "gpu-operator/mig-layouts"}}}
    )
    role = rendered.one("Role", "k8s-gpu-management-analytics-mig-config")
    assert role["metadata"]["namespace"] == "gpu-operator"
    assert role["rules"] == [
        {
            "apiGroups": [""],
            "resources": ["configmaps"],
            "resourceNames": ["mig-layouts"],
            "verbs": ["get", "update"],
        },
        {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["create"]},
    ]
    binding = rendered.one("RoleBinding", "k8s-gpu-management-analytics-mig-config")
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"][0]["namespace"] == "gpu-management"
    (container,) = containers(rendered.one("Deployment"))
    env = {name: item.get("value") for name, item in env_of(container).items()}
    settings = AnalyticsSettings.load({k: v for k, v in env.items() if v is not None})
    assert settings.mig_apply is True and settings.mig_on_demand is True
    assert settings.mig_config_map == "gpu-operator/mig-layouts"
    assert settings.kube_api_url == ""  # in the cluster: the service account


def test_role_bindings_name_the_service_accounts_the_pods_run_as() -> None:
    rendered = render({})
    accounts = rendered.names("ServiceAccount")
    for binding in rendered.of_kind("ClusterRoleBinding"):
        assert binding["roleRef"]["name"] in rendered.names("ClusterRole")
        for subject in binding["subjects"]:
            assert subject["name"] in accounts and subject["namespace"] == "gpu-management"
    for workload in rendered.of_kind("DaemonSet") + rendered.of_kind("Deployment"):
        assert _pod_spec(workload)["serviceAccountName"] in accounts


# -- network ---------------------------------------------------------------------------------------


def test_network_policies_admit_only_the_service_ports() -> None:
    policies = {p["metadata"]["name"]: p for p in render(FULL_MONITORING).of_kind("NetworkPolicy")}
    api = policies["k8s-gpu-management-analytics"]["spec"]["ingress"]
    assert api == [
        {
            "ports": [{"port": "http", "protocol": "TCP"}],
            "from": [{"namespaceSelector": {"matchLabels": {"name": "ingress-nginx"}}}],
        }
    ]
    metrics = policies["k8s-gpu-management-exporter"]["spec"]["ingress"]
    assert metrics[0]["ports"] == [{"port": "metrics", "protocol": "TCP"}]
    assert not render({}).of_kind("NetworkPolicy")


def test_ingress_routes_the_api_prefix_to_the_service() -> None:
    ingress = render(FULL_MONITORING).one("Ingress")
    (rule,) = ingress["spec"]["rules"]
    assert rule["host"] == "gpu.example.com"
    (path,) = rule["http"]["paths"]
    assert path["path"] == "/k8s-monitor"
    assert path["backend"]["service"] == {"name": "k8s-gpu-management", "port": {"name": "http"}}
    assert ingress["spec"]["tls"] == [{"secretName": "gpu-tls", "hosts": ["gpu.example.com"]}]
    assert not render({}).of_kind("Ingress")


def test_the_probe_path_stays_healthy_while_one_gpu_is_lost(
    exporter_process: ExporterFactory, tmp_path: Path
) -> None:
    """The chart probes /healthz; a real exporter answers 200 there with a GPU off the bus."""
    (container,) = containers(render({}).one("DaemonSet"))
    probe_path = container["livenessProbe"]["httpGet"]["path"]
    fleet = yaml.safe_load((ROOT / "simulator" / "fleets" / "test-small.yaml").read_text())
    started = datetime.now(UTC) - timedelta(minutes=1)
    fleet["epoch"] = started.strftime("%Y-%m-%dT%H:%M:%SZ")
    fleet["nodes"][0]["events"] = [{"type": "gpu_lost", "gpu": 2, "at": "0s", "duration": "1h"}]
    path = tmp_path / "fleet.yaml"
    path.write_text(yaml.safe_dump(fleet))
    url = exporter_process(path, fleet["nodes"][0]["name"])
    metrics = http_get(url + "/metrics").decode()
    up = sorted(line for line in metrics.splitlines() if line.startswith("gpu_up{"))
    assert [line.rsplit(" ", 1)[1] for line in up].count("0.0") == 1, up
    assert http_get(url + probe_path) == b"ok\n"
