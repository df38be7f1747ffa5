"""Forecast quality and latency: a rolling-origin backtest on the simulated fleets' history and
the latency of /gpu/forecast and /resources/forecast, warm and cold.

For each fleet a :class:`devstack.stack.Stack` backfills the history (30 days by default),
starts the exporters, the cluster series, the real Prometheus with the recording rules and the
analytics service under gunicorn (2 workers). Then:

* **Backtest.** The hourly series the service forecasts (cluster GPU utilisation, allocated
  GPUs) are read with the service's own range query; over the last ``--backtest-days`` days,
  one origin per day, the service's forecaster (model choice, fit) sees the history before the
  origin and forecasts the next 24 h, and so does the 24 h seasonal-naive forecast. MASE of
  a fold = its MAE / the in-sample MAE of the one-day-ahead seasonal-naive forecast on that
  fold's history (Hyndman & Koehler, m = 24); the script prints the mean over folds for both
  methods and their ratio. A series whose in-sample seasonal-naive error is zero (a constant
  one) has no MASE; the script says so and prints both MAEs.
* **Latency.** Warm: an analytics service of one gunicorn worker on the stack's Prometheus,
  called twice (its cache then holds the hour's forecasts and settled history), then
  ``--requests`` sequential calls. Cold: another one-worker service with
  ``GPU_ANALYTICS_FORECAST_CACHE_ENTRIES=0``, so every request reads the month from Prometheus
  and fits every series from scratch; its very first request, which also imports statsmodels,
  is printed on its own (what a request paid before the background warm-up). After warm-up:
  a one-worker service as it runs by default, which loads statsmodels and fits the forecasts
  in the background as it starts; once it has gone quiet, its first request per endpoint.

Fleets: ``demo`` (simulator/fleets/demo.yaml, 32 GPUs) and ``bench512`` (64 x 8 GPUs, generated
by bench/analytics_queries.py). Histories are cached in data/bench-history-cache; ``--end`` /
``--bench-end`` (unix seconds) reuse a cached history of an earlier hour instead of
generating one (a month for 512 GPUs takes many minutes on a small machine).

    .venv/bin/python bench/forecast_backtest.py [--fleets demo,bench512] [--days 30]
        [--backtest-days 7] [--requests 20] [--cold-requests 5] [--end UNIX] [--bench-end UNIX]
        [--bench-nodes 64] [--scrape-interval 15] [--cache-dir DIR] [--smoke]

``--smoke`` runs the backtest (one fold) and both latency services on the generated fleet cut
to one node, with 5 days of history (the least with which the forecaster still chooses and fits
a model at the fold's origin, rather than falling back to a baseline for a short history),
Prometheus scraping every 2 s and 2 warm and 1 cold request per endpoint, in well under a
minute: a check that the benchmark still runs, not a measurement. Its history is cached in
data/bench-smoke-history-cache, shared with bench/analytics_queries.py's smoke run.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import options  # bench/options.py
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from analytics_queries import Client, add_stack_options, bench_fleet, percentile  # noqa: E402

from analytics.forecasting import Bounds, forecast_series  # noqa: E402
from analytics.forecasting.baseline import mae, mase_scale, seasonal_naive  # noqa: E402
from analytics.prom import PromClient  # noqa: E402
from analytics.prom import queries_forecast as q  # noqa: E402
from analytics.services.forecast.service import add_known, hourly, on_grid  # noqa: E402
from devstack.processes import spawn, stop  # noqa: E402
from devstack.prometheus import free_port  # noqa: E402
from devstack.stack import Stack, analytics_command  # noqa: E402

HORIZON = 24
PATHS = ("/gpu/forecast?hours=24", "/resources/forecast?hours=24")
# --smoke's sizes: every stage and figure of a full run, on a small fleet and history. The
# fleet, days and step match bench/analytics_queries.py's smoke run, so they share its history.
SMOKE: dict[str, Any] = {
    "fleets": "bench512",
    "bench_nodes": 1,
    "days": 5.0,
    "backtest_days": 1,
    "requests": 2,
    "cold_requests": 1,
    "scrape_interval": 2,
    "cache_dir": ROOT / "data" / "bench-smoke-history-cache",
}


# -- backtest ----------------------------------------------------------------------------------


def cluster_series(prom_url: str, end: float, days: float) -> dict[str, np.ndarray]:
    """Cluster GPU utilisation (percent) and allocated GPUs, hourly, with the service's queries,
    up to the last whole hour of the backfilled history (``end``)."""
    prom = PromClient(prom_url, timeout_seconds=60)
    start, end = q.hourly_window(end, round(days * 24))
    parts: dict[str, list[Any]] = {}
    for series in prom.query_range(q.gpu_series(), start, end, q.STEP_SECONDS):
        parts.setdefault(series.labels.get(q.TAG, ""), []).append(series)
    utilization = on_grid(parts["utilization"][0].points, start, end) * 100.0
    allocated = np.full(len(utilization), np.nan)
    for series in parts["allocated"]:
        allocated = add_known(allocated, on_grid(series.points, start, end))
    found: dict[str, np.ndarray] = {}
    for name, grid in (("gpu utilisation (%)", utilization), ("allocated GPUs", allocated)):
        series = hourly(grid, start)
        if series is not None:
            found[name] = series.values
    return found


def backtest(values: np.ndarray, days: int, bounds: Bounds) -> dict[str, Any]:
    n = len(values)
    folds = []
    for k in range(days, 0, -1):
        origin = n - k * HORIZON
        history, actual = values[:origin], values[origin : origin + HORIZON]
        forecast = forecast_series(history, HORIZON, bounds)
        folds.append(
            {
                "origin_index": origin,
                "method": forecast.model,
                "scale": mase_scale(history),
                "ours_mae": mae(actual, forecast.mean),
                "naive_mae": mae(actual, seasonal_naive(history, HORIZON)),
            }
        )
    scaled = [f for f in folds if f["scale"] > 0]
    result: dict[str, Any] = {
        "points": n,
        "folds": len(folds),
        "methods": {m: sum(f["method"] == m for f in folds) for m in {f["method"] for f in folds}},
        "ours_mae": statistics.fmean(f["ours_mae"] for f in folds),
        "naive_mae": statistics.fmean(f["naive_mae"] for f in folds),
        "ours_mase": None,
        "naive_mase": None,
    }
    if len(scaled) == len(folds):
        result["ours_mase"] = statistics.fmean(f["ours_mae"] / f["scale"] for f in folds)
        result["naive_mase"] = statistics.fmean(f["naive_mae"] / f["scale"] for f in folds)
    return result


def print_backtest(name: str, result: dict[str, Any]) -> None:
    methods = ", ".join(f"{m} x{c}" for m, c in sorted(result["methods"].items()))
    print(f"   {name}: {result['points']} hourly points, {result['folds']} folds ({methods})")
    if result["ours_mase"] is None:
        print(
            "      MASE undefined: the in-sample seasonal-naive error is 0 (the series is "
            f"constant); MAE ours {result['ours_mae']:.4f}, seasonal naive "
            f"{result['naive_mae']:.4f}"
        )
        return
    ratio = result["ours_mase"] / result["naive_mase"] if result["naive_mase"] else math.nan
    print(
        f"      MASE ours {result['ours_mase']:.3f}   seasonal naive (24 h) "
        f"{result['naive_mase']:.3f}   ratio {ratio:.3f}   "
        f"(MAE {result['ours_mae']:.4f} vs {result['naive_mae']:.4f})"
    )


# -- latency -----------------------------------------------------------------------------------


def timings(client: Client, path: str, requests: int) -> list[float]:
    found = []
    for _ in range(requests):
        status, _headers, elapsed = client.call("GET", path)
        assert status == 200, (path, status)
        found.append(elapsed * 1000)
    return found


def summary(values: list[float]) -> str:
    return f"p50 {statistics.median(values):8.1f} ms  p99 {percentile(values, 99):8.1f} ms"


def one_worker_service(
    stack: Stack, workdir: Path, name: str, cache_entries: int, warmup: bool = False
) -> tuple[Any, str]:
    """An analytics service of one gunicorn worker on the stack's Prometheus (so every request
    meets the same cache); ``cache_entries`` 0: it never caches forecasts; ``warmup``: it fits
    the forecasts in the background at start (the service's default)."""
    port = free_port()
    env = {
        **os.environ,
        "GPU_ANALYTICS_DATA_DIR": str(workdir / name),
        "GPU_ANALYTICS_PROMETHEUS_URL": stack.prometheus_url,
        "GPU_ANALYTICS_ADMIN_API_KEY": stack.admin_api_key,
        "GPU_ANALYTICS_FORECAST_CACHE_ENTRIES": str(cache_entries),
        "GPU_ANALYTICS_FORECAST_WARMUP": "true" if warmup else "false",
        "GPU_ANALYTICS_SYNC_INTERVAL_SECONDS": "0",
    }
    process = spawn(
        analytics_command(f"127.0.0.1:{port}", 1),
        log_path=workdir / f"{name}.log",
        env=env,
        cwd=ROOT,
    )
    root = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            probe = Client(root + "/k8s-monitor/api/v1", stack.admin_api_key)
            probe.connection.request("GET", "/readyz")
            if probe.connection.getresponse().status == 200:
                return process, root + "/k8s-monitor/api/v1"
        except OSError:
            pass
        time.sleep(0.2)
    stop(process)
    raise RuntimeError(f"the {name} analytics service did not start")


def wait_until_idle(pid: int, quiet_s: float = 1.0, timeout_s: float = 120.0) -> None:
    """Until the service (master and worker) has used no CPU for ``quiet_s``: its background
    warm-up is done."""
    service = psutil.Process(pid)

    def cpu() -> float:
        members = [service, *service.children(recursive=True)]
        return sum(sum(m.cpu_times()[:2]) for m in members)

    deadline = time.monotonic() + timeout_s
    before = cpu()
    while time.monotonic() < deadline:
        time.sleep(quiet_s)
        now = cpu()
        if now - before < 0.02 * quiet_s:
            return
        before = now
    raise RuntimeError("the service did not go quiet")


def latency(stack: Stack, workdir: Path, requests: int, cold_requests: int) -> dict[str, Any]:
    results: dict[str, Any] = {}
    process, url = one_worker_service(stack, workdir, "warm-analytics", 256)
    try:
        warm = Client(url, stack.admin_api_key)
        for path in PATHS:
            timings(warm, path, 2)  # the hour's fits, then the settled history, are kept
            values = timings(warm, path, requests)
            results[f"warm {path}"] = values
            print(f"   warm {path:28s} {summary(values)}", flush=True)
    finally:
        stop(process)
    # The default: the worker fits the forecasts in the background as it starts. Once it has
    # gone quiet, a client's first request finds them fitted.
    process, url = one_worker_service(stack, workdir, "warmed-up-analytics", 256, warmup=True)
    try:
        wait_until_idle(process.pid)
        warmed = Client(url, stack.admin_api_key)
        for path in PATHS:
            first = timings(warmed, path, 1)
            results[f"after warm-up {path}"] = first
            print(
                f"   after the background warm-up, first request {path:28s} {first[0]:.0f} ms",
                flush=True,
            )
    finally:
        stop(process)
    process, url = one_worker_service(stack, workdir, "cold-analytics", 0)
    try:
        cold = Client(url, stack.admin_api_key)
        for path in PATHS:
            first = timings(cold, path, 1)
            values = timings(cold, path, cold_requests)
            results[f"first {path}"] = first
            results[f"cold {path}"] = values
            print(
                f"   cold {path:28s} {summary(values)}   (first request of the worker "
                f"{first[0]:.0f} ms)",
                flush=True,
            )
    finally:
        stop(process)
    return results


# -- main --------------------------------------------------------------------------------------


def run_fleet(
    name: str, fleet: Path, args: argparse.Namespace, step: int, end: float | None
) -> dict[str, Any]:
    print(f"\n== {name}: {fleet.name}, {args.days:g} days of history at {step}s steps", flush=True)
    with tempfile.TemporaryDirectory(prefix=f"forecast-bench-{name}-") as tmp:
        started = time.monotonic()
        stack = Stack(
            fleet,
            days=args.days,
            step=step,
            end=end,
            scrape_interval=f"{args.scrape_interval}s",
            evaluation_interval=f"{args.scrape_interval}s",
            analytics_workers=2,
            workdir=Path(tmp) / "stack",
            cache_dir=args.cache_dir,
            start_timeout=900,
            log=lambda message: print(f"   {message}", flush=True),
        )
        with stack:
            print(f"   up in {time.monotonic() - started:.0f}s", flush=True)
            gpus = sum(len(node.gpus) for node in stack.fleet.nodes)
            report: dict[str, Any] = {"fleet": name, "gpus": gpus, "backtest": {}}
            print(f"   backtest over the last {args.backtest_days} days, 24 h ahead:")
            series = cluster_series(stack.prometheus_url, stack.history_end, args.days)
            for metric, values in series.items():
                bounds = Bounds(0.0, 100.0) if "%" in metric else Bounds(0.0, None)
                result = backtest(values, args.backtest_days, bounds)
                report["backtest"][metric] = result
                print_backtest(metric, result)
            report["latency_ms"] = latency(stack, Path(tmp), args.requests, args.cold_requests)
            return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fleets", default="demo,bench512")
    parser.add_argument("--days", type=float, default=30)
    parser.add_argument("--step", type=int, default=60, help="history step of the demo fleet")
    parser.add_argument("--bench-step", type=int, default=300, help="history step at 512 GPUs")
    parser.add_argument("--backtest-days", type=int, default=7)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--cold-requests", type=int, default=5)
    parser.add_argument("--end", type=float, help="history end of the demo fleet (unix s)")
    parser.add_argument("--bench-end", type=float, help="history end of the 512-GPU fleet")
    parser.add_argument("--json", type=Path)
    add_stack_options(parser)
    args = options.parse(parser, SMOKE)
    os.environ["GPU_ANALYTICS_RATE_LIMIT_ENABLED"] = "false"
    os.environ["GPU_ANALYTICS_LOG_LEVEL"] = "WARNING"
    for stage in ("NVML", "PROCESSES", "POD_RESOURCES", "KUBERNETES"):
        os.environ[f"GPU_EXPORTER_{stage}_INTERVAL"] = "15"
    reports = []
    for name in args.fleets.split(","):
        if name == "demo":
            fleet = ROOT / "simulator/fleets/demo.yaml"
            reports.append(run_fleet(name, fleet, args, args.step, args.end))
        elif name == "bench512":
            directory = ROOT / "data" / "bench-fleets"
            directory.mkdir(parents=True, exist_ok=True)
            fleet = bench_fleet(directory / f"bench-{args.bench_nodes * 8}.yaml", args.bench_nodes)
            reports.append(run_fleet(name, fleet, args, args.bench_step, args.bench_end))
        else:
            parser.error(f"unknown fleet {name!r}")
    if args.json:
        args.json.write_text(json.dumps(reports, indent=2, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
