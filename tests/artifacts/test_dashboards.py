"""The Grafana dashboards follow the conventions of dashboards/generate.py's docstring (after
Grafana's dashboard best practices) and are exactly what dashboards/generate.py writes."""

from __future__ import annotations

import re
import subprocess
import sys
from typing import Any

import pytest

from tests.artifacts.artifacts import DASHBOARDS, ROOT, dashboards

PANEL_TYPES = {"timeseries", "stat", "gauge", "table", "bargauge", "text"}
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
UIDS = {
    "gpu-cluster-overview",
    "gpu-node-detail",
    "gpu-namespaces-pods",
    "gpu-mig",
    "gpu-allocations",
}
_VARIABLE_USE = re.compile(r"\$\{?(\w+)")
BUILTIN_VARIABLES = {"__rate_interval", "__interval", "__interval_ms", "__range", "__range_s"}


def _dashboard_ids(item: tuple[str, dict[str, Any]]) -> str:
    return item[0]


DASHBOARD_ITEMS = sorted(dashboards().items())


def test_checked_in_json_is_the_generators_output() -> None:
    result = subprocess.run(
        [sys.executable, str(DASHBOARDS / "generate.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr


def test_dashboards_have_stable_unique_uids() -> None:
    uids = {name: dashboard["uid"] for name, dashboard in DASHBOARD_ITEMS}
    assert set(uids.values()) == UIDS
    assert all(name == f"{uid}.json" for name, uid in uids.items())


@pytest.mark.parametrize("item", DASHBOARD_ITEMS, ids=_dashboard_ids)
def test_dashboard_conventions(item: tuple[str, dict[str, Any]]) -> None:
    name, dashboard = item
    assert dashboard["description"].strip()
    assert dashboard["schemaVersion"] >= 36  # Grafana 9.4+; 39 is Grafana 11.0
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    datasource = variables["datasource"]
    assert (datasource["type"], datasource["query"]) == ("datasource", "prometheus")
    assert "node" in variables
    for variable in variables.values():
        if variable["type"] == "query":
            assert variable["datasource"] == DATASOURCE, variable["name"]
            assert variable["includeAll"] and variable["multi"]
            assert variable["allValue"] == ".*"
    # Links to the other dashboards, keeping the variables and the time range.
    (link,) = dashboard["links"]
    assert link["type"] == "dashboards" and link["includeVars"] and link["keepTime"]
    assert set(link["tags"]) <= set(dashboard["tags"])

    panel_ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(panel_ids) == len(set(panel_ids)), name
    used: set[str] = set()
    for panel in dashboard["panels"]:
        title = f"{name} / {panel['title']}"
        assert panel["type"] in PANEL_TYPES, title
        assert panel["description"].strip(), title
        assert panel["datasource"] == DATASOURCE, title
        if panel["type"] != "text":
            assert panel["fieldConfig"]["defaults"].get("unit"), f"{title}: no unit"
            assert panel["targets"], title
        for target in panel.get("targets", []):
            assert target["datasource"] == DATASOURCE, title
            exprs = target["expr"]
            used.update(_VARIABLE_USE.findall(exprs))
            # Multi-value variables expand to regexes: they must be matched with =~.
            for variable in ("node", "gpu", "namespace", "pod"):
                for match in re.finditer(rf'(\w+)\s*(=~|=|!=|!~)\s*"\$\{{?{variable}\b', exprs):
                    assert match.group(2) == "=~", f"{title}: {match.group(0)}"
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, title
    undefined = used - set(variables) - BUILTIN_VARIABLES
    assert not undefined, f"{name}: undefined variables {undefined}"
    unused = {v for v in variables if v != "datasource"} - used
    assert not unused, f"{name}: variables no panel uses: {unused}"


def test_variables_for_node_gpu_namespace_and_pod_exist() -> None:
    names = {v["name"] for _, d in DASHBOARD_ITEMS for v in d["templating"]["list"]}
    assert {"datasource", "node", "gpu", "namespace", "pod"} <= names


def test_cost_panels_say_list_price() -> None:
    for name, dashboard in DASHBOARD_ITEMS:
        for panel in dashboard["panels"]:
            if panel["fieldConfig"]["defaults"].get("unit") == "currencyUSD":
                assert "list price" in (panel["title"] + panel["description"]).lower(), (
                    f"{name} / {panel['title']}"
                )
