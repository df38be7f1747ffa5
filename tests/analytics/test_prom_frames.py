"""Answers reshaped for the services (analytics/prom/frames.py), on answers recorded from a real
Prometheus (tests/analytics/data/)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from analytics.prom import PromClient, Series, frames
from analytics.prom import queries as q
from analytics.prom.frames import Run
from tests.analytics.prom_fake import FakePrometheus, Reply

DATA = Path(__file__).parent / "data"


def recorded(name: str) -> Any:
    return json.loads((DATA / f"{name}.json").read_text())


def test_tagged_usage_answer_pivots_to_one_row_per_gpu(fake_prometheus: FakePrometheus) -> None:
    fake_prometheus.answer(Reply(200, recorded("usage_statistics_raw")))
    samples = PromClient(fake_prometheus.url).query("recorded")
    table = frames.pivot(samples, "gpu", q.STAT_LABEL)
    assert sorted(table) == ["0", "1", "2"]
    assert set(table["1"]) == {"utilization", "memory_used", "memory_total", "temperature"}
    # A GPU in MIG mode reports no utilisation: no entry there, but a row all the same.
    assert set(table["0"]) == {"memory_used", "memory_total", "temperature"}
    assert table["1"]["utilization"] == 0.47274924471299073
    assert table["2"]["memory_total"] == 25769803776


def test_range_answer_becomes_points_by_gpu(fake_prometheus: FakePrometheus) -> None:
    fake_prometheus.answer(Reply(200, recorded("temperature_range")))
    series = PromClient(fake_prometheus.url).query_range("recorded", 0, 1, 15)
    points = frames.points_by(series, "gpu")
    assert sorted(points) == ["0", "1", "2"]
    assert [len(p) for p in points.values()] == [41, 41, 41]
    assert all([t for t, _v in p] == sorted(t for t, _v in p) for p in points.values())


def test_runs_above_threshold_on_recorded_temperatures(fake_prometheus: FakePrometheus) -> None:
    fake_prometheus.answer(Reply(200, recorded("temperature_range")))
    series = PromClient(fake_prometheus.url).query_range("recorded", 0, 1, 15)
    points = frames.points_by(series, "gpu")
    # GPU 2 reads 73-75 °C throughout: one run spanning the whole recording.
    runs = frames.runs_above(points, {"0": 85.0, "1": 87.0, "2": 72.0}, 22.5)
    assert runs == [Run(key="2", start=1795684298.0, end=1795684898.0, peak=75.0, samples=41)]


def test_runs_split_at_gaps_and_drop_cool_readings() -> None:
    points = [(60.0 * i, v) for i, v in enumerate([80, 90, 91, 80, 92, 93, 94])]
    points.pop(5)  # a missing reading inside the second run: still one run (gap 120 s)
    # A time read twice (overlapping ranges) counts once.
    by_key = frames.points_by(
        [Series({"key": "a"}, points), Series({"key": "a"}, points[:2])], "key"
    )
    runs = frames.runs_above(by_key, {"a": 85.0}, max_gap_seconds=150)
    assert [(r.start, r.end, r.peak, r.samples) for r in runs] == [
        (60.0, 120.0, 91.0, 2),
        (240.0, 360.0, 94.0, 2),
    ]
    assert frames.runs_above(by_key, {}, 150) == []


def test_group_means_skip_missing_values() -> None:
    rows = [
        {"model": "A", "u": 10.0, "t": 50.0},
        {"model": "A", "u": None, "t": 70.0},
        {"model": "B", "u": 30.0, "t": 40.0},
    ]
    means = frames.group_means(rows, "model", ["u", "t"])
    assert means["A"] == {"count": 2, "u": 10.0, "t": 60.0}
    assert means["B"]["count"] == 1


def test_empty_answers_give_empty_tables() -> None:
    assert frames.pivot([], "uuid", "stat") == {}
    assert frames.points_by([], "uuid") == {}
    assert frames.group_means([], "model", ["u"]) == {}
