"""Expensive-read benchmark: many identical cost analyses at once, and a cheap request meanwhile.

Starts the stack (devstack.stack.Stack: history backfilled into the real Prometheus, simulated
exporters, ``gpu-analytics serve`` as the demo runs it), then sends ``--concurrent`` anonymous
``GET /gpu/cost/analysis?days=N`` at once (issue 15: twenty of them queued every other request
for seconds) and, 100 ms later, ``--cheap`` requests one after another (``GET /gpu/devices``).
Prints the analyses' statuses and latencies, the cheap requests' latencies, then the latency of
the same analysis once its answer is cached.

    .venv/bin/python bench/expensive_reads.py [--fleet simulator/fleets/demo.yaml] [--days 30]
        [--analysis-days 90] [--concurrent 20] [--cheap 5] [--smoke]

``--smoke``: test-small.yaml with 2 days of history and a 2-day analysis, in well under a minute.
"""

from __future__ import annotations

import argparse
import http.client
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import options  # bench/options.py
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from forecast_backtest import wait_until_idle  # noqa: E402

from devstack.stack import Stack  # noqa: E402

API = "/k8s-monitor/api/v1"
SMOKE = {
    "fleet": ROOT / "simulator" / "fleets" / "test-small.yaml",
    "days": 2.0,
    "analysis_days": 2,
    "concurrent": 6,
    "cheap": 3,
}


def get(base: str, path: str) -> tuple[int, float]:
    """Status and milliseconds of one anonymous GET on a new connection."""
    url = urlsplit(base)
    started = time.perf_counter()
    connection = http.client.HTTPConnection(url.hostname or "", url.port, timeout=120)
    try:
        connection.request("GET", url.path + path)
        response = connection.getresponse()
        response.read()
        status = response.status
    finally:
        connection.close()
    return status, (time.perf_counter() - started) * 1000


def measure(base: str, args: argparse.Namespace) -> None:
    analysis = f"{API}/gpu/cost/analysis?days={args.analysis_days}"
    alone = [get(base, f"{API}{args.cheap_path}")[1] for _ in range(args.cheap + 1)][1:]
    print(f"cheap requests alone ms: p50 {statistics.median(alone):.1f} max {max(alone):.1f}")
    results: list[tuple[int, float]] = []
    cheap_ms: list[float] = []
    lock = threading.Lock()
    go = threading.Barrier(args.concurrent + 1)

    def expensive() -> None:
        go.wait()
        result = get(base, analysis)
        with lock:
            results.append(result)

    def cheap() -> None:
        go.wait()
        time.sleep(0.1)  # the analyses are in the workers
        for _ in range(args.cheap):
            status, elapsed = get(base, f"{API}{args.cheap_path}")
            assert status == 200, status
            cheap_ms.append(elapsed)

    threads = [threading.Thread(target=expensive) for _ in range(args.concurrent)]
    threads.append(threading.Thread(target=cheap))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    codes: dict[int, int] = {}
    for status, _elapsed in results:
        codes[status] = codes.get(status, 0) + 1
    answered = [elapsed for status, elapsed in results if status == 200]
    refused = [elapsed for status, elapsed in results if status == 429]
    print(f"concurrent analyses: {args.concurrent}, statuses {dict(sorted(codes.items()))}")
    if answered:
        print(f"answered ms: p50 {statistics.median(answered):.1f} max {max(answered):.1f}")
    if refused:
        print(f"refused (429) ms: p50 {statistics.median(refused):.1f} max {max(refused):.1f}")
    print(f"cheap requests ms: p50 {statistics.median(cheap_ms):.1f} max {max(cheap_ms):.1f}")
    cached = [get(base, analysis) for _ in range(5)]
    assert all(status == 200 for status, _ in cached), cached
    print(f"the same analysis again ms: p50 {statistics.median([ms for _, ms in cached]):.1f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fleet", type=Path, default=ROOT / "simulator" / "fleets" / "demo.yaml")
    parser.add_argument("--days", type=float, default=30.0, help="days of history")
    parser.add_argument("--analysis-days", type=int, default=90)
    parser.add_argument("--concurrent", type=int, default=20)
    parser.add_argument("--cheap", type=int, default=5)
    parser.add_argument(
        "--cheap-path", default="/gpu/devices", help="the cheap request (default /gpu/devices)"
    )
    options.add_cache_dir(parser, ROOT / "data" / "bench-history-cache")
    args = options.parse(parser, SMOKE)
    with tempfile.TemporaryDirectory(prefix="bench-expensive-") as tmp:
        started = time.monotonic()
        stack = Stack(
            args.fleet,
            days=args.days,
            workdir=Path(tmp) / "stack",
            cache_dir=args.cache_dir,
            start_timeout=600,
            wait_for_scrapes=False,
        )
        with stack:
            print(f"stack up in {time.monotonic() - started:.0f}s: {args.fleet.name}", flush=True)
            # The workers fit the forecasts in the background as they start: not measured here.
            service = next(
                p
                for p in psutil.Process().children(recursive=True)
                if p.cmdline()[2:4] == ["analytics", "serve"]
            )
            wait_until_idle(service.pid)
            measure(stack.analytics_root, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
