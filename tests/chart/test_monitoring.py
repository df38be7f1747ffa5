"""The chart's monitoring objects carry exactly alerts/ and dashboards/, and scrape as the rules expect."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from tests.chart.chart import FULL_MONITORING, NAMESPACE, POSTGRESQL_3, ROOT, render

ALERTS = ROOT / "alerts"
DASHBOARDS = ROOT / "dashboards"


# The one rule file the chart ships only when monitoring.prometheusRule.files.dcgm-compat is on.
DCGM_FILE = "dcgm-compat.yml"
RUNBOOKS = "https://github.com/k8s-gpu-management/k8s-gpu-management/blob/main/docs/runbooks"


def _rule_files() -> list[Path]:
    return sorted(ALERTS.glob("*.yml"))


def _rules_by_source(values: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        rule["metadata"]["annotations"]["k8s-gpu-management/source"]: rule
        for rule in render(values).of_kind("PrometheusRule")
    }


def _with_dcgm_compat(values: dict[str, Any]) -> dict[str, Any]:
    monitoring = values["monitoring"]
    rule = {**monitoring["prometheusRule"], "files": {"dcgm-compat": True}}
    return {**values, "monitoring": {**monitoring, "prometheusRule": rule}}


def as_rendered(path: Path, runbook_base: str = RUNBOOKS) -> dict[str, Any]:
    """The spec a rule file should become: its groups, each runbook_url made absolute."""
    groups: list[dict[str, Any]] = yaml.safe_load(path.read_text())["groups"]
    for group in groups:
        for rule in group["rules"]:
            annotations = rule.get("annotations", {})
            if "runbook_url" in annotations:
                relative = annotations["runbook_url"]
                assert relative.startswith("docs/runbooks/"), relative
                annotations["runbook_url"] = (
                    f"{runbook_base}/{relative.removeprefix('docs/runbooks/')}"
                )
    return {"groups": groups}


def test_each_rule_file_but_dcgm_compat_becomes_one_prometheus_rule_by_default() -> None:
    by_source = _rules_by_source(FULL_MONITORING)
    assert set(by_source) == {
        f"alerts/{path.name}" for path in _rule_files() if path.name != DCGM_FILE
    }
    assert len(by_source) >= 4
    for path in _rule_files():
        if path.name == DCGM_FILE:
            continue
        rule = by_source[f"alerts/{path.name}"]
        assert rule["spec"] == as_rendered(path), path.name
        assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"


def test_no_dcgm_exporter_names_are_recorded_by_default() -> None:
    recorded = {
        item.get("record", "")
        for rule in render(FULL_MONITORING).of_kind("PrometheusRule")
        for group in rule["spec"]["groups"]
        for item in group["rules"]
    }
    assert not {name for name in recorded if name.startswith("DCGM_")}


def test_the_dcgm_switch_adds_the_dcgm_compat_file_as_it_is() -> None:
    default = _rules_by_source(FULL_MONITORING)
    switched = _rules_by_source(_with_dcgm_compat(FULL_MONITORING))
    assert set(switched) == set(default) | {f"alerts/{DCGM_FILE}"}
    assert set(switched) == {f"alerts/{path.name}" for path in _rule_files()}
    dcgm = switched[f"alerts/{DCGM_FILE}"]
    assert dcgm["spec"] == as_rendered(ALERTS / DCGM_FILE)
    assert dcgm["metadata"]["name"] == "k8s-gpu-management-dcgm-compat"
    assert dcgm["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    for source, rule in default.items():
        assert switched[source] == rule, source


def test_the_dcgm_switch_alone_renders_no_rules() -> None:
    values: dict[str, Any] = {"monitoring": {"prometheusRule": {"files": {"dcgm-compat": True}}}}
    assert not render(values).of_kind("PrometheusRule")


def test_alert_templates_reach_prometheus_unexpanded() -> None:
    """Prometheus's own {{ $labels.x }} templates must not be run by Helm."""
    rules = render(FULL_MONITORING).of_kind("PrometheusRule")
    annotations = [
        text
        for rule in rules
        for group in rule["spec"]["groups"]
        for item in group["rules"]
        for text in item.get("annotations", {}).values()
    ]
    assert any("{{ $labels.node }}" in text for text in annotations)


def test_promtool_unit_tests_are_not_rules() -> None:
    rules = render(FULL_MONITORING).of_kind("PrometheusRule")
    sources = {rule["metadata"]["annotations"]["k8s-gpu-management/source"] for rule in rules}
    assert not any("test" in source for source in sources)


def test_prometheus_rules_go_to_the_configured_namespace() -> None:
    values: dict[str, Any] = {
        "monitoring": {"prometheusRule": {"enabled": True, "namespace": "monitoring"}}
    }
    for rule in render(values).of_kind("PrometheusRule"):
        assert rule["metadata"]["namespace"] == "monitoring"


def test_dashboard_config_maps_equal_the_dashboards_and_are_labelled_for_the_sidecar() -> None:
    maps = render(FULL_MONITORING).of_kind("ConfigMap")
    sources = sorted(DASHBOARDS.glob("*.json"))
    assert len(sources) >= 5
    data = {key: value for cm in maps for key, value in cm["data"].items()}
    assert set(data) == {path.name for path in sources}
    for path in sources:
        assert data[path.name] == path.read_text(), path.name
        json.loads(data[path.name])
    for cm in maps:
        assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
        assert cm["metadata"]["namespace"] == "monitoring"
        assert cm["metadata"]["annotations"] == {"grafana_folder": "GPU"}
        assert len(cm["data"]) == 1


def test_the_sidecar_label_is_configurable() -> None:
    values = {
        "monitoring": {
            "dashboards": {"enabled": True, "label": "grafana.com/dashboard", "labelValue": "gpu"}
        }
    }
    maps = render(values).of_kind("ConfigMap")
    assert len(maps) == len(list(DASHBOARDS.glob("*.json")))
    for cm in maps:
        assert cm["metadata"]["labels"]["grafana.com/dashboard"] == "gpu"
        assert "grafana_dashboard" not in cm["metadata"]["labels"]


def test_nothing_of_monitoring_is_rendered_by_default() -> None:
    kinds = {obj["kind"] for obj in render({}).objects}
    assert not kinds & {"ServiceMonitor", "PodMonitor", "PrometheusRule", "ConfigMap"}


def test_service_monitors_scrape_the_exporter_with_honor_labels_as_job_gpu_exporter() -> None:
    rendered = render(FULL_MONITORING)
    exporter = rendered.one("ServiceMonitor", "k8s-gpu-management-exporter")
    analytics = rendered.one("ServiceMonitor", "k8s-gpu-management-analytics")
    assert [e["honorLabels"] for e in exporter["spec"]["endpoints"]] == [True]
    assert "honorLabels" not in analytics["spec"]["endpoints"][0]
    # The operator names the job after the Service's label jobLabel points at.
    for monitor, job, component in (
        (exporter, "gpu-exporter", "exporter"),
        (analytics, "gpu-analytics", "analytics"),
    ):
        services = [
            s
            for s in rendered.of_kind("Service")
            if all(
                s["metadata"]["labels"].get(k) == v
                for k, v in monitor["spec"]["selector"]["matchLabels"].items()
            )
        ]
        assert (
            len(services) == 1
            and services[0]["metadata"]["labels"]["app.kubernetes.io/component"] == component
        )
        assert services[0]["metadata"]["labels"][monitor["spec"]["jobLabel"]] == job
        port_names = {p["name"] for p in services[0]["spec"]["ports"]}
        assert monitor["spec"]["endpoints"][0]["port"] in port_names
        assert monitor["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}
        assert monitor["spec"]["endpoints"][0]["interval"] == "15s"


def test_the_alerts_expect_the_job_name_the_chart_gives() -> None:
    assert 'up{job="gpu-exporter"}' in (ALERTS / "gpu-alerts.yml").read_text()


def test_exporter_service_lists_not_ready_pods() -> None:
    service = render({}).one("Service", "k8s-gpu-management-exporter")
    assert service["spec"]["clusterIP"] == "None"
    assert service["spec"]["publishNotReadyAddresses"] is True


def test_pod_monitor_selects_exporter_pods_with_honor_labels() -> None:
    rendered = render(POSTGRESQL_3)
    monitor = rendered.one("PodMonitor")
    daemonset = rendered.one("DaemonSet")
    pod_labels = daemonset["spec"]["template"]["metadata"]["labels"]
    assert all(pod_labels[k] == v for k, v in monitor["spec"]["selector"]["matchLabels"].items())
    assert pod_labels[monitor["spec"]["jobLabel"]] == "gpu-exporter"
    endpoint = monitor["spec"]["podMetricsEndpoints"][0]
    assert endpoint["honorLabels"] is True
    ports = daemonset["spec"]["template"]["spec"]["containers"][0]["ports"]
    assert endpoint["port"] in {p["name"] for p in ports}
    assert not rendered.of_kind("ServiceMonitor")


def test_notes_carry_the_alertmanager_receiver() -> None:
    notes = render({}).notes
    assert "webhook_configs:" in notes
    assert (
        "http://k8s-gpu-management.gpu-management.svc:8080/k8s-monitor/api/v1/alerts/alertmanager"
        in notes
    )
    start = notes.index("  receivers:")
    snippet = yaml.safe_load(notes[start : notes.index("\n\n", start)])
    (receiver,) = snippet["receivers"]
    assert snippet["route"]["routes"][0]["receiver"] == receiver["name"]
