"""The metric contract: every series name used by a dashboard, a rule or the analytics service's
PromQL is in the exporter's catalogue (exporter/metrics.py, docs/metrics.md), a standard cluster
or Prometheus name, a recording rule of alerts/, a series the analytics service exports itself
(analytics/api/telemetry.py), or a planned analytics series."""

from __future__ import annotations

from pathlib import Path

import pytest

from exporter.metrics import CATALOGUE
from tests.artifacts.artifacts import (
    ANALYTICS_PROM,
    ANALYTICS_SERIES,
    PLANNED,
    dashboard_queries,
    metric_names,
    python_metric_names,
    recorded_names,
    rule_files,
    rules,
)

# Standard names we may use without owning them: the upstream exporters' prefixes and a few
# series Prometheus itself writes.
STANDARD_PREFIXES = {
    "kube_": "kube-state-metrics (simulator/cluster.py emits these names in tests and the demo)",
    "container_": "cAdvisor, the kubelet's /metrics/cadvisor",
    "machine_": "cAdvisor's machine info",
}
STANDARD_NAMES = {
    "up": "Prometheus: 1 when the last scrape of a target succeeded",
    "ALERTS": "Prometheus: one series per pending or firing alert",
}
# String constants of analytics/prom that look like metric names but are not PromQL.
NOT_METRICS = {
    "gpu_analytics_prom_client": "analytics/prom/__init__.py: the name of a ContextVar",
}

CATALOGUE_NAMES = {metric.name for metric in CATALOGUE}
CATALOGUE_LABELS = {label for metric in CATALOGUE for label in metric.labels}


RECORDED = recorded_names()


def unknown(names: set[str]) -> set[str]:
    recorded = RECORDED
    return {
        name
        for name in names
        if name not in CATALOGUE_NAMES
        and name not in recorded
        and name not in STANDARD_NAMES
        and name not in PLANNED
        and name not in ANALYTICS_SERIES
        and not name.startswith(tuple(STANDARD_PREFIXES))
    }


# -- the extraction itself -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("promql", "names"),
    [
        ("gpu_up", {"gpu_up"}),
        (
            'sum by (node) (rate(gpu_busy_seconds_total{node=~"$node"}[$__rate_interval]))',
            {"gpu_busy_seconds_total"},
        ),
        ("a * on (uuid) group_left (model_name) b", {"a", "b"}),
        ('label_replace(gpu_info, "x", "$1", "uuid", "(.*)")', {"gpu_info"}),
        ("x offset 10m > bool 1e6 and y @ start() unless z", {"x", "y", "z"}),
        ("sum(x) without (instance) / ignoring (job) count(y)", {"x", "y"}),
        ("max_over_time(node:gpu_up:sum[1d:5m]) or vector(0)", {"node:gpu_up:sum"}),
        ("time() - max(timestamp(gpu_info)) > Inf", {"gpu_info"}),
    ],
)
def test_metric_names_are_extracted_from_promql(promql: str, names: set[str]) -> None:
    assert metric_names(promql) == names


def test_python_extraction_skips_tags_docstrings_and_interpolated_names(tmp_path: Path) -> None:
    module = tmp_path / "queries.py"
    module.write_text(
        '"""Reads gpu_docstring_only."""\n'
        'parts = {"gpu_util": f"sum by (node) ({select(\'gpu_up\', m)})"}\n'
        'parts["gpu_devices"] = "count(kube_pod_info)"\n'
        'kind = "x"\n'
        'series = f"kube_node_status_{kind}"\n'
        'rule = "uuid:gpu_utilization_ratio:avg1h"\n'
        'url = "http://localhost:9090"\n'
    )
    assert python_metric_names(module, CATALOGUE_LABELS) == {
        "gpu_up",
        "kube_pod_info",
        "uuid:gpu_utilization_ratio:avg1h",
    }


# -- the contract ----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", rule_files(), ids=lambda p: p.name)
def test_rule_expressions_use_known_metrics(path: Path) -> None:
    problems = {
        f"{rule.get('alert') or rule.get('record')}: {sorted(bad)}"
        for rule in rules(path)
        if (bad := unknown(metric_names(rule["expr"])))
    }
    assert not problems, problems


def test_dashboard_queries_use_known_metrics() -> None:
    problems = {
        f"{query}: {sorted(bad)}"
        for query in dashboard_queries()
        if (bad := unknown(metric_names(query.expr)))
    }
    assert not problems, "\n".join(sorted(problems))


@pytest.mark.parametrize("path", sorted(ANALYTICS_PROM.glob("*.py")), ids=lambda p: p.name)
def test_analytics_promql_uses_known_metrics(path: Path) -> None:
    names = python_metric_names(path, CATALOGUE_LABELS) - set(NOT_METRICS)
    bad = unknown(names)
    assert not bad, (
        f"{path.name} uses {sorted(bad)}: add them to exporter/metrics.py, a recording rule in "
        "alerts/, or (when they are not metrics) NOT_METRICS here"
    )


def test_planned_series_are_not_yet_in_the_catalogue() -> None:
    # When the analytics service exports them, move them out of PLANNED (and the live test's
    # exemptions) so they are held to the contract like everything else.
    assert not set(PLANNED) & CATALOGUE_NAMES


def test_every_catalogue_metric_is_used_by_a_rule_or_dashboard() -> None:
    used: set[str] = set()
    for path in rule_files():
        for rule in rules(path):
            used |= metric_names(rule["expr"])
    for query in dashboard_queries():
        used |= metric_names(query.expr)
    # Identity and build info are read by people and the analytics service, not by queries here.
    not_needed = {"gpu_exporter_build_info", "gpu_performance_state"}
    assert CATALOGUE_NAMES - used - not_needed == set()
