"""Allocation benchmark: N concurrent clients x M allocate/release cycles against a real
``gpu-analytics serve`` (gunicorn, several workers) on a registered fleet.

Prints throughput, latency percentiles, 5xx count and the double-allocation count, verified
from the ledger afterwards (allocation events in commit order, per resource). The rate limiter
stays on (its cost is part of the numbers) with a limit high enough not to refuse the load.

    .venv/bin/python bench/allocations.py [--clients 16] [--cycles 500] [--workers 4]
        [--postgres | --database-url postgresql+psycopg://...]

``--postgres`` starts a throwaway PostgreSQL server (devstack/postgres.py, default durability
settings) for the run; without either option the service uses SQLite in a temporary directory.

``--smoke`` runs 2 clients x 5 cycles against 2 workers on 2 devices, in seconds: a check
that the benchmark still runs (and still finds no double allocation), not a measurement.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import options  # bench/options.py
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
# devstack runs from the checkout (the server wheel leaves it out).
sys.path.insert(0, str(ROOT))

from devstack.stack import analytics_command  # noqa: E402

API = "/k8s-monitor/api/v1"
ADMIN_KEY = "bench-admin-key"
HEADERS = {"X-API-Key": ADMIN_KEY, "Content-Type": "application/json"}
# --smoke's sizes: every stage and figure of a full run, in seconds.
SMOKE = {"clients": 2, "cycles": 5, "workers": 2, "nodes": 1, "gpus_per_node": 2}


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Client:
    """One benchmark client: a keep-alive connection where the server keeps it open."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.connection: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, body: object = None) -> tuple[int, dict[str, Any]]:
        payload = json.dumps(body) if body is not None else None
        for attempt in (1, 2):
            if self.connection is None:
                self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            try:
                self.connection.request(method, API + path, body=payload, headers=HEADERS)
                response = self.connection.getresponse()
                data = response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # The server closed an idle keep-alive connection: reconnect once.
                self.close()
                if attempt == 2:
                    raise
                continue
            if response.will_close:
                self.close()
            return response.status, json.loads(data or b"{}")
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None


def start_server(
    data_dir: Path, port: int, args: argparse.Namespace, extra: dict[str, str]
) -> subprocess.Popen[bytes]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("GPU_ANALYTICS_")},
        "GPU_ANALYTICS_DATA_DIR": str(data_dir),
        "GPU_ANALYTICS_DATABASE_URL": args.database_url,
        "GPU_ANALYTICS_ADMIN_API_KEY": ADMIN_KEY,
        "GPU_ANALYTICS_RATE_LIMIT_AUTHENTICATED_PER_MINUTE": "100000000",
        "GPU_ANALYTICS_LOG_LEVEL": "WARNING",
        # Workers load statsmodels in the background at start (seconds of CPU each): that is
        # not what this measures.
        "GPU_ANALYTICS_FORECAST_WARMUP": "false",
        **extra,
    }
    command = [
        *analytics_command(f"127.0.0.1:{port}", args.workers),
        "--worker-class",
        args.worker_class,
        "--threads",
        str(args.threads),
    ]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as r:
                if r.status == 200:
                    return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("server did not become ready")


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process and its children now alive (gunicorn's workers)."""
    import psutil

    process = psutil.Process(pid)
    total = 0.0
    for member in (process, *process.children(recursive=True)):
        with contextlib.suppress(psutil.NoSuchProcess):
            times = member.cpu_times()
            total += times.user + times.system
    return total


def double_allocations(url: str) -> int:
    """Walk the ledger's events in commit order; an ALLOCATED on a held resource is a double."""
    engine = create_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT a.resource_id, e.status, e.allocation_id FROM allocation_events e "
                "JOIN allocations a USING (allocation_id) ORDER BY e.event_id"
            )
        ).all()
    engine.dispose()
    holder: dict[str, str] = {}
    doubles = 0
    for resource, status, allocation in rows:
        if status == "ALLOCATED":
            if resource in holder:
                doubles += 1
            holder[resource] = allocation
        elif holder.get(resource) == allocation:
            del holder[resource]
    return doubles


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--cycles", type=int, default=500)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument(
        "--worker-class",
        default="buffered",
        choices=["buffered", "gthread", "sync"],
        help="as gpu-analytics serve; default its default",
    )
    parser.add_argument(
        "--threads", type=int, default=4, help="threads per worker (buffered, gthread)"
    )
    parser.add_argument(
        "--rate-limit-storage", default="file", choices=["file", "database", "memory", "off"]
    )
    parser.add_argument("--nodes", type=int, default=4)
    parser.add_argument("--gpus-per-node", type=int, default=8)
    database = parser.add_mutually_exclusive_group()
    database.add_argument("--database-url", default="", help="default: SQLite in a temp dir")
    database.add_argument("--postgres", action="store_true", help="start a PostgreSQL server")
    args = options.parse(parser, SMOKE)
    with contextlib.ExitStack() as stack:
        if args.postgres:
            from devstack.postgres import PostgresServer

            server = stack.enter_context(PostgresServer())
            args.database_url = server.create_database("bench")
        return run(args)


def run(args: argparse.Namespace) -> int:
    # Removed afterwards: the smoke test runs this on every `make test`.
    with tempfile.TemporaryDirectory(prefix="bench-allocations-") as tmp:
        return run_in(Path(tmp), args)


def run_in(data_dir: Path, args: argparse.Namespace) -> int:
    port = free_port()
    extra = (
        {"GPU_ANALYTICS_RATE_LIMIT_ENABLED": "false"}
        if args.rate_limit_storage == "off"
        else {"GPU_ANALYTICS_RATE_LIMIT_STORAGE": args.rate_limit_storage}
    )
    server = start_server(data_dir, port, args, extra)
    try:
        models = ["A100_80GB", "H100_80GB", "A100_40GB", "L4"]
        setup = Client(port)
        for node in range(args.nodes):
            for index in range(args.gpus_per_node):
                status, _ = setup.request(
                    "POST",
                    "/gpu/devices",
                    {
                        "nodeName": f"bench-node-{node}",
                        "deviceIndex": index,
                        "modelId": models[node % len(models)],
                    },
                )
                assert status == 201, status

        allocate_ms: list[float] = []
        release_ms: list[float] = []
        codes: dict[int, int] = {}
        lock = threading.Lock()
        barrier = threading.Barrier(args.clients)

        def client(number: int) -> None:
            mine_alloc: list[float] = []
            mine_release: list[float] = []
            mine_codes: dict[int, int] = {}
            http = Client(port)
            barrier.wait()
            for cycle in range(args.cycles):
                body = {
                    "namespace": "bench",
                    "podName": f"pod-{number}-{cycle}",
                    "requiredMemoryGb": 16,
                    "teamId": f"team-{number % 4}",
                }
                started = time.perf_counter()
                status, reply = http.request("POST", "/gpu/allocations", body)
                mine_alloc.append((time.perf_counter() - started) * 1000)
                mine_codes[status] = mine_codes.get(status, 0) + 1
                if status != 201:
                    continue
                allocation = reply["data"]["allocationId"]
                started = time.perf_counter()
                status, _ = http.request("DELETE", f"/gpu/allocations/{allocation}")
                mine_release.append((time.perf_counter() - started) * 1000)
                mine_codes[status] = mine_codes.get(status, 0) + 1
            http.close()
            with lock:
                allocate_ms.extend(mine_alloc)
                release_ms.extend(mine_release)
                for code, count in mine_codes.items():
                    codes[code] = codes.get(code, 0) + count

        threads = [threading.Thread(target=client, args=(n,)) for n in range(args.clients)]
        server_cpu = cpu_seconds(server.pid)
        client_cpu = time.process_time()
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        server_cpu = cpu_seconds(server.pid) - server_cpu
        client_cpu = time.process_time() - client_cpu
    finally:
        server.terminate()
        server.wait(timeout=30)

    def pct(values: list[float], q: float) -> float:
        return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else 0.0

    allocations = len(release_ms)
    all_ms = allocate_ms + release_ms
    doubles = double_allocations(args.database_url or f"sqlite:///{data_dir / 'analytics.db'}")
    backend = args.database_url.split(":", 1)[0] if args.database_url else "sqlite"
    print(
        f"backend={backend} clients={args.clients} cycles={args.cycles} workers={args.workers} "
        f"worker_class={args.worker_class} threads={args.threads} rate_limit={args.rate_limit_storage} devices={args.nodes * args.gpus_per_node} "
        f"cpus={os.cpu_count()}"
    )
    print(f"elapsed_s={elapsed:.2f} allocations={allocations} requests={len(all_ms)}")
    print(
        f"allocations_per_s={allocations / elapsed:.1f} requests_per_s={len(all_ms) / elapsed:.1f}"
    )
    print(f"allocate_ms p50={pct(allocate_ms, 50):.2f} p99={pct(allocate_ms, 99):.2f}")
    print(f"release_ms  p50={pct(release_ms, 50):.2f} p99={pct(release_ms, 99):.2f}")
    print(f"all_ms      p50={pct(all_ms, 50):.2f} p99={pct(all_ms, 99):.2f}")
    # CPU per request: what the load costs whatever else the machine runs (the 2 cores are
    # shared, so this, not throughput, is what to compare between runs on a busy machine).
    print(
        f"cpu_ms_per_request server={server_cpu / len(all_ms) * 1000:.3f} "
        f"client={client_cpu / len(all_ms) * 1000:.3f}"
    )
    print(f"status_codes={dict(sorted(codes.items()))}")
    five_xx = sum(count for code, count in codes.items() if code >= 500)
    print(f"5xx={five_xx} double_allocations={doubles}")
    return 0 if five_xx == 0 and doubles == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
