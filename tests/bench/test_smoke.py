"""The benchmarks in bench/ still run: each script with ``--smoke`` exits 0 and prints its figures.

A benchmark nobody runs rots (bench/exporter_scrape.py stopped starting its exporter when the
fleet validator arrived, and nothing noticed). Each test runs one script as a process of its
own, the way a person runs it, with ``--smoke``'s tiny sizes, and reads the figures off its
output: every headline line is there and its numbers parse. Timings are never asserted; only
counts that follow from the inputs are. The scripts write their generated fleets and smoke
histories under data/ (ignored by git), as when a person runs them.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent.parent
BENCH = ROOT / "bench"
NUMBER = r"[-+]?\d+(?:\.\d+)?"
# Far above a smoke run's seconds on a busy 2-core machine, below pytest's 300 s per test.
RUN_TIMEOUT_S = 240


def run_bench(script: str, *args: str) -> str:
    """Run ``bench/<script> --smoke ARGS`` from the repository root; its stdout once it exits 0.

    The environment is the caller's without GPU_ANALYTICS_* / GPU_EXPORTER_* settings, as in a
    fresh shell. Past the timeout the script gets SIGINT, so its with-blocks stop the servers
    it started, before its process group is killed."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("GPU_ANALYTICS_", "GPU_EXPORTER_"))
    }
    process = subprocess.Popen(
        [sys.executable, str(BENCH / script), "--smoke", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGINT)
        try:
            stdout, stderr = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            stdout, stderr = process.communicate()
        raise AssertionError(
            f"{script} --smoke ran past {RUN_TIMEOUT_S}s:\n{stdout[-3000:]}\n{stderr[-3000:]}"
        ) from None
    assert process.returncode == 0, (
        f"{script} --smoke exited {process.returncode}:\n{stdout[-3000:]}\n{stderr[-3000:]}"
    )
    return stdout


def figures(output: str, pattern: str) -> list[tuple[float, ...]]:
    """The numbers of every line matching ``pattern``, where ``{n}`` stands for a number."""
    regex = re.compile(pattern.replace("{n}", f"({NUMBER})"), re.MULTILINE)
    return [tuple(float(value) for value in match.groups()) for match in regex.finditer(output)]


def one_figure(output: str, pattern: str) -> tuple[float, ...]:
    found = figures(output, pattern)
    assert len(found) == 1, f"expected one line like {pattern!r} in:\n{output}"
    return found[0]


def bench_module(name: str) -> ModuleType:
    """A bench script loaded as a module, for the lists of what it measures."""
    sys.path.insert(0, str(BENCH))  # the scripts import each other by module name
    try:
        spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up while defined
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(BENCH))


def endpoint_line(template: str) -> str:
    """A pattern for an endpoint path as the scripts print it (``{device}`` filled in)."""
    return re.escape(template).replace(re.escape("{device}"), r"\S+")


# -- exporter and NVML -------------------------------------------------------------------------


def test_exporter_scrape_prints_latency_rss_and_render_cost_of_both_fleets() -> None:
    output = run_bench("exporter_scrape.py")
    for label in (r"a: 8 GPUs, 100 pods", r"b: 8 GPUs x 7 MIG"):
        scrapes, series, gzipped_kib, plain_kib = one_figure(
            output,
            rf"^\({label}\) {{n}} scrapes, {{n}} series, {{n}} KiB gzipped \({{n}} KiB plain\)",
        )
        assert scrapes == 50
        assert series > 0 and 0 < gzipped_kib < plain_kib
    assert len(figures(output, r"^    latency ms: p50 {n}  p99 {n}  max {n}$")) == 2
    assert (
        len(
            figures(
                output,
                r"^    RSS MiB: after warm-up {n}  peak {n}  end {n}  \(growth {n}\); "
                r"after a {n} s soak {n}$",
            )
        )
        == 2
    )
    assert (
        len(figures(output, r"^    render \(cache miss, in-process\) ms: p50 {n}  p99 {n}$")) == 2
    )
    gpm = figures(
        output,
        r"^    gpm stage \(background, in-process\) ms per cycle: p50 {n}  p99 {n}; per GPU p50 "
        r"{n}; {n} targets sampled on {n} of {n} GPUs$",
    )
    # (a) 8 H100 (GPM: one target each, no MIG); (b) 8 A100 in MIG mode (no GPM).
    assert [g[3:] for g in gpm] == [(8.0, 8.0, 8.0), (0.0, 0.0, 8.0)]
    assert len(figures(output, r"^    exporter CPU seconds in all: user {n} system {n}$")) == 2


def test_nvml_read_reads_every_gpu_of_the_simulated_node(tmp_path: Path) -> None:
    fleet = yaml.safe_load((ROOT / "simulator" / "fleets" / "test-small.yaml").read_text())
    node = next(spec for spec in fleet["nodes"] if spec["name"] == "sim-node-1")
    gpus = sum(gpu.get("count", 1) for gpu in node["gpus"])
    exposition = tmp_path / "exposition.prom"

    output = run_bench("nvml_read.py", "--out", str(exposition))

    devices, up = one_figure(output, r"^devices: {n} \(up: {n}\), driver \S+, cuda \S+$")
    assert (devices, up) == (gpus, gpus)
    assert len(figures(output, r"^  GPU {n} .+: {n} fields: .+$")) == gpus
    one_figure(output, r"^processes seen: {n}; xid watcher registered {n} GPUs$")
    one_figure(output, r"^read_devices ms: p50 {n} p99 {n}$")
    one_figure(output, r"^read_processes ms: p50 {n} p99 {n}$")
    _render_ms, size = one_figure(output, r"^render ms: {n}, exposition bytes: {n}$")
    assert exposition.stat().st_size == size


# -- analytics ---------------------------------------------------------------------------------


def test_allocations_prints_throughput_latency_and_no_double_allocation() -> None:
    output = run_bench("allocations.py")
    clients, cycles = 2, 5  # --smoke's
    assert re.search(rf"^backend=sqlite clients={clients} cycles={cycles} ", output, re.M)
    _elapsed, allocations, requests = one_figure(
        output, r"^elapsed_s={n} allocations={n} requests={n}$"
    )
    # Two devices for two clients that each hold one at a time: every allocation succeeds.
    assert (allocations, requests) == (clients * cycles, 2 * clients * cycles)
    one_figure(output, r"^allocations_per_s={n} requests_per_s={n}$")
    for name in ("allocate_ms", "release_ms ", "all_ms     "):
        one_figure(output, rf"^{name} p50={{n}} p99={{n}}$")
    server_cpu, client_cpu = one_figure(output, r"^cpu_ms_per_request server={n} client={n}$")
    assert server_cpu > 0 and client_cpu > 0
    assert one_figure(output, r"^5xx={n} double_allocations={n}$") == (0, 0)


def test_expensive_reads_prints_the_storm_the_cheap_requests_and_the_cached_answer() -> None:
    output = run_bench("expensive_reads.py")
    one_figure(output, r"^cheap requests alone ms: p50 {n} max {n}$")
    statuses = re.search(r"^concurrent analyses: 6, statuses (\{.*\})$", output, re.M)
    assert statuses, output
    codes = ast.literal_eval(statuses.group(1))
    # --smoke's 6 at once: some answered, the rest refused at once, nothing else.
    assert set(codes) <= {200, 429} and codes.get(200) and sum(codes.values()) == 6, codes
    one_figure(output, r"^answered ms: p50 {n} max {n}$")
    one_figure(output, r"^cheap requests ms: p50 {n} max {n}$")
    one_figure(output, r"^the same analysis again ms: p50 {n}$")


def test_slow_clients_prints_latency_under_held_connections() -> None:
    output = run_bench("slow_clients.py")
    one_figure(output, r"^cpus={n}$")
    lines = figures(
        output,
        r"^worker_class=\w+ workers={n} threads={n} idle={n} slow={n} requests={n} "
        r"p50_ms={n} max_ms={n} over_200ms={n} failed={n}$",
    )
    assert lines, output
    for _workers, _threads, _idle, _slow, requests, *_latency, over_200ms, failed in lines:
        assert 0 <= over_200ms <= requests and 0 <= failed <= requests


def test_analytics_queries_measures_every_endpoint() -> None:
    module = bench_module("analytics_queries")
    output = run_bench("analytics_queries.py")
    one_figure(output, r"^   up in {n}s$")
    one_figure(output, r"^   inventory sync: {n} ms$")
    assert "HTTP " not in output, output  # an endpoint that did not answer 200
    for template in module.GPU_ENDPOINTS + module.RESOURCE_ENDPOINTS:
        path = endpoint_line(template)
        one_figure(
            output,
            rf"^   {path} +p50 +{{n}} ms  p99 +{{n}} ms  queries +{{n}}  "
            rf"samples returned +{{n}}  read +{{n}}$",
        )


def test_forecast_backtest_prints_mase_and_latency() -> None:
    module = bench_module("forecast_backtest")
    output = run_bench("forecast_backtest.py")
    for metric in (r"gpu utilisation \(%\)", "allocated GPUs"):
        points, folds = one_figure(
            output, rf"^   {metric}: {{n}} hourly points, {{n}} folds \(.+\)$"
        )
        assert (points, folds) == (5 * 24, 1)  # --smoke's 5 days, one fold
    scored = figures(
        output,
        r"^      MASE ours {n}   seasonal naive \(24 h\) {n}   ratio {n}   "
        r"\(MAE {n} vs {n}\)$",
    )
    # A constant series has no MASE; the script then says so and prints both MAEs.
    unscored = figures(output, r"^      MASE undefined: .+; MAE ours {n}, seasonal naive {n}$")
    assert len(scored) + len(unscored) == 2, output
    for path in module.PATHS:
        one_figure(output, rf"^   warm {re.escape(path)} +p50 +{{n}} ms  p99 +{{n}} ms$")
        one_figure(
            output,
            rf"^   cold {re.escape(path)} +p50 +{{n}} ms  p99 +{{n}} ms   "
            rf"\(first request of the worker {{n}} ms\)$",
        )
        one_figure(
            output,
            rf"^   after the background warm-up, first request {re.escape(path)} +{{n}} ms$",
        )


def test_scale_query_plane_reports_every_endpoint_on_history_alone() -> None:
    module = bench_module("scale")
    output = run_bench("scale.py", "--plane", "query")
    report: dict[str, Any] = json.loads(output[output.index("\n{\n") + 1 :])
    assert (report["plane"], report["nodes"], report["gpus"]) == ("query", 1, 8)
    # The history reached past the measurement, so "now" lay inside it throughout.
    assert report["history_end_left_s"] > 0
    assert report["history"]["recorded_days"] == 1
    assert report["storage"]["blocks"] > 0
    measured = {result["path"]: result for result in report["endpoints"]}
    templates = (
        module.FORECAST_ENDPOINTS
        + module.GPU_ENDPOINTS
        + module.RESOURCE_ENDPOINTS
        + module.QUERY_PLANE_EXTRA
    )
    for template in templates:
        [path] = [p for p in measured if re.fullmatch(endpoint_line(template), p)]
        result = measured[path]
        assert "error" not in result, result
        assert isinstance(result["p95_ms"], float), path
    # 5-minute rates need two samples near now: without scraping, the finer recent history
    # gives them (every container's CPU counter).
    assert report["rated_series_now"] > 0
    assert set(report["memory_mib"]) == {"prometheus", "analytics"}


def test_scale_ingestion_plane_is_rule_costs() -> None:
    output = run_bench("scale.py", "--plane", "ingestion", "--", "--help")
    assert "rule_costs.py" in output and "--eval-interval" in output


def test_scale_reports_prometheus_endpoints_memory_and_exporter() -> None:
    module = bench_module("scale")
    output = run_bench("scale.py", "--plane", "live")
    report: dict[str, Any] = json.loads(output[output.index("\n{\n") + 1 :])
    assert (report["nodes"], report["gpus"], report["shards"]) == (1, 8, 1)
    prometheus = report["prometheus"]
    assert "error" not in prometheus, prometheus
    assert prometheus["head_series"] > 0
    assert prometheus["exporter_targets_up"] == 1
    for quantile in ("p50", "p95", "p99", "max"):
        assert isinstance(prometheus["scrape_duration_ms"][quantile], float)
    assert prometheus["samples_per_round"] > 0
    assert prometheus["rule_group_eval_ms"]

    measured = {result["path"]: result for result in report["endpoints"]}
    for template in module.FORECAST_ENDPOINTS + module.GPU_ENDPOINTS + module.RESOURCE_ENDPOINTS:
        [path] = [p for p in measured if re.fullmatch(endpoint_line(template), p)]
        result = measured[path]
        assert "error" not in result, result
        for figure in ("cold_ms", "p50_ms", "p95_ms", "p99_ms"):
            assert isinstance(result[figure], float), (path, figure)
        for figure in ("queries", "samples_returned", "samples_read"):
            assert isinstance(result[figure], int), (path, figure)

    for process in ("prometheus", "multiexporters", "cluster series", "analytics"):
        assert report["memory_mib"][process] > 0, process
    exporter = report["exporter"]
    for where in ("in_shard", "own_process"):
        assert isinstance(exporter[where]["p50_ms"], float), where
        assert isinstance(exporter[where]["p99_ms"], float), where
        assert exporter[where]["gzipped_kib"] > 0, where
    assert exporter["own_process"]["rss_mib"] > 0
    assert isinstance(exporter["render_ms"]["p50"], float)


# -- rules -------------------------------------------------------------------------------------


def test_rule_costs_prints_every_rule_group_at_each_fleet_size() -> None:
    module = bench_module("rule_costs")
    output = run_bench("rule_costs.py")
    groups = {
        group["name"]: path.name
        for path in sorted((ROOT / "alerts").glob("*.yml"))
        for group in yaml.safe_load(path.read_text())["groups"]
    }
    # --smoke's one size: 16 GPUs on two nodes, every group evaluated twice after its first.
    _series, samples, scrape_cpu = one_figure(
        output,
        r"^16 GPUs \(2 nodes\): head series {n}, samples per scrape round {n}, "
        r"Prometheus CPU per 15 s scraping {n} s$",
    )
    assert samples > 0 and scrape_cpu >= 0
    (rules_cpu,) = one_figure(
        output,
        r"^ rules alerts: Prometheus CPU per 15 s for the rules, every group at the bench's "
        r"interval: {n} s$",
    )
    assert rules_cpu >= 0
    for name, file in groups.items():
        interval, wall, query, wall_15s, query_15s, evaluations = one_figure(
            output,
            rf"^  group {re.escape(name)} +{re.escape(file)} +interval +{{n}} s  "
            r"evaluation wall +{n} s  query +{n} s  per 15 s: wall +{n} s, query +{n} s  "
            r"\({n} evaluations\)$",
        )
        assert evaluations >= 2, (name, evaluations)
        assert abs(query_15s - query * 15 / interval) < 1e-3, (name, query_15s, query, interval)
        assert abs(wall_15s - wall * 15 / interval) < 1e-3, (name, wall_15s, wall, interval)
    opt_in = {name for name, file in groups.items() if file in module.OPT_IN_FILES}
    assert opt_in == {"dcgm-exporter-compat"}
    one_figure(output, r"^  default groups per 15 s: wall {n} s, query {n} s$")
    one_figure(output, r"^  opt-in groups per 15 s: wall {n} s, query {n} s$")
    assert len(figures(output, r"^  slow rule +{n} s  \S+/\S+$")) == 8
    growth = output[output.index("cost per 15 s (s) of rules alerts by GPUs:") :]
    for name in [*groups, "default total", "opt-in total"]:
        one_figure(growth, rf"^  {re.escape(name)} +{{n}}$")
