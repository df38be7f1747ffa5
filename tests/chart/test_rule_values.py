"""What the monitoring.prometheusRule values do to the rules the chart renders: file and alert
switches, labels on every alert, absolute runbook URLs, and rules promtool still accepts."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import helm_python as helm
import pytest
import yaml

from tests.chart.chart import ALL_SWITCHES, ROOT, render, render_raw

ALERTS = ROOT / "alerts"
DEFAULT_RUNBOOKS = (
    "https://github.com/k8s-gpu-management/k8s-gpu-management/blob/main/docs/runbooks"
)


def _rules(**prometheus_rule: Any) -> dict[str, list[dict[str, Any]]]:
    """Rendered rules by rule file name, with monitoring.prometheusRule = prometheus_rule."""
    values = {"monitoring": {"prometheusRule": {"enabled": True, **prometheus_rule}}}
    return {
        obj["metadata"]["annotations"]["k8s-gpu-management/source"]
        .removeprefix("alerts/")
        .removesuffix(".yml"): [rule for group in obj["spec"]["groups"] for rule in group["rules"]]
        for obj in render(values).of_kind("PrometheusRule")
    }


def _alerts_in(path: Path) -> list[str]:
    return [
        rule["alert"]
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
        if "alert" in rule
    ]


def test_every_rule_file_but_dcgm_compat_is_on_by_default() -> None:
    names = {path.stem for path in ALERTS.glob("*.yml")}
    assert "dcgm-compat" in names and len(names) >= 5
    assert set(_rules()) == names - {"dcgm-compat"}


def test_a_file_switch_leaves_that_file_out_and_nothing_else() -> None:
    default = _rules()
    without = _rules(files={"gpu-catalogue": False})
    assert set(without) == set(default) - {"gpu-catalogue"}
    assert all(without[name] == default[name] for name in without)


def test_a_file_switch_naming_no_rule_file_fails_with_the_names() -> None:
    with pytest.raises(helm.HelmRenderError, match=r"files.gpu-alert: no rule file .*gpu-alerts"):
        render_raw(
            {"monitoring": {"prometheusRule": {"enabled": True, "files": {"gpu-alert": False}}}}
        )


def test_an_alert_switch_removes_that_alert_only() -> None:
    alerts = _alerts_in(ALERTS / "gpu-alerts.yml")
    assert "GpuOverheating" in alerts
    rules = _rules(alerts={"GpuOverheating": False, "GpuXidCritical": True})
    left = [rule["alert"] for rule in rules["gpu-alerts"] if "alert" in rule]
    assert left == [name for name in alerts if name != "GpuOverheating"]
    assert all(rule.get("alert") != "GpuOverheating" for file in rules.values() for rule in file)


def test_a_group_whose_alerts_are_all_off_is_left_out() -> None:
    groups = yaml.safe_load((ALERTS / "gpu-alerts.yml").read_text())["groups"]
    first = groups[0]
    assert all("alert" in rule for rule in first["rules"])
    values = {
        "monitoring": {
            "prometheusRule": {
                "enabled": True,
                "alerts": {rule["alert"]: False for rule in first["rules"]},
            }
        }
    }
    (rule,) = [
        obj
        for obj in render(values).of_kind("PrometheusRule")
        if obj["metadata"]["name"].endswith("-gpu-alerts")
    ]
    assert [g["name"] for g in rule["spec"]["groups"]] == [g["name"] for g in groups[1:]]


def test_an_alert_switch_naming_no_alert_fails() -> None:
    with pytest.raises(helm.HelmRenderError, match=r"alerts\.GpuOverheatin: no rule file has"):
        render_raw(
            {
                "monitoring": {
                    "prometheusRule": {"enabled": True, "alerts": {"GpuOverheatin": False}}
                }
            }
        )


def test_additional_rule_labels_reach_every_alert_but_no_recording_rule() -> None:
    rules = _rules(additionalRuleLabels={"team": "ml-platform", "severity": "page"})
    alerts = [rule for file in rules.values() for rule in file if "alert" in rule]
    records = [rule for file in rules.values() for rule in file if "record" in rule]
    assert len(alerts) >= 10 and len(records) >= 10
    sources = {
        rule["alert"]: rule
        for path in ALERTS.glob("*.yml")
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }
    for alert in alerts:
        assert alert["labels"]["team"] == "ml-platform"
        # The alert's own severity wins over an added label of the same name.
        assert alert["labels"]["severity"] == sources[alert["alert"]]["labels"]["severity"]
    for record in records:
        assert "team" not in record.get("labels", {}), record["record"]


def test_every_runbook_url_is_absolute_and_names_a_runbook_of_docs() -> None:
    alerts = [
        rule
        for file in _rules(files={"dcgm-compat": True}).values()
        for rule in file
        if "alert" in rule
    ]
    urls = [alert["annotations"]["runbook_url"] for alert in alerts]
    assert len(urls) == len(alerts) >= 10
    for url in urls:
        assert url.startswith(DEFAULT_RUNBOOKS + "/"), url
        assert (ROOT / "docs" / "runbooks" / url.removeprefix(DEFAULT_RUNBOOKS + "/")).is_file(), (
            url
        )


def test_the_runbook_base_url_is_configurable() -> None:
    base = "https://wiki.example.com/gpu/runbooks"
    for file in _rules(runbookBaseUrl=base + "/").values():
        for rule in file:
            if "alert" in rule:
                assert rule["annotations"]["runbook_url"] == f"{base}/{rule['alert']}.md"


def test_a_relative_runbook_base_url_is_refused() -> None:
    with pytest.raises(helm.HelmValuesError, match="runbookBaseUrl"):
        render_raw({"monitoring": {"prometheusRule": {"runbookBaseUrl": "docs/runbooks"}}})


def test_rules_with_every_switch_on_pass_promtool(promtool: str, tmp_path: Path) -> None:
    """What Prometheus loads from the rewritten objects is still a valid rule file."""
    rules = render(ALL_SWITCHES).of_kind("PrometheusRule")
    assert len(rules) == len(list(ALERTS.glob("*.yml")))
    for rule in rules:
        path = tmp_path / f"{rule['metadata']['name']}.yml"
        path.write_text(yaml.safe_dump(rule["spec"]))
        result = subprocess.run(
            [promtool, "check", "rules", str(path)], capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, result.stdout + result.stderr
    alerts = {
        r["alert"]
        for obj in rules
        for g in obj["spec"]["groups"]
        for r in g["rules"]
        if "alert" in r
    }
    assert "GpuOverheating" not in alerts and alerts
