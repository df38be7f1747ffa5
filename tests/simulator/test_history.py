"""The history writer: the exporter's own readings, exact continuation, lost GPUs, state series
and recording rules, and a well-formed OpenMetrics file."""

from __future__ import annotations

import itertools
import math
import random
from pathlib import Path

import pytest
import yaml

from exporter.metrics import BY_NAME as EXPORTER_METRICS
from exporter.nvml import NvmlReader
from simulator import ManualClock, SimulatedFleet
from simulator.cluster import BY_NAME as CLUSTER_METRICS
from simulator.fleet import load_fleet
from simulator.history import (
    _SIMPLE,
    DEFAULT_STATE_INTERVAL_S,
    DENSE_GPU_METRICS,
    RECORDING_RULES,
    RULE_GROUP,
    RULE_INTERVAL_S,
    RULE_LABELS,
    _Loads,
    busy_increment,
    change_times,
    dense_device_sample,
    hourly_aggregate,
    write_history,
    xid_counts,
)
from simulator.state import NodeState

from .conftest import DEMO, EPOCH, SMALL

ROOT = Path(__file__).resolve().parents[2]
Series = dict[tuple[str, str], list[tuple[int, float]]]


def parse_openmetrics(path: Path) -> tuple[Series, list[str]]:
    """Samples by (name, label text) in file order, and the comment lines in order."""
    series: Series = {}
    comments: list[str] = []
    for line in path.read_text().splitlines():
        if line.startswith("#"):
            comments.append(line)
            continue
        brace = line.index("{")
        close = line.rindex("}")
        value, ts = line[close + 1 :].split()
        series.setdefault((line[:brace], line[brace + 1 : close]), []).append(
            (int(ts), float(value))
        )
    return series, comments


def value_at(points: list[tuple[int, float]], t: int, lookback: int) -> float | None:
    found = [v for ts, v in points if t - lookback <= ts <= t]
    return found[-1] if found else None


class TestTheExportersReadings:
    @pytest.mark.parametrize("fleet_path", [DEMO, SMALL])
    def test_dense_fields_equal_what_nvml_reader_reads(self, fleet_path: Path) -> None:
        spec = load_fleet(fleet_path)
        clock = ManualClock(0)
        fleet = SimulatedFleet(spec, clock)
        rng = random.Random(4)
        compared = 0
        for node in spec.nodes:
            simulated = fleet.node(node.name)
            simulated.nvml.nvmlInit()
            reader = NvmlReader(simulated.nvml, clock=clock.now)
            for _ in range(12):
                t = int(EPOCH) + rng.randrange(0, 40 * 86400) // 60 * 60
                clock.set(t)
                for real in reader.read_devices():
                    if not real.up:
                        continue
                    index = real.identity.index
                    ctx = simulated.state.contexts[index]
                    fast = dense_device_sample(
                        ctx,
                        real,
                        t,
                        _Loads(ctx).at(t // 60),
                        simulated.state.energy_meter(index),
                        real.busy_seconds_total,
                    )
                    for name in (*DENSE_GPU_METRICS, "gpu_memory_used_bytes"):
                        attribute = _SIMPLE[name]
                        assert getattr(fast, attribute) == getattr(real, attribute), (t, name)
                        compared += 1
        assert compared > 100

    def test_busy_seconds_follow_the_exporters_integration(self) -> None:
        clock = ManualClock(EPOCH + 5 * 3600 + 30)
        simulated = SimulatedFleet.from_file(SMALL, clock).node("sim-node-1")
        simulated.nvml.nvmlInit()
        reader = NvmlReader(simulated.nvml, clock=clock.now)
        start = {d.identity.index: d.busy_seconds_total for d in reader.read_devices()}
        t0 = clock.now()
        for _ in range(150):
            clock.advance(1.0)
            end = {d.identity.index: d.busy_seconds_total for d in reader.read_devices()}
        t1 = clock.now()
        checked = 0
        for index, ctx in enumerate(simulated.state.contexts):
            if start[index] is None:
                continue  # MIG: the exporter has no busy counter there
            measured = end[index] - start[index]  # type: ignore[operator]
            modelled = busy_increment(ctx, int(t0), int(t1))
            # The driver's sample at a minute boundary carries the new minute's value.
            boundaries = math.floor(t1 / 60) - math.floor(t0 / 60)
            assert measured == pytest.approx(modelled, abs=boundaries / 6 + 1e-6)
            checked += 1
        assert checked == 2


@pytest.fixture(scope="module")
def demo_window(tmp_path_factory: pytest.TempPathFactory) -> tuple[Series, list[str]]:
    # Worker 4's GPU 7 falls off the bus for ten minutes at 04:00 every day.
    out = tmp_path_factory.mktemp("history") / "demo.om"
    start = EPOCH + 10 * 86400 + 2 * 3600 + 30 * 60
    write_history(DEMO, out, start=start, end=start + 3 * 3600, step=60)
    return parse_openmetrics(out)


class TestTheFile:
    def test_families_are_contiguous_and_end_with_eof(
        self, demo_window: tuple[Series, list[str]], tmp_path: Path
    ) -> None:
        _series, comments = demo_window
        assert comments[-1] == "# EOF"
        families = [c.split()[2] for c in comments if c.startswith("# TYPE")]
        assert len(families) == len(set(families))

    def test_every_series_is_known_and_labelled_as_scraped(
        self, demo_window: tuple[Series, list[str]]
    ) -> None:
        series, _comments = demo_window
        rules = {r.record for r in RECORDING_RULES}
        for name, label_text in series:
            if name in rules:
                assert "job=" not in label_text and "instance=" not in label_text
                continue
            assert name in EXPORTER_METRICS or name in CLUSTER_METRICS, name
            assert 'job="' in label_text and 'instance="' in label_text, name

    def test_counters_never_decrease(self, demo_window: tuple[Series, list[str]]) -> None:
        series, _comments = demo_window
        counters = [n for n, m in EXPORTER_METRICS.items() if m.kind.value == "counter"]
        counters += [n for n, m in CLUSTER_METRICS.items() if m.kind == "counter"]
        checked = 0
        for (name, _labels), points in series.items():
            if name in counters:
                values = [v for _t, v in points]
                assert values == sorted(values), name
                checked += 1
        assert checked > 50

    def test_a_lost_gpu_reports_down_and_nothing_else(
        self, demo_window: tuple[Series, list[str]]
    ) -> None:
        series, _comments = demo_window
        lost_start = int(EPOCH) + 10 * 86400 + 4 * 3600
        gpu7 = load_fleet(DEMO).node("gpu-worker-4").gpus[7].uuid
        mine = {key: pts for key, pts in series.items() if f'uuid="{gpu7}"' in key[1]}
        up = dict(next(pts for (name, _l), pts in mine.items() if name == "gpu_up"))
        lost = range(lost_start, lost_start + 600, 60)
        assert [up[t] for t in lost] == [0.0] * 10
        assert up[lost_start - 60] == 1.0 and up[lost_start + 600] == 1.0
        temperature = next(
            pts for (name, _l), pts in mine.items() if name == "gpu_temperature_celsius"
        )
        assert not {t for t, _v in temperature} & set(lost)
        # Identity stays (the exporter remembers it); XID 79 counted when it fell off.
        assert any(name == "gpu_info" for name, _l in mine)
        xids = [pts for (name, lbl), pts in mine.items() if name == "gpu_xid_errors_total"]
        assert xids and 'xid="79"' in next(k[1] for k in mine if k[0] == "gpu_xid_errors_total")
        assert value_at(xids[0], lost_start - 60, 300) is None
        assert value_at(xids[0], lost_start, 300) == 1.0

    def test_state_series_every_five_minutes_and_at_changes(
        self, demo_window: tuple[Series, list[str]]
    ) -> None:
        series, _comments = demo_window
        info = next(pts for (name, _l), pts in series.items() if name == "gpu_info")
        times = [t for t, _v in info]
        assert all(t % DEFAULT_STATE_INTERVAL_S == 0 for t in times[1:])
        assert all(b - a <= DEFAULT_STATE_INTERVAL_S for a, b in itertools.pairwise(times))
        pods = [pts for (name, _l), pts in series.items() if name == "kube_pod_info"]
        # Every standing pod, and one pod per window of a scheduled one in the written span
        # (a Sunday night: the nightly batch job only).
        start, end = min(times), max(times)
        fleet_pods = [p for n in load_fleet(DEMO).nodes for p in n.pods]
        windows = [w for p in fleet_pods if p.schedule for w in p.schedule.windows(start, end + 1)]
        assert len(windows) == 1
        assert len(pods) == sum(1 for p in fleet_pods if p.schedule is None) + len(windows)


class TestContinuation:
    def test_a_continued_history_equals_one_written_at_once(self, tmp_path: Path) -> None:
        # Across the split: test-small's GPU 2 falls off the bus at +2h for ten minutes.
        start, split, end = EPOCH + 1800, EPOCH + 2 * 3600 + 300, EPOCH + 2 * 3600 + 3300
        whole = write_history(SMALL, tmp_path / "whole.om", start=start, end=end)
        first = write_history(SMALL, tmp_path / "first.om", start=start, end=split)
        rest = write_history(
            SMALL, tmp_path / "rest.om", start=split, end=end, continue_from=first.counters
        )
        assert (first.start, rest.end) == (whole.start, whole.end)
        assert rest.start == split + 60
        one, _ = parse_openmetrics(tmp_path / "whole.om")
        a, _ = parse_openmetrics(tmp_path / "first.om")
        b, _ = parse_openmetrics(tmp_path / "rest.om")
        joined = {key: a.get(key, []) + b.get(key, []) for key in a.keys() | b.keys()}
        assert joined.keys() == one.keys()
        dense = {*DENSE_GPU_METRICS, "gpu_up", "container_cpu_usage_seconds_total"}
        for key, points in one.items():
            if key[0] in dense:
                assert joined[key] == points, key
                continue
            for t in range(whole.start, whole.end + 1, 60):
                assert value_at(joined[key], t, 300) == value_at(points, t, 300), (key, t)


class TestStateChanges:
    def test_change_times_cover_windows_and_events(self) -> None:
        node = load_fleet(DEMO).node("gpu-worker-3")
        state = NodeState(42, EPOCH, node)
        changes = change_times(state, EPOCH + 86400, EPOCH + 4 * 86400)
        # ECC on GPU 2 every 2 days from +9h; the XID on GPU 5 at +30h; overheats are not state.
        assert changes == [EPOCH + 30 * 3600, EPOCH + 2 * 86400 + 9 * 3600]

    def test_xids_count_from_the_origin(self) -> None:
        node = load_fleet(SMALL).node("sim-node-1")
        state = NodeState(7, EPOCH, node)
        assert xid_counts(state, EPOCH + 3600, EPOCH + 5 * 3600)[0].xid == 79  # 13 was at origin
        ((gpu1,), (both)) = (
            xid_counts(state, EPOCH, EPOCH + 3600),
            xid_counts(state, EPOCH, EPOCH + 3 * 3600),
        )
        assert (gpu1.xid, gpu1.count, gpu1.last_seen_timestamp_seconds) == (13, 1, EPOCH + 3600)
        assert sorted((x.xid, x.count) for x in both) == [(13, 1), (79, 1)]


class TestRecordingRules:
    def test_hourly_aggregate_is_prometheus_range_semantics(self) -> None:
        rng = random.Random(2)
        t0 = 1_800_000_000 - 1_800_000_000 % 3600
        raw = [(t0 + 60 * k, rng.random()) for k in range(0, 300) if k % 17]  # with gaps
        bounds = (raw[0][0], raw[-1][0])
        for hour_end, value in hourly_aggregate(raw, "avg", *bounds):
            window = [v for t, v in raw if hour_end - 3600 <= t <= hour_end]
            assert value == pytest.approx(sum(window) / len(window), rel=1e-12)
        maxima = dict(hourly_aggregate(raw, "max", *bounds))
        assert maxima[t0 + 7200] == max(v for t, v in raw if t0 + 3600 <= t <= t0 + 7200)
        assert min(maxima) >= raw[0][0] + 3600

    def test_the_rules_file_is_what_the_history_writes(self) -> None:
        data = yaml.safe_load((ROOT / "alerts" / "recording-rules.yml").read_text())
        (group,) = [g for g in data["groups"] if g["name"] == RULE_GROUP]
        assert group["interval"] == f"{RULE_INTERVAL_S // 3600}h"
        assert [(r["record"], r["expr"]) for r in group["rules"]] == [
            (r.record, r.expr) for r in RECORDING_RULES
        ]
        assert [r.record for r in RECORDING_RULES] == [
            "uuid:gpu_utilization_ratio:avg1h",
            "uuid:gpu_memory_used_bytes:avg1h",
            "uuid:gpu_temperature_celsius:avg1h",
            "uuid:gpu_temperature_celsius:max1h",
            "uuid:gpu_power_usage_watts:avg1h",
        ]
        assert RULE_LABELS == ("node", "gpu", "uuid")
        # Rules read only catalogue series, and keep only labels every device series has.
        for rule in RECORDING_RULES:
            assert EXPORTER_METRICS[rule.metric].labels == RULE_LABELS
