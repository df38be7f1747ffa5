"""The whole stack at fleet scale: 1,000 simulated nodes x 8 GPUs scraped by the real Prometheus.

Brings up a :class:`devstack.scale.ScaleStack` on a generated fleet (bench/analytics_queries.py's
``bench512`` node mix, ``--nodes`` of them: A100 80GB with MIG on two GPUs per node, H100, L4,
RTX 4090; inference, training, notebook and batch pods; daily overheating and XID events):
``--days`` of backfilled history at ``--step``, the multi-target exporter shards discovered
through a file_sd file, the cluster series, Prometheus scraping every ``--scrape-interval``
with every rule file of alerts/ loaded, and the analytics service under gunicorn. Once every
target is up and ``--rounds`` more scrape intervals have passed, it syncs the inventory and
prints:

* p50/p95/p99 of every metrics-backed endpoint (bench/analytics_queries.py's list), and of the
  forecast endpoints cold (first call) and warm, with the Prometheus queries and samples each
  request cost;
* Prometheus' head series, the exporter targets' scrape durations and samples, rule-group
  evaluation times;
* each process's RSS: Prometheus, every multiexporter shard, the cluster series, analytics;
* one node's exporter: scrape latency of its /metrics inside its shard and as a process of its
  own (same node, same headers), and the render time of a fresh snapshot, to compare with
  bench/exporter_scrape.py.

    .venv/bin/python bench/scale.py [--nodes 1000] [--days 1] [--step 300] [--requests 20]
        [--json results.json] [--renders 300] [--cache-dir DIR] [--smoke]

Try it small first: ``--nodes 50 --days 0.25``. ``--smoke`` goes further, for a check that the
benchmark still runs rather than a measurement: one node, 6 hours of history, Prometheus
scraping every 2 s, one round, 2 requests per endpoint and 20 exporter scrapes and renders, in
well under a minute. Its history is cached in data/bench-smoke-history-cache, apart from the
full runs' cache, whose few entries a smoke run would otherwise evict.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import http.client
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import options  # bench/options.py
import psutil
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from analytics_queries import (  # noqa: E402
    GPU_ENDPOINTS,
    RESOURCE_ENDPOINTS,
    Client,
    bench_fleet,
    percentile,
)
from exporter_scrape import HEADERS, render_cost  # noqa: E402

from devstack.prometheus import free_port, query  # noqa: E402
from devstack.scale import ScaleStack  # noqa: E402

FORECAST_ENDPOINTS = ("/gpu/forecast?hours=24", "/resources/forecast?hours=24")
RATED = 'container_cpu_usage_seconds_total{container!=""}'
# The query plane's history reaches 30 days back: the long windows, and a page of a list.
QUERY_PLANE_EXTRA = (
    "/resources/statistics?hours=720",
    "/gpu/devices?page=1&size=100",
    "/resources/pods/all?page=1&size=100",
)
MIB = 1024 * 1024
# --smoke's sizes: every stage and figure of a full run, on one node and a short history.
SMOKE: dict[str, Any] = {
    "nodes": 1,
    "days": 0.25,
    "scrape_interval": 2,
    "rounds": 1,
    "requests": 2,
    "exporter_scrapes": 20,
    "renders": 20,
    "recorded_days": 1,
    "ahead": 600,
    "settle": 5,
    "cache_dir": ROOT / "data" / "bench-smoke-history-cache",
}


def measure(client: Client, path: str, requests: int) -> dict[str, Any] | None:
    """Cold (first) call, two warm-ups, then ``requests`` timed calls; None when absent."""
    status, _headers, cold = client.call("GET", path)
    if status == 404:
        return None
    if status != 200:
        return {"path": path, "error": status}
    for _ in range(2):
        client.call("GET", path)
    times: list[float] = []
    queries, returned, read = 0, 0, 0
    ages: list[int] = []
    for _ in range(requests):
        status, headers, elapsed = client.call("GET", path)
        if status != 200:
            return {"path": path, "error": status}
        times.append(elapsed * 1000)
        if headers.get("age") is not None:
            ages.append(int(headers["age"]))
        queries = max(queries, int(headers.get("x-prometheus-queries", 0)))
        returned = max(returned, int(headers.get("x-prometheus-samples", 0)))
        read = max(read, int(headers.get("x-prometheus-samples-queried", 0)))
    return {
        "path": path,
        "cold_ms": round(cold * 1000, 1),
        "p50_ms": round(statistics.median(times), 1),
        "p95_ms": round(percentile(times, 95), 1),
        "p99_ms": round(percentile(times, 99), 1),
        "queries": queries,
        "samples_returned": returned,
        "samples_read": read,
        # Answered from a live view: how many of the timed calls, and its oldest age (s).
        "from_view": len(ages),
        "view_age_max_s": max(ages) if ages else None,
    }


def wait_scraped(stack: ScaleStack, rounds: int, interval_s: float, log: Any) -> None:
    """Until every exporter target is up, then ``rounds`` more scrape intervals."""
    deadline = time.monotonic() + 600
    nodes = len(stack.nodes)
    up = 0
    while True:
        try:  # Prometheus compacts the overlapping backfilled blocks meanwhile: be patient
            data = query(stack.prometheus_url, 'count(up{job="gpu-exporter"} == 1)', timeout=60)
            up = int(float(data["result"][0]["value"][1])) if data["result"] else 0
        except OSError as exc:
            log(f"waiting for Prometheus: {exc}")
        if up >= nodes:
            break
        if time.monotonic() > deadline:
            raise SystemExit(f"only {up} of {nodes} exporter targets are up")
        time.sleep(2)
    log(f"all {nodes} exporter targets up; waiting {rounds} scrape intervals")
    time.sleep(rounds * interval_s)


def prometheus_numbers(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url + "/metrics", timeout=120) as response:
        own = response.read().decode()
    head_series = next(
        float(line.split()[-1])
        for line in own.splitlines()
        if line.startswith("prometheus_tsdb_head_series ")
    )

    def scalar(promql: str) -> float | None:
        result = query(url, promql, timeout=120)["result"]
        return float(result[0]["value"][1]) if result else None

    job = '{job="gpu-exporter"}'
    # Prometheus does not scrape itself here: read the rule groups from its own /metrics.
    groups = {}
    for line in own.splitlines():
        if line.startswith("prometheus_rule_group_last_duration_seconds{"):
            name = line.split('rule_group="', 1)[1].split('"', 1)[0].rsplit(";", 1)[-1]
            groups[name] = round(float(line.split()[-1]) * 1000, 1)
    with urllib.request.urlopen(url + "/api/v1/rules", timeout=120) as response:
        rule_groups = json.loads(response.read())["data"]["groups"]
    slowest = sorted(
        (
            (rule["evaluationTime"], f"{group['name']}/{rule['name']}")
            for group in rule_groups
            for rule in group["rules"]
        ),
        reverse=True,
    )[:5]
    return {
        "head_series": int(head_series),
        "slowest_rules_ms": {name: round(seconds * 1000, 1) for seconds, name in slowest},
        "exporter_targets_up": scalar(f"count(up{job} == 1)"),
        "scrape_duration_ms": {
            q: round((scalar(f"quantile({v}, scrape_duration_seconds{job})") or 0) * 1000, 1)
            for q, v in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99), ("max", 1))
        },
        "cluster_scrape_ms": {
            name: round((scalar(f'max(scrape_duration_seconds{{job="{name}"}})') or 0) * 1000, 1)
            for name in ("kube-state-metrics", "cadvisor")
        },
        "samples_per_scrape_p50": scalar(f"quantile(0.5, scrape_samples_scraped{job})"),
        "samples_per_round": scalar(f"sum(scrape_samples_scraped{job})"),
        "rule_group_eval_ms": groups,
    }


def memory(stack: ScaleStack) -> dict[str, float]:
    def rss(pids: list[int]) -> float:
        total = 0
        for pid in pids:
            with contextlib.suppress(psutil.NoSuchProcess):
                total += psutil.Process(pid).memory_info().rss
        return round(total / MIB, 1)

    groups = stack.process_groups()
    found = {name: rss(pids) for name, pids in groups.items()}
    for index, pid in enumerate(groups.get("multiexporters", [])):
        found[f"multiexporter {index}"] = rss([pid])
    return found


def scrape_latency(url: str, scrapes: int) -> dict[str, float]:
    parts = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(parts[0], int(parts[1]), timeout=30)
    times: list[float] = []
    size = 0
    for i in range(scrapes + 20):
        started = time.perf_counter()
        connection.request("GET", "/metrics", headers=HEADERS)
        response = connection.getresponse()
        body = response.read()
        elapsed = time.perf_counter() - started
        if response.status != 200:
            raise SystemExit(f"{url}/metrics answered {response.status}")
        if i >= 20:
            times.append(elapsed * 1000)
            size = len(body)
    connection.close()
    return {
        "p50_ms": round(statistics.median(times), 3),
        "p99_ms": round(percentile(times, 99), 3),
        "gzipped_kib": round(size / 1024, 1),
    }


def standalone_exporter(one_node_fleet: Path, node: str, scrapes: int) -> dict[str, float]:
    """The same node as an exporter process of its own (``python -m simulator.exporter``),
    scraped the same way."""
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "simulator.exporter",
            "--simulated-fleet",
            str(one_node_fleet),
            "--node-name",
            node,
            "--listen",
            f"127.0.0.1:{port}",
            "--log-level",
            "WARNING",
        ],
        cwd=ROOT,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(url + "/healthz", timeout=1).read()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise SystemExit("the standalone exporter did not start") from None
                time.sleep(0.2)
        result = scrape_latency(url, scrapes)
        result["rss_mib"] = round(psutil.Process(process.pid).memory_info().rss / MIB, 1)
        return result
    finally:
        process.terminate()
        process.wait(timeout=10)


def one_node_fleet(fleet: Path, node: str, out: Path) -> Path:
    data = yaml.load(fleet.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    data["nodes"] = [spec for spec in data["nodes"] if spec["name"] == node]
    out.write_text(yaml.safe_dump(data, sort_keys=False))
    return out


def _uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--plane",
        choices=("query", "ingestion", "live"),
        default="query",
        help="query: history only, no scraping or rules; ingestion: bench/rule_costs.py "
        "(arguments after --); live: both at once, as measured before issue 16",
    )
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--shards", type=int, help="multiexporter processes (nodes/250)")
    parser.add_argument("--days", type=float, default=1.0, help="raw history, days")
    parser.add_argument("--step", type=int, default=300)
    parser.add_argument(
        "--recorded-days",
        type=float,
        default=29,
        help="query plane: days of hourly gpu-hourly records before the raw history",
    )
    parser.add_argument(
        "--ahead",
        type=int,
        default=1800,
        help="query plane: seconds of history past now (the measurement's 'now' lies inside)",
    )
    parser.add_argument(
        "--recent-step",
        type=int,
        default=60,
        help="query plane: step of the history after the last whole hour (rate windows are 5m)",
    )
    parser.add_argument(
        "--reuse-hours",
        type=int,
        default=3,
        help="query plane: a cached history up to this many hours old serves, topped up",
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=90,
        help="query plane: seconds without a compaction before measuring",
    )
    parser.add_argument(
        "--backend", choices=("prometheus", "victoriametrics"), default="prometheus"
    )
    parser.add_argument("--history-groups", type=int, help="history parts (nodes/125)")
    parser.add_argument("--history-workers", type=int, default=2)
    parser.add_argument(
        "--history-block-hours",
        type=int,
        default=1458,
        help="promtool --max-block-duration in hours; 6 bounds promtool's memory (1458: "
        "one block, as measured in docs/scale.md)",
    )
    parser.add_argument("--scrape-interval", type=int, default=15, help="seconds")
    parser.add_argument(
        "--exporter-interval",
        type=float,
        default=60,
        help="seconds between the exporters' sampling runs, every stage (production: NVML "
        "every 1 s); a thousand simulated nodes sampling every 15 s need more than 2 cores",
    )
    parser.add_argument("--rounds", type=int, default=3, help="scrape rounds before measuring")
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--exporter-scrapes", type=int, default=500)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--end", type=float, help="live plane: history end (unix; default now)")
    parser.add_argument("--workdir", type=Path, help="keep logs and data here")
    parser.add_argument("--renders", type=int, default=300, help="cache-miss renders timed")
    parser.add_argument(
        "--live-view-seconds",
        type=float,
        default=15.0,
        help="the service's live_view_seconds: 15 as the Helm chart sets it; 0 reads Prometheus "
        "at every request",
    )
    parser.add_argument("rest", nargs="*", help="ingestion plane: bench/rule_costs.py's options")
    options.add_cache_dir(parser, ROOT / "data" / "scale-history-cache")
    args = options.parse(parser, SMOKE)
    if args.plane == "ingestion":
        command = [sys.executable, str(ROOT / "bench" / "rule_costs.py"), *args.rest]
        if args.smoke:
            command.append("--smoke")
        if args.json:
            command += ["--json", str(args.json)]
        return subprocess.run(command, check=False).returncode
    os.environ["GPU_ANALYTICS_RATE_LIMIT_ENABLED"] = "false"
    os.environ["GPU_ANALYTICS_PROMETHEUS_QUERY_STATS"] = "true"
    os.environ["GPU_ANALYTICS_LOG_LEVEL"] = "WARNING"
    os.environ["GPU_ANALYTICS_LIVE_VIEW_SECONDS"] = str(args.live_view_seconds)
    directory = ROOT / "data" / "bench-fleets"
    directory.mkdir(parents=True, exist_ok=True)
    fleet = bench_fleet(directory / f"scale-{args.nodes}.yaml", args.nodes)
    report: dict[str, Any] = {
        "plane": args.plane,
        "backend": args.backend,
        "live_view_seconds": args.live_view_seconds,
        "nodes": args.nodes,
        "gpus": args.nodes * 8,
        "history": {"days": args.days, "step_s": args.step},
        "uptime_before": _uptime(),
    }
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        if args.plane == "query":
            query_plane(args, fleet, report, Path(tmp))
        else:
            live_plane(args, fleet, report, Path(tmp))
    print(json.dumps(report, indent=1))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


def log(message: str) -> None:
    print(f"   {message}", flush=True)


def report_history(stack: ScaleStack, report: dict[str, Any]) -> None:
    history = stack.history
    assert history is not None
    report["history"].update(
        cached=history.cached,
        prepare_seconds=round(history.seconds, 1),
        groups=[dataclasses.asdict(s) for s in stack.history_stats],
    )
    for s in stack.history_stats:
        log(
            f"history group of {s.parts} parts: {s.samples} samples, generated in "
            f"{s.generate_seconds}s, promtool {s.promtool_seconds}s, "
            f"peak RSS {s.promtool_max_rss_mib} MiB"
        )


def measure_endpoints(stack: ScaleStack, templates: tuple[str, ...], requests: int) -> list[Any]:
    client = Client(stack.analytics_url, stack.admin_api_key)
    device = f"{stack.nodes[0]}-GPU-00"
    results = []
    for template in templates:
        path = template.format(device=device)
        result = measure(client, path, requests)
        if result is None:
            continue
        results.append(result)
        if "error" in result:
            log(f"{path:48s} HTTP {result['error']}")
            continue
        log(
            "{path:44s} cold {cold_ms:7.1f}  p50 {p50_ms:7.1f}  p95 {p95_ms:7.1f}  "
            "p99 {p99_ms:7.1f} ms  queries {queries:2d}  returned {samples_returned:7d}"
            "  read {samples_read:10d}  from view {from_view:2d}".format(**result)
        )
    return results


def sync_inventory(stack: ScaleStack, report: dict[str, Any]) -> None:
    client = Client(stack.analytics_url, stack.admin_api_key)
    status, _h, elapsed = client.call("POST", "/gpu/metrics/collect")
    report["inventory_sync_ms"] = round(elapsed * 1000, 1)
    log(f"inventory sync: HTTP {status} in {elapsed * 1000:.0f} ms")


def query_plane(args: argparse.Namespace, fleet: Path, report: dict[str, Any], tmp: Path) -> None:
    """The history (raw days, hourly records before them, the last minutes at a finer step
    reaching ``--ahead`` past now) and the analytics service, no scraping, no rules."""
    groups = args.history_groups or max(1, math.ceil(args.nodes / 125))
    report["history"].update(
        recorded_days=args.recorded_days, recent_step_s=args.recent_step, ahead_s=args.ahead
    )
    print(f"== query plane: {args.nodes} nodes, {args.nodes * 8} GPUs, {args.backend}", flush=True)
    started = time.monotonic()
    stack = ScaleStack(
        fleet,
        live=False,
        rule_files=(),
        backend=args.backend,
        history_groups=groups,
        history_workers=args.history_workers,
        history_block_hours=args.history_block_hours,
        recorded_days=args.recorded_days,
        topup_step=args.recent_step,
        reuse_hours=args.reuse_hours,
        days=args.days,
        step=args.step,
        end=time.time() + args.ahead,
        ahead=args.ahead,
        analytics_workers=2,
        workdir=args.workdir or tmp / "stack",
        cache_dir=args.cache_dir,
        start_timeout=3600,
        wait_for_scrapes=False,
        log=log,
    )
    with stack:
        report_history(stack, report)
        report["up_seconds"] = round(time.monotonic() - started, 1)
        settle_storage(stack, report, args.settle)
        # "now" inside the history at a fine step: the service's 5-minute rates find samples.
        rated = query(stack.prometheus_url, f"count(rate({RATED}[5m]))", timeout=120)
        report["rated_series_now"] = (
            int(float(rated["result"][0]["value"][1])) if rated["result"] else 0
        )
        log(f"series with a 5-minute rate now: {report['rated_series_now']}")
        sync_inventory(stack, report)
        templates = FORECAST_ENDPOINTS + GPU_ENDPOINTS + RESOURCE_ENDPOINTS + QUERY_PLANE_EXTRA
        report["endpoints"] = measure_endpoints(stack, templates, args.requests)
        assert stack.history is not None
        report["history_end_left_s"] = round(stack.history.end - time.time())
        if report["history_end_left_s"] < 0:
            log("the measurement outlasted the history: raise --ahead")
        report["memory_mib"] = {
            name: value
            for name, value in memory(stack).items()
            if name in ("prometheus", "analytics")
        }
        log(f"memory MiB: {json.dumps(report['memory_mib'])}")
        report["uptime_during"] = _uptime()


def settle_storage(
    stack: ScaleStack, report: dict[str, Any], quiet_s: float, timeout_s: float = 1800
) -> None:
    """Until Prometheus has merged the history's overlapping blocks (as a long-running server
    has), so that queries read compacted blocks: no compaction for ``quiet_s`` (its compactor
    looks every minute), or ``timeout_s``."""
    if stack.backend != "prometheus":
        return
    began = time.monotonic()
    last, quiet_since = -1.0, time.monotonic()
    while time.monotonic() - began < timeout_s:
        figures = own_metrics(stack.prometheus_url)
        done = figures.get("prometheus_tsdb_compactions_total", 0) + figures.get(
            "prometheus_tsdb_vertical_compactions_total", 0
        )
        if done != last:
            last, quiet_since = done, time.monotonic()
        elif time.monotonic() - quiet_since > quiet_s:
            break
        time.sleep(5)
    figures = own_metrics(stack.prometheus_url)
    report["storage"] = {
        "blocks": figures.get("prometheus_tsdb_blocks_loaded"),
        "compactions": figures.get("prometheus_tsdb_compactions_total"),
        "settle_seconds": round(time.monotonic() - began, 1),
    }
    log(f"storage: {json.dumps(report['storage'])}")


def own_metrics(url: str) -> dict[str, float]:
    with urllib.request.urlopen(url + "/metrics", timeout=120) as response:
        text = response.read().decode()
    found: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#") and "{" not in line.split(" ", 1)[0]:
            name, _, value = line.partition(" ")
            with contextlib.suppress(ValueError):
                found[name] = float(value.split()[0])
    return found


def live_plane(args: argparse.Namespace, fleet: Path, report: dict[str, Any], tmp: Path) -> None:
    """Live scraping and every rule file on the backfilled history, then the endpoints."""
    shards = args.shards or max(1, math.ceil(args.nodes / 250))
    groups = args.history_groups or max(1, math.ceil(args.nodes / 125))
    report.update(shards=shards, exporter_interval_s=args.exporter_interval)
    print(f"== {args.nodes} nodes, {args.nodes * 8} GPUs, {shards} exporter shards", flush=True)
    workdir = args.workdir or tmp / "stack"
    started = time.monotonic()
    stack = ScaleStack(
        fleet,
        shards=shards,
        backend=args.backend,
        history_groups=groups,
        history_workers=args.history_workers,
        history_block_hours=args.history_block_hours,
        exporter_interval=args.exporter_interval,
        days=args.days,
        step=args.step,
        end=args.end,
        scrape_interval=f"{args.scrape_interval}s",
        analytics_workers=2,
        workdir=workdir,
        cache_dir=args.cache_dir,
        start_timeout=1800,
        wait_for_scrapes=False,
        log=log,
    )
    with stack:
        report_history(stack, report)
        wait_scraped(stack, args.rounds, args.scrape_interval, log)
        report["up_seconds"] = round(time.monotonic() - started, 1)
        log(f"up and scraped in {report['up_seconds']:.0f}s")
        sync_inventory(stack, report)
        try:
            report["prometheus"] = prometheus_numbers(stack.prometheus_url)
        except OSError as exc:  # an overloaded machine: keep the other numbers
            report["prometheus"] = {"error": str(exc)}
        log(f"prometheus: {json.dumps(report['prometheus'])}")
        templates = FORECAST_ENDPOINTS + GPU_ENDPOINTS + RESOURCE_ENDPOINTS
        report["endpoints"] = measure_endpoints(stack, templates, args.requests)
        report["memory_mib"] = memory(stack)
        log(f"memory MiB: {json.dumps(report['memory_mib'])}")
        node = stack.nodes[0]
        report["exporter"] = {
            "node": node,
            "in_shard": scrape_latency(stack.exporter_urls[node], args.exporter_scrapes),
        }
        report["uptime_during"] = _uptime()
    single = one_node_fleet(fleet, node, tmp / "one-node.yaml")
    report["exporter"]["own_process"] = standalone_exporter(single, node, args.exporter_scrapes)
    renders = render_cost(single, node, renders=args.renders)
    report["exporter"]["render_ms"] = {
        "p50": round(statistics.median(renders), 3),
        "p99": round(percentile(renders, 99), 3),
    }
    log(f"exporter {node}: {json.dumps(report['exporter'])}")


if __name__ == "__main__":
    sys.exit(main())
