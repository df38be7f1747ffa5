"""Scheduled pods (fleet key ``schedule``): validation, window edges, one answer in every view
(kubelet, Kubernetes API, NVML, /proc, cluster series, history), GPUs idle outside the windows,
and the allocated-GPU count a real Prometheus answers over the history.

Expected presence is computed here from the YAML with ``datetime`` (not with simulator.fleet)."""

from __future__ import annotations

import copy
import datetime as dt
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from analytics.prom.queries_forecast import MODEL_ALLOCATED_RULE, STEP_SECONDS
from devstack.stack import Stack
from exporter.procfs import container_of_pid
from simulator import ManualClock, SimulatedFleet, SimulatedNode
from simulator.cluster import ClusterSeries, Sample
from simulator.fleet import FleetError, load_fleet, parse_fleet
from simulator.history import write_history
from simulator.state import DRIVER_RESERVE_BYTES, MINUTE_S, minute_load
from tests.cost.truth import present
from tests.stack_fixtures import make_stack

from .conftest import EPOCH, FLEETS
from .test_history import parse_openmetrics

SCHEDULES = FLEETS / "test-schedules.yaml"
NODE = "sched-node-1"
HOUR = 3600
DAY = 86400
# 2026-01-01 (the epoch) is a Thursday; 2026-01-03 a Saturday.
THURSDAY, SATURDAY = EPOCH, EPOCH + 2 * DAY


def fleet_yaml() -> dict[str, Any]:
    return dict(yaml.safe_load(SCHEDULES.read_text()))


def yaml_pods() -> list[dict[str, Any]]:
    return list(fleet_yaml()["nodes"][0]["pods"])


def expected_present(pod: dict[str, Any], t: float) -> bool:
    """Presence by the documented rule, from the YAML alone (the cost truth's reading of it;
    the fleet's epoch is a UTC midnight)."""
    return present(pod.get("schedule"), EPOCH, t)


def node_at(t: float) -> SimulatedNode:
    return SimulatedFleet.from_file(SCHEDULES, ManualClock(t)).node(NODE)


def with_schedule(schedule: object, **pod: Any) -> dict[str, Any]:
    data = copy.deepcopy(fleet_yaml())
    data["nodes"][0]["pods"][1]["schedule"] = schedule
    data["nodes"][0]["pods"][1].update(pod)
    return data


class TestValidation:
    @pytest.mark.parametrize(
        ("schedule", "message"),
        [
            ({"at_hour": 1, "for_hours": 2}, "either 'every_hours'"),
            (
                {"every_hours": 24, "weekdays": ["mon"], "for_hours": 2},
                "either 'every_hours'",
            ),
            ({"every_hours": 24, "at_hour": 1, "for_hours": 24}, "does not fit in the period"),
            ({"every_hours": 24, "at_hour": 25, "for_hours": 1}, "does not fall within"),
            ({"every_hours": 0, "for_hours": 1}, "must be positive"),
            ({"every_hours": 24, "for_hours": 0}, "more than 0 h"),
            ({"every_hours": 24, "for_hours": 0.001}, "whole number of minutes"),
            ({"weekdays": ["mon", "funday"], "for_hours": 2}, "'funday' is not one of mon"),
            ({"weekdays": [], "for_hours": 2}, "non-empty list"),
            ({"weekdays": ["mon", "mon"], "for_hours": 2}, "listed twice"),
            ({"weekdays": ["mon"], "at_hour": 8, "for_hours": 24}, "does not fit in a day"),
            ({"every_hours": 24, "for_hours": 2, "cron": "* * * * *"}, "unknown key(s) 'cron'"),
            ("nightly", "expected a mapping"),
        ],
    )
    def test_bad_schedules_say_where_and_why(self, schedule: object, message: str) -> None:
        with pytest.raises(FleetError, match="nodes\\[0\\]\\.pods\\[1\\]\\.schedule") as error:
            parse_fleet(with_schedule(schedule))
        assert message in str(error.value)

    def test_only_running_pods_have_a_schedule(self) -> None:
        data = with_schedule({"every_hours": 24, "for_hours": 2}, phase="Succeeded")
        with pytest.raises(FleetError, match="only a Running pod can have a schedule"):
            parse_fleet(data)

    def test_a_scheduled_pods_devices_are_its_own(self) -> None:
        data = fleet_yaml()
        data["nodes"][0]["pods"][1]["containers"][0]["gpus"] = [0]
        with pytest.raises(FleetError, match="GPU 0 is already held by"):
            parse_fleet(data)

    def test_fractional_hours_on_whole_minutes(self) -> None:
        spec = parse_fleet(with_schedule({"every_hours": 1.5, "at_hour": 0.25, "for_hours": 0.5}))
        schedule = spec.nodes[0].pods[1].schedule
        assert schedule is not None
        assert (schedule.every_seconds, schedule.at_seconds, schedule.for_seconds) == (
            5400,
            900,
            1800,
        )


class TestWindows:
    def test_start_is_inside_and_end_is_not(self) -> None:
        nightly = load_fleet(SCHEDULES).nodes[0].pods[1]
        start, end = EPOCH + 1 * HOUR, EPOCH + 7 * HOUR
        for day in range(-2, 40):
            shift = day * DAY
            assert not nightly.present_at(start + shift - 1)
            assert nightly.present_at(start + shift)
            assert nightly.present_at(end + shift - 0.001)
            assert not nightly.present_at(end + shift)

    def test_presence_follows_the_documented_rule(self) -> None:
        spec = load_fleet(SCHEDULES).nodes[0]
        for t in range(int(EPOCH) - 3 * DAY, int(EPOCH) + 21 * DAY, 1800):
            for pod, raw in zip(spec.pods, yaml_pods(), strict=True):
                assert pod.present_at(t) == expected_present(raw, t), (raw["name"], t)
                assert (pod.pod_at(t) is not None) == pod.present_at(t)

    def test_weekdays_only_and_36_hours_walks_through_the_day(self) -> None:
        pods = {p.name: p for p in load_fleet(SCHEDULES).nodes[0].pods}
        assert pods["finetune-workday"].present_at(THURSDAY + 12 * HOUR)
        assert not pods["finetune-workday"].present_at(SATURDAY + 12 * HOUR)
        tokenize = pods["corpus-tokenize"].schedule
        assert tokenize is not None
        starts = [b - EPOCH for b, _e in tokenize.windows(EPOCH, EPOCH + 4 * DAY)]
        assert starts == [2 * HOUR, 38 * HOUR, 74 * HOUR]

    def test_each_window_is_a_new_pod_created_at_its_start(self) -> None:
        nightly = load_fleet(SCHEDULES).nodes[0].pods[1]
        first = nightly.pod_at(EPOCH + 2 * HOUR)
        again = nightly.pod_at(EPOCH + 5 * HOUR)
        second = nightly.pod_at(EPOCH + DAY + 2 * HOUR)
        assert first is not None and again is not None and second is not None
        assert first == again
        assert first.uid != second.uid and first.name != second.name
        job = f"nightly-embeddings-{int(EPOCH + HOUR) // 60}"
        assert first.name.startswith(job + "-") and len(first.name) == len(job) + 6
        assert first.owner is not None and (first.owner.kind, first.owner.name) == ("Job", job)
        assert first.start_time == first.created_time == EPOCH + HOUR
        ids = {c.container_id for c in first.containers} | {
            c.container_id for c in second.containers
        }
        assert len(ids) == 2
        # An owner given in the YAML is every occurrence's.
        workday = load_fleet(SCHEDULES).nodes[0].pods[3].pod_at(THURSDAY + 9 * HOUR)
        assert workday is not None and workday.owner is not None
        assert workday.owner.name == "finetune-workday"


def cluster_pods(samples: list[Sample]) -> set[str]:
    return {dict(s.labels)["pod"] for s in samples if s.name == "kube_pod_info"}


def cadvisor_pods(samples: list[Sample]) -> set[str]:
    return {dict(s.labels)["pod"] for s in samples if s.name == "container_cpu_usage_seconds_total"}


class TestEveryViewAgrees:
    # Thursday 12:00 (the workday jobs run, the nightly one does not) and 03:00 (the reverse).
    @pytest.mark.parametrize("t", [THURSDAY + 12 * HOUR, THURSDAY + 3 * HOUR, SATURDAY + 12 * HOUR])
    def test_kubelet_api_nvml_proc_and_cluster_series(self, t: float, tmp_path: Path) -> None:
        node = node_at(t)
        expected = {raw["name"] for raw in yaml_pods() if raw.get("schedule") is None} | {
            raw["name"] for raw in yaml_pods() if expected_present(raw, t)
        }
        present = node.spec.pods_at(t)
        names = {p.name for p in present}
        bases = {base.name for base in node.spec.pods if base.pod_at(t) is not None}
        assert bases == expected
        kubelet = {p.name for p in node.pod_resources_response().pod_resources}
        api = {item["metadata"]["name"] for item in node.pod_list()["items"]}
        series = ClusterSeries(node.fleet)
        assert kubelet == api == names
        assert cluster_pods(series.kube_state_metrics(t)) == names
        assert cadvisor_pods(series.cadvisor(t)) == names
        # NVML lists exactly the present pods' processes; /proc names their pods.
        node.nvml.nvmlInit()
        try:
            pids = {
                process.pid
                for index in range(len(node.spec.gpus))
                for process in node.gpu_values(index, t).processes
            }
        finally:
            node.nvml.nvmlShutdown()
        by_pid = {c.pid: p for p in present for c in p.containers if c.pid is not None}
        assert pids == set(by_pid)
        node.write_proc(tmp_path, t)
        for pid, pod in by_pid.items():
            owner = container_of_pid(tmp_path, pid)
            assert owner is not None and owner[0] == pod.uid
        scheduled_pids = {
            c.pid for p in node.spec.pods if p.schedule for c in p.containers if c.pid is not None
        }
        for pid in scheduled_pids - pids:
            assert container_of_pid(tmp_path, pid) is None

    def test_proc_follows_the_window(self, tmp_path: Path) -> None:
        node = node_at(THURSDAY + 3 * HOUR)
        nightly = node.spec.pods[1]
        pid = nightly.containers[0].pid
        assert pid is not None
        node.write_proc(tmp_path)
        first = container_of_pid(tmp_path, pid)
        node.write_proc(tmp_path, THURSDAY + 8 * HOUR)
        assert container_of_pid(tmp_path, pid) is None
        node.write_proc(tmp_path, THURSDAY + DAY + 2 * HOUR)
        second = container_of_pid(tmp_path, pid)
        assert first is not None and second is not None and first[0] != second[0]

    def test_the_pod_is_created_and_started_at_its_window(self) -> None:
        t = THURSDAY + 3 * HOUR
        node = node_at(t)
        item = next(
            i
            for i in node.pod_list()["items"]
            if i["metadata"]["name"].startswith("nightly-embeddings-")
        )
        assert item["metadata"]["creationTimestamp"] == "2026-01-01T01:00:00Z"
        assert item["status"]["startTime"] == "2026-01-01T01:00:00Z"
        samples = ClusterSeries(node.fleet).kube_state_metrics(t)
        created = {dict(s.labels)["pod"]: s.value for s in samples if s.name == "kube_pod_created"}
        assert created[item["metadata"]["name"]] == EPOCH + HOUR


class TestTheGpus:
    def test_idle_with_memory_free_outside_the_window(self) -> None:
        node = node_at(EPOCH)
        nightly_gpu = 1
        inside = [node.gpu_values(nightly_gpu, EPOCH + HOUR + m * 600) for m in range(36)]
        outside = [node.gpu_values(nightly_gpu, EPOCH + 8 * HOUR + m * 600) for m in range(36)]
        assert max(v.utilization_ratio for v in inside) > 0.5
        assert {v.memory_used_bytes for v in inside} == {DRIVER_RESERVE_BYTES + 40 * 1024**3}
        assert {v.utilization_ratio for v in outside} == {0.0}
        assert {v.memory_used_bytes for v in outside} == {DRIVER_RESERVE_BYTES}
        assert all(v.processes == () for v in outside)
        idle = node.spec.gpus[nightly_gpu].model.idle_power_w
        assert {v.power_watts for v in outside} == {idle}

    def test_a_mig_instance_frees_its_memory(self) -> None:
        node = node_at(EPOCH)
        weekday = node.gpu_values(2, THURSDAY + 10 * HOUR)
        weekend = node.gpu_values(2, SATURDAY + 10 * HOUR)
        assert weekday.mig[1].memory_used_bytes > weekend.mig[1].memory_used_bytes
        assert weekday.memory_used_bytes - weekend.memory_used_bytes == 12 * 1024**3

    def test_energy_is_the_exact_integral_across_window_edges(self) -> None:
        node = node_at(EPOCH)
        state = node.state
        for index in (1, 3, 4):
            ctx = state.contexts[index]
            total = 0
            for minute in range(int(EPOCH) // 60, int(EPOCH + 4 * DAY) // 60):
                load = minute_load(ctx, minute, noisy=False)
                power_mw = round(
                    (
                        ctx.gpu.model.idle_power_w
                        + (ctx.gpu.model.power_limit_w - ctx.gpu.model.idle_power_w)
                        * load.utilization**0.9
                    )
                    * 1000
                )
                total += power_mw * MINUTE_S
                if minute % 97 == 0:
                    t = (minute + 1) * MINUTE_S
                    assert node.gpu_values(index, t).energy_millijoules == total, (index, t)
            assert node.gpu_values(index, EPOCH + 4 * DAY).energy_millijoules == total


class TestTheHistory:
    def test_allocation_series_have_samples_exactly_inside_the_windows(
        self, tmp_path: Path
    ) -> None:
        start, end = EPOCH + 2 * DAY - 2 * HOUR, EPOCH + 3 * DAY + 4 * HOUR  # Fri 22:00 .. Sun
        out = tmp_path / "history.om"
        write_history(SCHEDULES, out, start=start, end=end, step=60)
        series, _comments = parse_openmetrics(out)
        spec = load_fleet(SCHEDULES).nodes[0]
        allocations: dict[str, list[int]] = {}
        for (name, labels), points in series.items():
            if name == "gpu_pod_allocation_info":
                pod = labels.split('pod="', 1)[1].split('"', 1)[0]
                allocations.setdefault(pod, []).extend(t for t, _v in points)
        checked = 0
        for base, raw in zip(spec.pods, yaml_pods(), strict=True):
            schedule = base.schedule
            if schedule is None:
                assert base.name in allocations
                continue
            for begin, finish in schedule.windows(start, end):
                pod = base.pod_at(begin)
                assert pod is not None
                times = sorted(allocations.pop(pod.name))
                assert all(expected_present(raw, t) for t in times)
                assert times[0] == max(begin, start)
                assert finish - 300 <= times[-1] < finish or finish > end
                checked += 1
        assert checked >= 3
        # Nothing else: no series for a pod outside its windows.
        assert set(allocations) == {spec.pods[0].name}
        kube = {
            labels.split('pod="', 1)[1].split('"', 1)[0]: [t for t, _v in points]
            for (name, labels), points in series.items()
            if name == "kube_pod_info"
        }
        nightly = spec.pods[1].pod_at(EPOCH + 2 * DAY + 2 * HOUR)
        assert nightly is not None
        assert kube[nightly.name][0] == EPOCH + 2 * DAY + HOUR
        assert kube[nightly.name][-1] == EPOCH + 2 * DAY + 7 * HOUR - 300


# -- end to end: the allocated-GPU query on a real Prometheus ----------------------------------

HISTORY_DAYS = 5


@pytest.fixture(scope="module")
def schedule_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    base = tmp_path_factory.mktemp("schedules")
    stack = make_stack(base, SCHEDULES, days=HISTORY_DAYS, analytics=False)
    with stack:
        yield stack


def expected_allocated(t: float, lookback: float = 0.0) -> dict[str, int]:
    """GPUs per NVML model name held by a pod present at some time in [t - lookback, t]."""
    data = fleet_yaml()
    node = data["nodes"][0]
    models: list[str] = []
    for entry in node["gpus"]:
        models += [entry["model"]] * entry.get("count", 1)
    names = {"A100_80GB": "NVIDIA A100-SXM4-80GB", "H100_80GB": "NVIDIA H100 80GB HBM3"}
    held: set[int] = set()
    for pod in node["pods"]:
        steps = range(int(t - lookback), int(t) + 1, 60)
        if any(expected_present(pod, s) for s in steps):
            for container in pod["containers"]:
                held.update(container.get("gpus", []))
                held.update(g for g, _slot in container.get("mig", []))
    counts: dict[str, int] = {}
    for index in held:
        counts[names[models[index]]] = counts.get(names[models[index]], 0) + 1
    return counts


def test_allocated_gpus_from_prometheus_follow_the_schedules(schedule_stack: Stack) -> None:
    """The model-hourly rule /gpu/forecast reads (backfilled by promtool over the history):
    at each evaluation, per model, the GPUs held by a pod present then."""
    spec = schedule_stack.fleet.nodes[0]
    assert {gpu.product_name for gpu in spec.gpus} == {
        "NVIDIA A100-SXM4-80GB",
        "NVIDIA H100 80GB HBM3",
    }
    # The backfilled history's whole hours (the live part begins at its end).
    end = schedule_stack.history_end // STEP_SECONDS * STEP_SECONDS
    window = (HISTORY_DAYS - 1) * DAY
    response = requests.get(
        schedule_stack.prometheus_url + "/api/v1/query",
        params={"query": f"{MODEL_ALLOCATED_RULE}[{window}s]", "time": end},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    answered: dict[float, dict[str, int]] = {}
    for result in response.json()["data"]["result"]:
        model = result["metric"]["model_name"]
        for ts, value in result["values"]:
            answered.setdefault(float(ts), {})[model] = int(float(value))
    # Once an hour (at the group's offset), through the window.
    times = sorted(answered)
    assert len(times) >= window // STEP_SECONDS - 1
    assert all(b - a == STEP_SECONDS for a, b in itertools.pairwise(times))
    # Prometheus 2.x sees a series' last sample for 5 minutes, including at exactly T - 5 m; a
    # backfill writes no staleness marker, so a pod counts for 5 minutes after its window ends.
    for t in times:
        assert answered[t] == expected_allocated(t, lookback=300), dt.datetime.fromtimestamp(
            t, dt.UTC
        )
    totals = [sum(answered[t].values()) for t in times]
    assert min(totals) == 1 and max(totals) >= 4
