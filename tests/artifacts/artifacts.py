"""What the artifact tests read: rule files, dashboards, PromQL and the metric names in it."""

from __future__ import annotations

import ast
import functools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent.parent
ALERTS = ROOT / "alerts"
DASHBOARDS = ROOT / "dashboards"
RUNBOOKS = ROOT / "docs" / "runbooks"
ANALYTICS_PROM = ROOT / "analytics" / "prom"

# Series the analytics service will export. Rules and dashboards may use them first; the metric
# contract accepts them and the live dashboard test exempts their panels until then.
PLANNED: dict[str, str] = {}
# Series the analytics service exports on its own /metrics (analytics/api/telemetry.py, read
# from its store at scrape time; tests/webhooks checks the service really serves them).
ANALYTICS_SERIES = {
    "gpu_analytics_mig_layout_drift": "1 when a GPU's desired MIG layout differs from the observed",
    "gpu_analytics_allocation_planned_release_timestamp_seconds": "an allocation's planned release",
    "gpu_analytics_budget_projected_ratio": "projected monthly cost / budget, by scope and name",
}

# -- rule files ------------------------------------------------------------------------------------


def rule_files() -> list[Path]:
    return sorted(ALERTS.glob("*.yml"))


def rule_test_files() -> list[Path]:
    return sorted((ALERTS / "tests").glob("*.yml"))


@functools.cache
def _rule_list(path: Path) -> tuple[dict[str, Any], ...]:
    return tuple(
        rule for group in yaml.safe_load(path.read_text())["groups"] for rule in group["rules"]
    )


def rules(path: Path) -> Iterator[dict[str, Any]]:
    yield from _rule_list(path)


def alert_rules() -> list[dict[str, Any]]:
    return [rule for path in rule_files() for rule in rules(path) if "alert" in rule]


def recorded_names() -> set[str]:
    return {rule["record"] for path in rule_files() for rule in rules(path) if "record" in rule}


# -- dashboards ------------------------------------------------------------------------------------


def dashboards() -> dict[str, dict[str, Any]]:
    return {path.name: json.loads(path.read_text()) for path in sorted(DASHBOARDS.glob("*.json"))}


@dataclass(frozen=True)
class DashboardQuery:
    dashboard: str
    panel: str  # panel title, or "variable <name>"
    ref: str
    expr: str

    def __str__(self) -> str:
        return f"{self.dashboard} / {self.panel} / {self.ref}: {self.expr}"


_LABEL_VALUES = re.compile(r"^\s*label_values\((?P<expr>.*),\s*(?P<label>\w+)\s*\)\s*$", re.S)


def variable_series(query: str) -> str:
    """The series selector of a ``label_values(selector, label)`` variable query."""
    match = _LABEL_VALUES.match(query)
    if match is None:
        raise ValueError(f"not a label_values() query: {query}")
    return match.group("expr")


def dashboard_queries() -> list[DashboardQuery]:
    found = []
    for name, dashboard in dashboards().items():
        for panel in dashboard["panels"]:
            for target in panel.get("targets", []):
                found.append(DashboardQuery(name, panel["title"], target["refId"], target["expr"]))
        for variable in dashboard["templating"]["list"]:
            if variable["type"] == "query":
                series = variable_series(variable["query"]["query"])
                found.append(DashboardQuery(name, f"variable {variable['name']}", "-", series))
    return found


# -- metric names in PromQL ------------------------------------------------------------------------

# Identifiers that are PromQL syntax, not series. Function and aggregation names are recognised by
# the "(" that follows them, so only words that can stand without one are listed.
KEYWORDS = frozenset(
    {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset"}
    | {"and", "or", "unless", "atan2", "inf", "nan"}
)
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_GRAFANA_VARIABLE = re.compile(r"\$\{[^}]*\}|\$\w+")
_MATCHERS = re.compile(r"\{[^}]*\}")
_RANGE = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENTIFIER = re.compile(r"(?<![\w:.])([A-Za-z_:][\w:]*)")


def metric_names(promql: str) -> set[str]:
    """Series names in a PromQL expression: identifiers that are not followed by ``(`` (a
    function or aggregation) and are not keywords, once strings, Grafana variables, label
    matchers, ranges and grouping label lists are taken out."""
    text = _STRING.sub('""', promql)
    text = _GRAFANA_VARIABLE.sub(" ", text)
    text = _MATCHERS.sub("{}", text)
    text = _RANGE.sub("[]", text)
    text = _GROUPING.sub(" ", text)
    names = set()
    for match in _IDENTIFIER.finditer(text):
        name = match.group(1)
        following = text[match.end() :].lstrip()
        if following.startswith("(") or name.lower() in KEYWORDS:
            continue
        names.add(name)
    return names


# In the analytics service PromQL is assembled from Python fragments, so a metric name is often a
# string of its own (select("gpu_info", ...)). Its string constants are read, except dict keys and
# subscripts (result tags such as "gpu_util") and docstrings; of the identifiers in them only
# metric-shaped ones count: our and the cluster's prefixes, or recording-rule names.
_METRIC_SHAPED = re.compile(
    r"^(?:(?:gpu|kube|container|machine|DCGM)_\w+|up|ALERTS|[A-Za-z_]\w*(?::[A-Za-z_]\w*)+)$"
)


_PARTIAL_END = re.compile(r"[\w:]+$")
_PARTIAL_START = re.compile(r"^[\w:]+")


def python_strings(path: Path) -> Iterator[str]:
    """String constants of a module, f-string parts included. An identifier that runs into an
    interpolation (f"kube_node_status_{kind}") is built at run time and is left out."""
    tree = ast.parse(path.read_text(), str(path))
    skipped: set[int] = set()
    trimmed: dict[int, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            skipped.update(id(key) for key in node.keys if key is not None)
        elif isinstance(node, ast.Subscript):
            skipped.add(id(node.slice))
        elif isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            first = node.body[0] if node.body else None
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                skipped.add(id(first.value))
        elif isinstance(node, ast.JoinedStr):
            parts = node.values
            for i, part in enumerate(parts):
                if not (isinstance(part, ast.Constant) and isinstance(part.value, str)):
                    continue
                text = part.value
                if i + 1 < len(parts) and isinstance(parts[i + 1], ast.FormattedValue):
                    text = _PARTIAL_END.sub("", text)
                if i > 0 and isinstance(parts[i - 1], ast.FormattedValue):
                    text = _PARTIAL_START.sub("", text)
                trimmed[id(part)] = text
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in skipped
        ):
            yield trimmed.get(id(node), node.value)


def python_metric_names(path: Path, label_names: set[str]) -> set[str]:
    found = set()
    for text in python_strings(path):
        for name in metric_names(text):
            if _METRIC_SHAPED.match(name) and name not in label_names:
                found.add(name)
    return found
