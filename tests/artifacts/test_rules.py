"""The rule files of alerts/: promtool accepts and tests them, every alert is documented and
tested both ways, names follow the conventions, and generated files are current."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.artifacts.artifacts import (
    ALERTS,
    ROOT,
    RUNBOOKS,
    alert_rules,
    rule_files,
    rule_test_files,
    rules,
)

SEVERITIES = {"info", "warning", "critical"}
# level:metric:operations (https://prometheus.io/docs/practices/rules/)
RECORDING_NAME = re.compile(r"^[a-z_]+:[a-z][a-z0-9_]*:[a-z0-9_]+$")
# dcgm-compat.yml records under dcgm-exporter's names on purpose.
DCGM_NAME = re.compile(r"^DCGM_FI_[A-Z0-9_]+$")
HEALTHY_FLEET = ALERTS / "tests" / "healthy-fleet.test.yml"


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT)


# -- promtool --------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", rule_files(), ids=lambda p: p.name)
def test_promtool_checks_rule_file(promtool: str, path: Path) -> None:
    result = _run(promtool, "check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    # promtool reports lint findings (duplicate rules) without failing.
    assert "WARNING" not in result.stdout + result.stderr, result.stdout + result.stderr


@pytest.mark.parametrize("path", rule_test_files(), ids=lambda p: p.name)
def test_promtool_unit_tests_pass(promtool: str, path: Path) -> None:
    result = _run(promtool, "test", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


# -- every alert: labels, annotations, runbook, tests both ways ------------------------------------


def _alert_ids(rule: dict[str, Any]) -> str:
    return str(rule["alert"])


@pytest.mark.parametrize("rule", alert_rules(), ids=_alert_ids)
def test_alert_has_severity_annotations_and_runbook(rule: dict[str, Any]) -> None:
    assert rule.get("labels", {}).get("severity") in SEVERITIES
    annotations = rule.get("annotations", {})
    assert annotations.get("summary", "").strip()
    description = annotations.get("description", "")
    assert "$labels" in description or "$value" in description, description
    assert annotations.get("runbook_url") == f"docs/runbooks/{rule['alert']}.md"
    runbook = RUNBOOKS / f"{rule['alert']}.md"
    assert runbook.is_file(), f"{runbook} is missing"
    text = runbook.read_text()
    assert text.startswith(f"# {rule['alert']}\n")
    for section in ("## Meaning", "## Impact", "## Diagnosis", "## Remediation"):
        assert section in text, f"{runbook.name} lacks {section}"
    assert f"**Severity:** {rule['labels']['severity']}" in text


def test_alert_names_are_unique() -> None:
    names = [rule["alert"] for rule in alert_rules()]
    assert len(names) == len(set(names))


def test_every_runbook_belongs_to_an_alert() -> None:
    names = {rule["alert"] for rule in alert_rules()}
    assert {path.stem for path in RUNBOOKS.glob("*.md")} == names


def _alert_cases() -> dict[str, dict[str, int]]:
    """Per alert name: how many firing and not-firing cases the promtool tests hold."""
    cases: dict[str, dict[str, int]] = {}
    for path in rule_test_files():
        for test in yaml.safe_load(path.read_text())["tests"]:
            for case in test.get("alert_rule_test", []):
                kind = "firing" if case.get("exp_alerts") else "quiet"
                counts = cases.setdefault(case["alertname"], {"firing": 0, "quiet": 0})
                counts[kind] += 1
    return cases


@pytest.mark.parametrize("rule", alert_rules(), ids=_alert_ids)
def test_alert_has_firing_and_not_firing_cases(rule: dict[str, Any]) -> None:
    counts = _alert_cases().get(rule["alert"], {"firing": 0, "quiet": 0})
    assert counts["firing"] >= 1, f"no promtool case where {rule['alert']} fires"
    assert counts["quiet"] >= 1, f"no promtool case where {rule['alert']} stays quiet"


def test_healthy_fleet_case_covers_every_alert() -> None:
    (test,) = yaml.safe_load(HEALTHY_FLEET.read_text())["tests"]
    quiet = {case["alertname"] for case in test["alert_rule_test"] if not case["exp_alerts"]}
    assert quiet == {rule["alert"] for rule in alert_rules()}


def test_every_rule_file_is_loaded_by_some_promtool_test() -> None:
    loaded = set()
    for path in rule_test_files():
        for name in yaml.safe_load(path.read_text())["rule_files"]:
            loaded.add((path.parent / name).resolve())
    assert {path.resolve() for path in rule_files()} <= loaded


# -- names and generated files ---------------------------------------------------------------------


@pytest.mark.parametrize("path", rule_files(), ids=lambda p: p.name)
def test_recording_rules_are_named_level_metric_operations(path: Path) -> None:
    for rule in rules(path):
        if "record" not in rule:
            continue
        name = rule["record"]
        if path.name == "dcgm-compat.yml" and DCGM_NAME.match(name):
            continue
        assert RECORDING_NAME.match(name), f"{path.name}: {name}"


def test_generated_rule_files_are_current() -> None:
    result = _run(sys.executable, str(ALERTS / "generate.py"), "--check")
    assert result.returncode == 0, result.stderr


def test_alerts_doc_lists_every_alert_with_its_severity() -> None:
    doc = (ROOT / "docs" / "alerts.md").read_text()
    for rule in alert_rules():
        row = f"| [{rule['alert']}](runbooks/{rule['alert']}.md) | {rule['labels']['severity']} |"
        assert row in doc, f"docs/alerts.md lacks the row for {rule['alert']}"
