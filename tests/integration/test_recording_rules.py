"""The gpu-hourly recording rules: promtool accepts and unit-tests them, Prometheus loads them,
and the backfilled hourly samples are what Prometheus and the simulator compute."""

from __future__ import annotations

import itertools
import json
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from analytics.prom.queries_resources import STATISTICS_INTERVAL_SECONDS
from devstack.prometheus import query
from devstack.rules_backfill import BACKFILLED_GROUPS, LIVE_ONLY_GROUPS, RULE_FILE
from devstack.stack import Stack
from simulator import ManualClock, SimulatedFleet
from simulator.fleet import load_fleet
from simulator.history import RECORDING_RULES, RecordingRule
from tests.stack_fixtures import HISTORY_FLEET, history_stack

__all__ = ["history_stack"]

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "alerts" / "recording-rules.yml"
FLEET = load_fleet(HISTORY_FLEET)
NODE = SimulatedFleet(FLEET, ManualClock(0)).node(FLEET.nodes[0].name)
UUIDS = {gpu.uuid: gpu.index for gpu in FLEET.nodes[0].gpus}


def test_promtool_checks_the_rules(promtool: str) -> None:
    result = subprocess.run(
        [promtool, "check", "rules", str(RULES)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    live_only = [rule for group in LIVE_ONLY_GROUPS for rule in _backfilled_rules(group)]
    rules = len(RECORDING_RULES) + len(_backfilled_rules()) + len(live_only)
    assert live_only, "a live-only group the rule file no longer has"
    assert f"SUCCESS: {rules} rules found" in result.stdout


def test_promtool_unit_tests_pass(promtool: str) -> None:
    tests = ROOT / "alerts" / "tests" / "recording-rules.test.yml"
    result = subprocess.run(
        [promtool, "test", "rules", tests.name],
        cwd=tests.parent,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_prometheus_loads_the_group(history_stack: Stack) -> None:
    with urllib.request.urlopen(history_stack.prometheus_url + "/api/v1/rules", timeout=5) as r:
        groups = json.loads(r.read())["data"]["groups"]
    (group,) = [g for g in groups if g["name"] == "gpu-hourly"]
    assert group["interval"] == 3600
    assert [rule["name"] for rule in group["rules"]] == [r.record for r in RECORDING_RULES]
    assert all(rule["health"] != "err" for rule in group["rules"])


def independent(rule: RecordingRule, index: int, hour_end: int) -> float | None:
    """The rule at ``hour_end`` from simulator.state alone: the exporter's values at each minute
    of [T-1h, T] (Prometheus 2.x range), averaged or maximised."""
    values: list[float] = []
    for t in range(hour_end - 3600, hour_end + 1, 60):
        reading = NODE.state.gpu_values(index, t)
        if reading.lost:
            continue
        value = {
            "gpu_utilization_ratio": round(reading.utilization_ratio * 100) / 100,
            "gpu_memory_used_bytes": float(reading.memory_used_bytes),
            "gpu_temperature_celsius": float(reading.temperature_celsius),
            "gpu_power_usage_watts": round(reading.power_watts * 1000) / 1000,
        }[rule.metric]
        values.append(value)
    if not values:
        return None
    return max(values) if rule.aggregation == "max" else sum(values) / len(values)


@pytest.mark.parametrize("rule", RECORDING_RULES, ids=lambda r: r.record)
def test_backfilled_rules_equal_prometheus_and_the_simulator(
    history_stack: Stack, rule: RecordingRule
) -> None:
    url = history_stack.prometheus_url
    first_hour = history_stack.history_start + 3600
    last_hour = history_stack.history_end // 3600 * 3600
    for hour_end in (first_hour, first_hour + 37 * 3600, last_hour):
        backfilled = {
            r["metric"]["uuid"]: float(r["value"][1])
            for r in query(url, rule.record, at=hour_end)["result"]
        }
        evaluated = {
            r["metric"]["uuid"]: float(r["value"][1])
            for r in query(url, rule.expr, at=hour_end)["result"]
        }
        assert backfilled.keys() == evaluated.keys()
        assert backfilled, (rule.record, hour_end)
        for uuid, value in backfilled.items():
            assert value == pytest.approx(evaluated[uuid], rel=1e-12), (uuid, hour_end)
            expected = independent(rule, UUIDS[uuid], hour_end)
            assert expected is not None
            assert value == pytest.approx(expected, rel=1e-9), (uuid, hour_end)


def prometheus_start_time(url: str) -> float:
    """When the Prometheus at ``url`` started (its runtime information), as unix seconds."""
    from datetime import datetime

    with urllib.request.urlopen(f"{url}/api/v1/status/runtimeinfo", timeout=10) as answer:
        started = json.load(answer)["data"]["startTime"]
    return datetime.fromisoformat(started.replace("Z", "+00:00")).timestamp()


def _backfilled_rules(group: str | None = None) -> list[dict[str, str]]:
    """The rules devstack.rules_backfill computes over the history (or those of one group of
    the rule file)."""
    import yaml

    groups = yaml.safe_load(RULE_FILE.read_text())["groups"]
    wanted = BACKFILLED_GROUPS if group is None else (group,)
    return [rule for g in groups if g["name"] in wanted for rule in g["rules"]]


@pytest.mark.parametrize("rule", _backfilled_rules("cluster-statistics"), ids=lambda r: r["record"])
def test_cluster_rules_cover_the_history_as_prometheus_evaluates_them(
    history_stack: Stack, rule: dict[str, str]
) -> None:
    """devstack.rules_backfill: Prometheus' own evaluation over the backfilled history, one
    sample a minute from its first minute to its end, then the live evaluations from the first
    slot after Prometheus started (the only gap: while the stack went from the history's end to
    Prometheus' start, nothing scraped either)."""
    url = history_stack.prometheus_url
    start, end = history_stack.history_start, history_stack.history_end
    # The live Prometheus' first evaluation of the group is due one interval after its start
    # at the latest: a test run on a fresh stack waits for it (once).
    started = prometheus_start_time(url)
    time.sleep(max(0.0, started + STATISTICS_INTERVAL_SECONDS + 5 - time.time()))
    window = int(time.time()) - start
    found = query(url, f"{rule['record']}[{window}s]", at=start + window)["result"]
    assert len(found) == 1, found
    times = [float(t) for t, _v in found[0]["values"]]
    # From the history's start (CPU is a rate: it needs two minutes of samples).
    assert times[0] - start <= 3 * STATISTICS_INTERVAL_SECONDS
    # One sample a minute inside the backfilled history and inside the live evaluations.
    backfilled = [t for t in times if t <= end]
    live = [t for t in times if t > end]
    wide = [
        (a - start, b - a)
        for part in (backfilled, live)
        for a, b in itertools.pairwise(part)
        if b - a > 1.5 * STATISTICS_INTERVAL_SECONDS
    ]
    assert not wide, (wide, end - start)
    # The backfill reaches the history's end, and the live Prometheus evaluates from the first
    # slot of the group after it started (at the group's offset within the interval). Between
    # the two lies only the time the stack took from the history's end to Prometheus' start,
    # during which nothing scraped either.
    assert backfilled[-1] > end - STATISTICS_INTERVAL_SECONDS, (backfilled[-1], end)
    assert live, "the live Prometheus has not evaluated the group yet"
    assert started <= live[0] <= started + STATISTICS_INTERVAL_SECONDS + 5, (live[0], started)
    # A few backfilled samples: each is the expression's value at its time.
    values = found[0]["values"]
    for t, recorded in (values[60], values[len(values) // 2], values[-5]):
        (evaluated,) = query(url, rule["expr"], at=float(t))["result"]
        assert float(recorded) == pytest.approx(float(evaluated["value"][1]), rel=1e-9), (
            rule["record"],
            t,
        )
