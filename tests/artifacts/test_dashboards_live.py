"""Every query of every dashboard returns data from a real Prometheus with a fleet's history.

The stack of tests/stack_fixtures.py (test-small fleet, 7 days of backfilled history, live
exporters and cluster series) answers the raw-series queries. Queries on recording rules of
alerts/ that the stack's Prometheus does not load go to a second, real Prometheus that scrapes
the same live targets and evaluates every rule file of alerts/ (recording rules are computed
from live data only, so history would not help them). Either way each rule must evaluate
without error.

Exempt: queries on event series (EVENT_SERIES below: XIDs, exporter errors, the analytics
service's planned releases and budget ratios) while none of those series exists at all, queries
on hardware the fleet lacks (HARDWARE below: MIG instances of a GPM GPU, NVLink) while the
stack has none of it, and
panels on series still listed in PLANNED (tests/artifacts/artifacts.py; none today, and their
queries must still be valid PromQL).
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from devstack.prometheus import PrometheusServer
from devstack.stack import Stack
from tests.artifacts.artifacts import (
    PLANNED,
    DashboardQuery,
    dashboard_queries,
    metric_names,
    recorded_names,
    rule_files,
    rules,
)
from tests.stack_fixtures import SCRAPE_INTERVAL_S, history_stack

__all__ = ["history_stack"]  # the fixture, imported for pytest

# Series that only exist once something happened; a healthy test fleet may have none.
EVENT_SERIES = {
    "gpu_xid_errors_total": "created on a GPU's first XID of a code",
    "gpu_xid_last_seen_timestamp_seconds": "created on a GPU's first XID of a code",
    "gpu_exporter_errors_total": "created on the exporter's first failed operation",
    "gpu_analytics_allocation_planned_release_timestamp_seconds": (
        "the analytics service's; created once an allocation has a planned release"
    ),
    "gpu_analytics_budget_projected_ratio": (
        "the analytics service's; created once a budget has been evaluated"
    ),
}
# Panels on hardware a test fleet may lack: (series the query reads, a text the query holds,
# the probe that finds the hardware, what it is). A query matching an entry may come back empty
# while the probe does. test-small's MIG GPU is an A100 (no GPM); its GPUs may lack NVLink.
_GPM_PER_INSTANCE = frozenset(
    {
        "gpu_prof_sm_active_ratio",
        "gpu_prof_tensor_active_ratio",
        "gpu_prof_dram_bandwidth_utilization_ratio",
    }
)
_NVLINK = frozenset(
    {
        "gpu_nvlink_data_bytes_total",
        "gpu_prof_nvlink_transmit_bytes_per_second",
        "gpu_prof_nvlink_receive_bytes_per_second",
    }
)
HARDWARE = (
    (
        _GPM_PER_INSTANCE,
        'mig_uuid!=""',
        'count(gpu_prof_sm_active_ratio{mig_uuid!=""})',
        "MIG instances on a GPU with GPM (Hopper and newer)",
    ),
    (
        _NVLINK,
        "nvlink",
        "count(gpu_nvlink_data_bytes_total) or count(gpu_prof_nvlink_transmit_bytes_per_second)",
        "GPUs with NVLink",
    ),
)
# Grafana's built-in variables, as a dashboard over the last hours would expand them.
BUILTINS = {
    "__rate_interval": "1m",
    "__interval": f"{SCRAPE_INTERVAL_S}s",
    "__interval_ms": f"{SCRAPE_INTERVAL_S * 1000}",
    "__range": "1h",
    "__range_s": "3600",
}
# Groups evaluated at most this many seconds apart are waited for; the hourly group of
# recording-rules.yml may first run an hour after Prometheus starts.
FREQUENT_S = 60
_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)")


def substitute(expr: str) -> str:
    """The query Grafana sends with every variable on All (``.*``, matched with ``=~``)."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        return BUILTINS.get(name, ".*")

    return _VARIABLE.sub(value, expr)


def instant(url: str, promql: str) -> list[dict[str, Any]]:
    query = urllib.parse.urlencode({"query": promql})
    try:
        with urllib.request.urlopen(f"{url}/api/v1/query?{query}", timeout=30) as response:
            body = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise AssertionError(f"{promql}: {exc.read().decode(errors='replace')}") from exc
    assert body["status"] == "success", body
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def rule_groups(url: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{url}/api/v1/rules", timeout=10) as response:
        groups: list[dict[str, Any]] = json.loads(response.read())["data"]["groups"]
    return groups


@dataclass(frozen=True)
class Sources:
    history: str  # the stack's Prometheus: backfilled history and live scrapes
    rules: str  # a Prometheus evaluating every rule file of alerts/ (may be the same)
    routed: frozenset[str]  # recorded series only `rules` has

    def url_for(self, expr: str) -> str:
        return self.rules if metric_names(expr) & self.routed else self.history


def _timestamp(rfc3339: str) -> float:
    """Prometheus' RFC 3339 times carry nanoseconds; fromisoformat takes microseconds."""
    trimmed = re.sub(r"(\.\d{6})\d*", r"\1", rfc3339).replace("Z", "+00:00")
    return datetime.fromisoformat(trimmed).timestamp()


def _wait_evaluated(url: str, targets: int, timeout: float = 240.0) -> None:
    """Until every target has been scraped three times (rate() needs two samples) and every
    frequent rule group has been evaluated twice after that: groups that read another group's
    series (gpu-allocations reads gpu-catalogue's and gpu-devices') may run before it on its
    first round, and some run once a minute."""
    deadline = time.monotonic() + timeout
    since: float | None = None
    rounds = 0
    while time.monotonic() < deadline:
        if since is None:
            counts = instant(url, "count_over_time(up[5m])")
            if len(counts) >= targets and min(float(c["value"][1]) for c in counts) >= 3:
                since = time.time()
        else:
            groups = [g for g in rule_groups(url) if g["interval"] <= FREQUENT_S]
            if all(_timestamp(g["lastEvaluation"]) > since for g in groups):
                rounds += 1
                if rounds == 2:
                    return
                since = time.time()
        time.sleep(0.5)
    raise AssertionError(f"{url} did not scrape and evaluate its rules in {timeout:.0f}s")


@pytest.fixture(scope="module")
def sources(history_stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sources]:
    stack_url = history_stack.prometheus_url
    loaded = {rule["name"] for group in rule_groups(stack_url) for rule in group["rules"]}
    missing = frozenset(recorded_names() - loaded)
    if not missing:
        assert history_stack.prometheus is not None
        _wait_evaluated(stack_url, sum(len(job.targets) for job in history_stack.prometheus.jobs))
        yield Sources(stack_url, stack_url, frozenset())
        return
    assert history_stack.prometheus is not None
    needed = [path for path in rule_files() if {r.get("record") for r in rules(path)} & missing]
    server = PrometheusServer(
        Path(tmp_path_factory.mktemp("rules-prometheus")),
        history_stack.prometheus.jobs,
        rule_files=needed,
        scrape_interval=f"{SCRAPE_INTERVAL_S}s",
        evaluation_interval=f"{SCRAPE_INTERVAL_S}s",
    )
    server.start()
    try:
        _wait_evaluated(server.url, sum(len(job.targets) for job in server.jobs))
        yield Sources(stack_url, server.url, missing)
    finally:
        server.stop()


def _query_id(query: DashboardQuery) -> str:
    return f"{query.dashboard.removesuffix('.json')}/{query.panel}/{query.ref}"


QUERIES = dashboard_queries()


def test_every_rule_evaluates_without_error(sources: Sources) -> None:
    groups = [g for url in {sources.history, sources.rules} for g in rule_groups(url)]
    failing = [
        f"{group['name']}/{rule['name']}: {rule['health']} {rule.get('lastError', '')}"
        for group in groups
        for rule in group["rules"]
        # An hourly group may not have run yet ("unknown"); an error is never fine.
        if rule["health"] != "ok" and (rule["health"] == "err" or group["interval"] <= FREQUENT_S)
    ]
    assert not failing, "\n".join(failing)
    loaded = {rule["name"] for group in groups for rule in group["rules"]}
    assert recorded_names() <= loaded


def _planned(query: DashboardQuery) -> bool:
    return bool(metric_names(query.expr) & set(PLANNED))


@pytest.mark.parametrize("query", [q for q in QUERIES if not _planned(q)], ids=_query_id)
def test_dashboard_query_returns_data(sources: Sources, query: DashboardQuery) -> None:
    promql = substitute(query.expr)
    url = sources.url_for(query.expr)
    if instant(url, promql):
        return
    # Exempt: a query on event series the fleet has never produced (none of it exists at all),
    # or on hardware the fleet does not have.
    names = metric_names(query.expr)
    events = names & set(EVENT_SERIES)
    never_happened = {name for name in events if not instant(url, f"count({name})")}
    absent = [
        what
        for series, text, probe, what in HARDWARE
        if names & series and text in query.expr and not instant(url, probe)
    ]
    assert never_happened or absent, f"no data: {query}\nsent to {url}: {promql}"


PLANNED_QUERIES = [q for q in QUERIES if _planned(q)]


def test_planned_series_panels_are_listed() -> None:
    # Exempt from returning data until the analytics service exports these series.
    assert sorted(f"{q.dashboard}/{q.panel}" for q in PLANNED_QUERIES) == []
