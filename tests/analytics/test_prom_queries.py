"""PromQL builders of the GPU endpoints, checked as strings."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from analytics.prom import promql
from analytics.prom import queries as q

ROOT = Path(__file__).resolve().parents[2]


def test_label_values_are_escaped_as_promql_strings() -> None:
    assert promql.quote('we"ird\\node') == '"we\\"ird\\\\node"'
    assert promql.quote("line\nbreak") == '"line\\nbreak"'


def test_a_node_name_with_quotes_and_backslashes_stays_one_matcher() -> None:
    scope = q.DeviceScope(nodes=['n"1\\x'])
    assert scope.select("gpu_up") == 'gpu_up{node="n\\"1\\\\x"}'


def test_several_values_become_an_escaped_regex_alternation() -> None:
    scope = q.DeviceScope(uuids=["GPU-a.b", 'GPU-"c'])
    selected = scope.select("gpu_up")
    # RE2-escaped (the dot is literal) inside a PromQL string (quote escaped).
    assert selected == 'gpu_up{uuid=~"GPU\\\\-\\"c|GPU\\\\-a\\\\.b"}'
    pattern = selected.split('=~"')[1][:-2].replace('\\"', '"').replace("\\\\", "\\")
    assert re.fullmatch(pattern, "GPU-a.b")
    assert not re.fullmatch(pattern, "GPU-aXb")


def test_an_empty_scope_matches_nothing() -> None:
    assert q.DeviceScope(nodes=[]).select("gpu_up") == 'gpu_up{node=~"a^"}'


def test_label_names_are_checked() -> None:
    with pytest.raises(ValueError):
        promql.tagged({"a": "up"}, "bad-label")


def test_tagged_union_labels_each_part() -> None:
    assert promql.tagged({"a": "x", "b": "y"}, q.STAT_LABEL) == (
        'label_replace(x, "stat", "a", "", "") or label_replace(y, "stat", "b", "", "")'
    )


def test_live_values_are_a_query_per_metric_with_only_the_device_labels() -> None:
    assert q.live_device_parts(q.DeviceScope(uuids=["GPU-1"])) == {
        metric: f'max by (uuid, node, gpu) ({metric}{{uuid="GPU-1"}})'
        for metric in ("gpu_temperature_celsius", "gpu_power_usage_watts", "gpu_utilization_ratio")
    }


def test_long_windows_read_the_hourly_rules_at_their_newest_sample() -> None:
    query = q.usage_statistics(720, end=2000.0, now=2000.0, rules_end=1800.0)
    assert (
        "label_replace(max by (uuid, node, gpu) "
        "(avg_over_time(uuid:gpu_utilization_ratio:avg1h[2591999s] @ 1800.000)), "
        '"stat", "utilization", "", "")'
    ) in query
    assert "avg_over_time(uuid:gpu_memory_used_bytes:avg1h[2591999s] @ 1800.000)" in query
    assert "avg_over_time(uuid:gpu_temperature_celsius:avg1h[2591999s] @ 1800.000)" in query
    # Memory total is a fixed size: the current reading, one sample per device.
    assert (
        'label_replace(max by (uuid, node, gpu) (gpu_memory_total_bytes @ 2000.000), "stat", '
        '"memory_total"'
    ) in query
    assert "gpu_utilization_ratio[" not in query  # no raw samples over the month


def test_short_windows_read_the_raw_series() -> None:
    query = q.usage_statistics(
        1, end=5000.0, now=5000.0, rules_end=None, scope=q.DeviceScope(["n1"])
    )
    # Through a one-minute subquery: time-weighted, whatever the scrape interval.
    assert 'avg_over_time(gpu_utilization_ratio{node="n1"}[3600s:1m] @ 5000.000)' in query
    assert "avg1h" not in query


def test_latest_rule_sample_is_found_with_a_cheap_subquery() -> None:
    assert q.latest_rule_evaluation() == (
        "max(max_over_time(timestamp(uuid:gpu_utilization_ratio:avg1h)[7800s:5m])) or "
        "max(max_over_time(timestamp(uuid:gpu_utilization_ratio:avg1h)[93600s:1h]))"
    )


def test_xid_window_counts_new_series_and_survives_counter_resets() -> None:
    assert q.xid_window_parts(86400, q.DeviceScope(uuids=["GPU-1"])) == {
        "xid": 'increase(gpu_xid_errors_total{uuid="GPU-1"}[86400s]) > 0',
        "xid_born": (
            '(min_over_time(gpu_xid_errors_total{uuid="GPU-1"}[86400s]) unless '
            'gpu_xid_errors_total{uuid="GPU-1"} offset 86400s) > 0'
        ),
    }


def test_health_query_tags_every_check() -> None:
    query = q.device_health()
    for check in (
        "up",
        "temperature",
        "xid",
        "xid_born",
        "ecc_volatile",
        "ecc_lifetime",
        "remap_pending",
        "remap_failure",
        "throttle",
    ):
        assert f'"check", "{check}"' in query
    assert 'gpu_ecc_errors_total{type="uncorrected"} > 0' in query
    assert (
        'gpu_clock_event_reason_active{reason=~"hw_power_brake|hw_slowdown|'
        'hw_thermal_slowdown|sw_thermal_slowdown"} == 1'
    ) in query
    assert "sw_power_cap" not in query


def test_overheating_queries_filter_on_the_server() -> None:
    assert q.hourly_temperature_above(80) == (
        "max_over_time(uuid:gpu_temperature_celsius:max1h[3599s]) > 80"
    )
    assert q.temperature_above(83.5, q.DeviceScope(uuids=["GPU-1"])) == (
        'gpu_temperature_celsius{uuid="GPU-1"} > 83.5'
    )
    assert q.hot_devices(80) == "gpu_temperature_celsius > 80"


def test_fleet_now_reads_the_rules_and_aggregates_raw_series_as_they_do() -> None:
    groups = yaml.safe_load((ROOT / "alerts" / "gpu-recording.yml").read_text())["groups"]
    rules = {r["record"]: r["expr"] for g in groups for r in g["rules"] if "record" in r}
    assert set(q.FLEET_NOW_RULES.values()) <= set(rules)
    recorded = q.fleet_now_recorded()
    for stat, record in q.FLEET_NOW_RULES.items():
        assert f'label_replace({record}, "stat", "{stat}"' in recorded
    assert f'label_replace(timestamp({q.FLEET_NOW_RULES["devices_up"]}), "stat", "recorded_at"' in (
        recorded
    )
    assert 'label_replace(ALERTS{alertstate="firing"}, "stat", "firing_alert"' in recorded
    # Without the rules: the same expressions on the raw series, one value per device first.
    raw = q.fleet_now()
    for stat in ("utilization", "temperature"):
        assert f'label_replace({rules[q.FLEET_NOW_RULES[stat]]}, "stat", "{stat}"' in raw
    assert "sum(max by (node, uuid) (gpu_memory_used_bytes))" in raw
    assert "sum(max by (node, uuid) (gpu_up))" in raw


def test_inventory_and_pod_allocation_queries() -> None:
    assert q.inventory(q.DeviceScope(nodes=["a", "b"])) == (
        'label_replace(gpu_info{node=~"a|b"}, "stat", "info", "", "") or '
        'label_replace(gpu_up{node=~"a|b"}, "stat", "up", "", "") or '
        'label_replace(gpu_mig_info{node=~"a|b"}, "stat", "mig", "", "")'
    )
    assert q.pod_allocations("ml") == 'gpu_pod_allocation_info{namespace="ml"}'
    assert q.pod_allocations() == "gpu_pod_allocation_info"


def test_node_usage_excludes_pod_cgroups_and_pause_containers() -> None:
    query = q.node_usage(["gpu-1"])
    assert (
        'sum by (node) (rate(container_cpu_usage_seconds_total{node="gpu-1",container!="",'
        'container!="POD"}[5m]))'
    ) in query
    assert 'kube_node_status_allocatable{node="gpu-1",resource="memory"}' in query
