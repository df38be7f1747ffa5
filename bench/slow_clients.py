"""Slow-client benchmark: how long a normal request takes while idle and slow clients hold
connections open, for each gunicorn worker class of ``gpu-analytics serve``.

For each worker class, starts a real ``gpu-analytics serve`` (the demo's and the chart's
2 workers), opens ``--idle`` connections that send nothing and ``--slow`` connections that send
half a request head and stop, then times ``--requests`` ordinary requests, one after another,
on new connections (``GET /gpu/devices`` with an API key, an empty inventory). Prints each
class's p50 and max latency (a request that timed out counts with the time it waited) and
how many took longer than 200 ms or failed (no 200 within the hold).

    .venv/bin/python bench/slow_clients.py [--classes sync,gthread,buffered] [--idle 100]
        [--slow 100] [--requests 20] [--hold 10] [--smoke]

``--smoke``: 10 idle and 10 slow connections, 5 requests, the buffered class only (seconds).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import options  # bench/options.py

ROOT = Path(__file__).resolve().parent.parent
# devstack runs from the checkout (the server wheel leaves it out).
sys.path.insert(0, str(ROOT))

from devstack.stack import analytics_command  # noqa: E402

ADMIN_KEY = "bench-admin-key"
# --smoke: the buffered class alone, few clients and requests, in seconds.
SMOKE = {"classes": "buffered", "idle": 10, "slow": 10, "requests": 5, "hold": 5.0}
PATH = "/k8s-monitor/api/v1/gpu/devices"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def server(worker_class: str, workers: int, threads: int, hold_s: float) -> Iterator[int]:
    port = free_port()
    data_dir = Path(tempfile.mkdtemp(prefix="bench-slow-clients-"))
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("GPU_ANALYTICS_")},
        "GPU_ANALYTICS_DATA_DIR": str(data_dir),
        "GPU_ANALYTICS_ADMIN_API_KEY": ADMIN_KEY,
        "GPU_ANALYTICS_LOG_LEVEL": "ERROR",
    }
    command = [
        *analytics_command(f"127.0.0.1:{port}", workers),
        "--worker-class",
        worker_class,
        "--threads",
        str(threads),
        # Longer than the hold: the slow clients are not cut off while they are measured.
        "--client-timeout",
        str(hold_s * 2),
    ]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise SystemExit(f"{worker_class}: server did not become ready") from None
                time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)
        shutil.rmtree(data_dir, ignore_errors=True)


def hold_connections(port: int, idle: int, slow: int) -> list[socket.socket]:
    """``idle`` connections that send nothing, ``slow`` that send half a request head."""
    held = []
    for number in range(idle + slow):
        sock = socket.create_connection(("127.0.0.1", port))
        if number >= idle:
            sock.sendall(f"GET {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ".encode())
        held.append(sock)
    return held


def timed_request(port: int, timeout_s: float) -> tuple[float, bool]:
    """Milliseconds for one request on a new connection, and whether it answered 200."""
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout_s)
    try:
        connection.request("GET", PATH, headers={"X-API-Key": ADMIN_KEY})
        response = connection.getresponse()
        response.read()
        ok = response.status == 200
    except OSError:
        ok = False
    finally:
        connection.close()
    return (time.perf_counter() - started) * 1000, ok


def measure(args: argparse.Namespace, worker_class: str) -> None:
    # gunicorn runs a sync worker with threads as gthread: sync means one thread.
    threads = 1 if worker_class == "sync" else args.threads
    with server(worker_class, args.workers, threads, args.hold) as port:
        timed_request(port, 30)  # the first request of a worker pays for imports
        held = hold_connections(port, args.idle, args.slow)
        time.sleep(0.5)  # let the server accept them all
        started = time.monotonic()
        latencies: list[float] = []
        failed = 0
        for _ in range(args.requests):
            remaining = args.hold - (time.monotonic() - started)
            latency, ok = timed_request(port, max(remaining, 1.0))
            latencies.append(latency)
            failed += not ok
        for sock in held:
            sock.close()
    slow = sum(1 for ms in latencies if ms > 200)
    print(
        f"worker_class={worker_class} workers={args.workers} threads={threads} "
        f"idle={args.idle} slow={args.slow} requests={args.requests} "
        f"p50_ms={statistics.median(latencies):.1f} max_ms={max(latencies):.1f} "
        f"over_200ms={slow} failed={failed}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classes", default="sync,gthread,buffered")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--idle", type=int, default=100)
    parser.add_argument("--slow", type=int, default=100)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--hold", type=float, default=10.0, help="seconds the clients are held")
    args = options.parse(parser, SMOKE)
    print(f"cpus={os.cpu_count()}")
    for worker_class in args.classes.split(","):
        measure(args, worker_class)
    return 0


if __name__ == "__main__":
    sys.exit(main())
