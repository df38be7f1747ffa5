"""Latency of the metric-backed endpoints against a real Prometheus with history.

For each fleet, a :class:`devstack.stack.Stack` backfills the history, starts the simulated
exporters and cluster series, the real Prometheus (recording rules loaded) and the analytics
service under gunicorn; the inventory is synced once; then every endpoint is called
sequentially (one client, keep-alive) and the script prints p50/p99 per endpoint and what each
request cost Prometheus: queries, samples returned (counted by the client) and samples read
(Prometheus' own ``stats=all``, ``totalQueryableSamples``), from the ``X-Prometheus-*``
response headers.

Fleets: ``demo`` (simulator/fleets/demo.yaml) and ``bench512``, generated here: 64 nodes x 8
GPUs = 512 GPUs (A100 80GB with two MIG GPUs per node, H100, L4, RTX 4090), inference,
training, notebook and batch pods, and daily overheating and XID events.

    .venv/bin/python bench/analytics_queries.py [--fleets demo,bench512] [--days 30]
        [--step 60] [--bench-step 300] [--requests 50] [--json results.json]
        [--end UNIX] [--bench-fleet FLEET.yaml] [--only /gpu/overview,/gpu/health] [--settle 60]
        [--bench-nodes 64] [--scrape-interval 15] [--cache-dir DIR] [--smoke]

The 512-GPU history defaults to a 5-minute step (``--bench-step``): a month at one minute would
take tens of minutes to generate on a small machine; hourly recording-rule samples (what long
windows read) are the same either way.

``--smoke`` measures every endpoint the same way on the generated fleet cut to its first node
(an A100 node of 8 GPUs: MIG, every workload, scheduled jobs, overheating and XID events), 5
days of history, Prometheus scraping every 2 s and 2 requests per endpoint, in well under a
minute: a check that the benchmark still runs, not a measurement. Its history is cached in
data/bench-smoke-history-cache (shared with bench/forecast_backtest.py's smoke run), apart from
the full runs' cache, whose few entries a smoke run would otherwise evict.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import options  # bench/options.py
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from devstack.stack import Stack  # noqa: E402

GPU_ENDPOINTS = (
    "/gpu/devices",
    "/gpu/metrics/usage-statistics?hours=1",
    "/gpu/metrics/usage-statistics?hours=24",
    "/gpu/metrics/usage-statistics?hours=720",
    "/gpu/metrics/overheating-alerts?hours=24",
    "/gpu/metrics/overheating-alerts?hours=720",
    "/gpu/overview",
    "/gpu/health",
    "/gpu/devices/overheating",
    "/gpu/devices/{device}/health",
    "/gpu/metrics/collection-status",
    "/gpu/allocations/reconciliation",
)
# helper B's cluster endpoints, measured when the service has them.
RESOURCE_ENDPOINTS = (
    "/resources/pods",
    "/resources/pods/all",
    "/resources/nodes",
    "/resources/usage",
    "/resources/pods/top?resourceType=gpu&limit=10",
    "/resources/health",
    "/resources/statistics?hours=24",
    "/resources/namespaces",
    "/resources/alerts",
    "/resources/metrics/status",
)
# --smoke's sizes: every endpoint and figure of a full run, on a small fleet and history.
SMOKE: dict[str, Any] = {
    "fleets": "bench512",
    "bench_nodes": 1,
    "days": 5.0,
    "requests": 2,
    "settle": 1.0,
    "scrape_interval": 2,
    "cache_dir": ROOT / "data" / "bench-smoke-history-cache",
}


# -- the 512-GPU fleet -------------------------------------------------------------------------


def bench_fleet(path: Path, nodes: int = 64) -> Path:
    """64 nodes x 8 GPUs with mixed models, MIG, workloads and recurring events."""
    kinds = ("A100_80GB",) * 4 + ("H100_80GB",) * 2 + ("L4", "RTX4090")
    specs = []
    for n in range(1, nodes + 1):
        model = kinds[(n - 1) % len(kinds)]
        gpus: list[dict[str, Any]] = []
        if model == "A100_80GB":
            gpus = [
                {"model": model, "count": 6},
                {"model": model, "mig": ["1g.10gb", "2g.20gb", "4g.40gb"]},
                {"model": model, "mig": ["3g.40gb", "3g.40gb"]},
            ]
        else:
            gpus = [{"model": model, "count": 8}]
        workloads = ("inference", "training", "inference", "notebook", "batch", "inference")
        pods = []
        for g, workload in enumerate(workloads):
            pods.append(
                {
                    "name": f"{workload}-{n:02d}-{g}",
                    "namespace": "model-serving" if workload == "inference" else "research",
                    "image": "vllm/vllm-openai:v0.6.3"
                    if workload == "inference"
                    else "nvcr.io/nvidia/pytorch:24.08-py3",
                    **(
                        {"args": ["--model", "meta-llama/Llama-2-7b-chat-hf"]}
                        if workload == "inference"
                        else {}
                    ),
                    "workload": workload,
                    "gpu_memory_gib": 20,
                    "containers": [{"name": "main", "gpus": [g]}],
                }
            )
        if model == "A100_80GB":
            pods.append(
                {
                    "name": f"mig-notebook-{n:02d}",
                    "namespace": "development",
                    "image": "quay.io/jupyter/pytorch-notebook:cuda12-2024-10-14",
                    "workload": "notebook",
                    "gpu_memory_gib": 5,
                    "containers": [{"name": "nb", "mig": [[6, 0]]}],
                }
            )
        # Jobs that come and go, on devices otherwise free: a 36-hourly job and weekday
        # notebooks on the A100 nodes' MIG GPUs; a nightly batch job and weekday training on
        # the other nodes' GPUs 6 and 7.
        workdays = ["mon", "tue", "wed", "thu", "fri"]
        scheduled: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = (
            [
                (
                    "batch",
                    "reindex",
                    {"every_hours": 36, "at_hour": 2, "for_hours": 9},
                    {"mig": [[7, 0]]},
                ),
                (
                    "notebook",
                    "notebook-day",
                    {"weekdays": workdays, "at_hour": 9, "for_hours": 8},
                    {"mig": [[6, 1]]},
                ),
            ]
            if model == "A100_80GB"
            else [
                (
                    "batch",
                    "nightly",
                    {"every_hours": 24, "at_hour": 1 + n % 3, "for_hours": 6},
                    {"gpus": [6]},
                ),
                (
                    "training",
                    "workday-train",
                    {"weekdays": workdays, "at_hour": 8, "for_hours": 10},
                    {"gpus": [7]},
                ),
            ]
        )
        for workload, name, schedule, devices in scheduled:
            pods.append(
                {
                    "name": f"{name}-{n:02d}",
                    "namespace": "development" if workload == "notebook" else "research",
                    "image": "nvcr.io/nvidia/pytorch:24.08-py3",
                    "workload": workload,
                    "gpu_memory_gib": 5 if workload == "notebook" else 18,
                    "schedule": schedule,
                    "containers": [{"name": "main", **devices}],
                }
            )
        events = [
            {
                "type": "overheat",
                "gpu": 1,
                "at": f"{n % 24}h",
                "every": "1d",
                "duration": "20m",
                "delta_c": 25,
            },
            {"type": "xid", "gpu": 2, "at": f"{(n * 7) % 24}h", "every": "3d", "xid": 13},
        ]
        if n % 8 == 0:
            events.append({"type": "xid", "gpu": 3, "at": "5h", "every": "2d", "xid": 48})
        specs.append(
            {
                "name": f"bench-node-{n:02d}",
                "cpu_cores": 96,
                "memory_gib": 1024,
                "gpus": gpus,
                "pods": pods,
                "events": events,
            }
        )
    fleet = {"seed": 512, "epoch": "2026-01-01T00:00:00Z", "nodes": specs}
    path.write_text(yaml.safe_dump(fleet, sort_keys=False))
    return path


# -- measuring ---------------------------------------------------------------------------------


class Client:
    def __init__(self, base: str, key: str) -> None:
        parts = urlsplit(base)
        self.prefix = parts.path
        self.connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        self.headers = {"X-API-Key": key, "Content-Type": "application/json"}

    def call(self, method: str, path: str) -> tuple[int, dict[str, str], float]:
        started = time.perf_counter()
        try:
            self.connection.request(method, self.prefix + path, headers=self.headers)
            response = self.connection.getresponse()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            # The server closed the idle keep-alive connection (after the settle wait, or a
            # worker restarted): one new connection, not counted in the time.
            self.connection.close()
            started = time.perf_counter()
            self.connection.request(method, self.prefix + path, headers=self.headers)
            response = self.connection.getresponse()
        response.read()
        elapsed = time.perf_counter() - started
        return response.status, {k.lower(): v for k, v in response.getheaders()}, elapsed


def add_stack_options(parser: argparse.ArgumentParser) -> None:
    """The options of the stacks this script and forecast_backtest.py start."""
    parser.add_argument(
        "--bench-nodes", type=int, default=64, help="nodes of 8 GPUs in the generated bench512"
    )
    parser.add_argument(
        "--scrape-interval",
        type=int,
        default=15,
        help="seconds between Prometheus' scrapes and rule evaluations (default 15)",
    )
    options.add_cache_dir(parser, ROOT / "data" / "bench-history-cache")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = max(0, math.ceil(q / 100 * len(ordered)) - 1)
    return ordered[index]


def measure(client: Client, path: str, requests: int) -> dict[str, Any] | None:
    status, _headers, _t = client.call("GET", path)
    if status == 404:
        return None
    if status != 200:
        return {"path": path, "error": status}
    for _ in range(2):
        client.call("GET", path)
    times, queries, returned, queried = [], [], [], []
    for _ in range(requests):
        status, headers, elapsed = client.call("GET", path)
        assert status == 200, (path, status)
        times.append(elapsed * 1000)
        queries.append(int(headers.get("x-prometheus-queries", 0)))
        returned.append(int(headers.get("x-prometheus-samples", 0)))
        queried.append(int(headers.get("x-prometheus-samples-queried", 0)))
    return {
        "path": path,
        "p50_ms": round(statistics.median(times), 1),
        "p99_ms": round(percentile(times, 99), 1),
        "queries": max(queries),
        "samples_returned": max(returned),
        "samples_queried": max(queried),
    }


def run_fleet(
    name: str,
    fleet: Path,
    days: float,
    step: int,
    requests: int,
    end: float | None,
    only: set[str] | None = None,
    settle: float = 0.0,
    *,
    scrape_interval_s: int = 15,
    cache_dir: Path = ROOT / "data" / "bench-history-cache",
) -> dict[str, Any]:
    print(f"\n== {name}: {fleet.name}, {days:g} days of history at {step}s steps", flush=True)
    with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as tmp:
        started = time.monotonic()
        stack = Stack(
            fleet,
            days=days,
            step=step,
            end=end,
            scrape_interval=f"{scrape_interval_s}s",
            evaluation_interval=f"{scrape_interval_s}s",
            analytics_workers=2,
            workdir=Path(tmp) / "stack",
            cache_dir=cache_dir,
            start_timeout=600,
            log=lambda message: print(f"   {message}", flush=True),
        )
        with stack:
            print(f"   up in {time.monotonic() - started:.0f}s", flush=True)
            client = Client(stack.analytics_url, stack.admin_api_key)
            status, _h, elapsed = client.call("POST", "/gpu/metrics/collect")
            assert status == 200, status
            print(f"   inventory sync: {elapsed * 1000:.0f} ms", flush=True)
            if settle > 0:
                # The start (history top-up, first scrapes and rule evaluations, Prometheus
                # loading its blocks) keeps a small machine busy for a while after "up".
                print(f"   settling {settle:.0f}s, load {os.getloadavg()[0]:.2f}", flush=True)
                time.sleep(settle)
                print(f"   load {os.getloadavg()[0]:.2f}", flush=True)
            device = f"{stack.nodes[0]}-GPU-00"
            gpus = sum(len(node.gpus) for node in stack.fleet.nodes)
            results = []
            for template in GPU_ENDPOINTS + RESOURCE_ENDPOINTS:
                if only is not None and template not in only:
                    continue
                path = template.format(device=device)
                result = measure(client, path, requests)
                if result is None:
                    continue
                results.append(result)
                print(
                    "   {path:48s} p50 {p50_ms:7.1f} ms  p99 {p99_ms:7.1f} ms  "
                    "queries {queries:2d}  samples returned {samples_returned:6d}  "
                    "read {samples_queried:9d}".format(**result)
                    if "error" not in result
                    else f"   {path:48s} HTTP {result['error']}",
                    flush=True,
                )
            return {"fleet": name, "gpus": gpus, "days": days, "step_s": step, "results": results}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fleets", default="demo,bench512")
    parser.add_argument("--days", type=float, default=30)
    parser.add_argument("--step", type=int, default=60, help="history step of the demo fleet")
    parser.add_argument("--bench-step", type=int, default=300, help="history step at 512 GPUs")
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--json", type=Path)
    parser.add_argument(
        "--end",
        type=float,
        help="unix time the history ends (default now); an end in the hour of an earlier run "
        "reuses its cached history instead of generating it again",
    )
    parser.add_argument(
        "--bench-fleet",
        type=Path,
        help="fleet file for bench512 instead of generating one (e.g. the copy an earlier run "
        "measured, to compare with it on its cached history)",
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=60.0,
        help="seconds to wait after the stack is up before measuring (default 60)",
    )
    parser.add_argument(
        "--only", help="comma-separated endpoint paths to measure (default: every endpoint)"
    )
    add_stack_options(parser)
    args = options.parse(parser, SMOKE)
    # Measure the service, not the rate limiter; ask Prometheus for its sample counts.
    os.environ["GPU_ANALYTICS_RATE_LIMIT_ENABLED"] = "false"
    os.environ["GPU_ANALYTICS_PROMETHEUS_QUERY_STATS"] = "true"
    os.environ["GPU_ANALYTICS_LOG_LEVEL"] = "WARNING"
    # The simulated exporters sample once per scrape (15 s) instead of every second: 64 of
    # them would otherwise take most of a small machine's CPU away from what is measured.
    for stage in ("NVML", "PROCESSES", "POD_RESOURCES", "KUBERNETES"):
        os.environ[f"GPU_EXPORTER_{stage}_INTERVAL"] = "15"
    only = set(args.only.split(",")) if args.only else None
    reports = []
    for name in args.fleets.split(","):
        if name == "demo":
            reports.append(
                run_fleet(
                    name,
                    ROOT / "simulator/fleets/demo.yaml",
                    args.days,
                    args.step,
                    args.requests,
                    args.end,
                    only,
                    args.settle,
                    scrape_interval_s=args.scrape_interval,
                    cache_dir=args.cache_dir,
                )
            )
        elif name == "bench512":
            if args.bench_fleet is not None:
                fleet = args.bench_fleet
            else:
                directory = ROOT / "data" / "bench-fleets"
                directory.mkdir(parents=True, exist_ok=True)
                fleet = bench_fleet(
                    directory / f"bench-{args.bench_nodes * 8}.yaml", args.bench_nodes
                )
            reports.append(
                run_fleet(
                    name,
                    fleet,
                    args.days,
                    args.bench_step,
                    args.requests,
                    args.end,
                    only,
                    args.settle,
                    scrape_interval_s=args.scrape_interval,
                    cache_dir=args.cache_dir,
                )
            )
        else:
            parser.error(f"unknown fleet {name!r}")
    if args.json:
        args.json.write_text(json.dumps(reports, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
