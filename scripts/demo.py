"""`make demo`: the whole product on one machine, on the simulated demo fleet.

Starts (devstack.stack.Stack): a real Prometheus on 30 days of backfilled history (generated
once, then cached for the hour under ~/.cache/k8s-gpu-management/history), one real
``gpu-exporter`` per node of the fleet, the kube-state-metrics/cAdvisor series of the cluster,
the analytics service on port 8080 and an Alertmanager wired to its receiver; prints where
everything is and a few ``curl`` commands that return data. Ctrl-C (or SIGTERM) stops
everything it started.

Environment: DEMO_FLEET (fleet YAML), DEMO_HOST (bind address, 127.0.0.1), DEMO_PORT (analytics,
8080), DEMO_PROMETHEUS_PORT (9090; any free port when taken), DEMO_DAYS (30), DEMO_STEP (history
step in seconds, 60), DEMO_SCRAPE_INTERVAL (15s), DEMO_CACHE_DIR (history cache). The analytics
service gets a secrets key made for the run (GPU_ANALYTICS_SECRETS_KEY, when set, is kept), so
POST /auth/token issues tokens and webhook secrets are sealed at rest, as in production
(docs/auth.md).
"""

from __future__ import annotations

import base64
import os
import secrets
import signal
import socket
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run from a checkout without `pip install -e .` too
    sys.path.insert(0, str(ROOT))

from devstack.stack import Stack, StackError  # noqa: E402

# GETs worth showing; only those that answer 200 when the demo is up are printed.
EXAMPLES = (
    "/gpu/devices",
    "/gpu/overview",
    "/gpu/metrics/usage-statistics?hours=24",
    "/gpu/metrics/usage-statistics?hours=720",
    "/gpu/health",
    "/gpu/metrics/overheating-alerts",
    "/resources/nodes",
    "/resources/pods",
    "/resources/usage",
    "/gpu/mig/available",
)


def _free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _log(message: str) -> None:
    print(f"demo: {message}", flush=True)


def _terminate(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt  # unwinds whatever is starting, which then stops what it started


def main() -> int:
    signal.signal(signal.SIGTERM, _terminate)
    started = time.monotonic()
    fleet = Path(os.environ.get("DEMO_FLEET", ROOT / "simulator" / "fleets" / "demo.yaml"))
    host = os.environ.get("DEMO_HOST", "127.0.0.1")
    port = int(os.environ.get("DEMO_PORT", "8080"))
    prometheus_port = int(os.environ.get("DEMO_PROMETHEUS_PORT", "9090"))
    cache = os.environ.get("DEMO_CACHE_DIR")
    if not _free(host, port):
        print(
            f"demo: port {port} on {host} is taken; set DEMO_PORT to another port",
            file=sys.stderr,
        )
        return 1
    if not _free(host, prometheus_port):
        _log(f"port {prometheus_port} is taken; Prometheus gets a free port instead")
        prometheus_port = 0
    stack = Stack(
        fleet,
        days=float(os.environ.get("DEMO_DAYS", "30")),
        step=int(os.environ.get("DEMO_STEP", "60")),
        scrape_interval=os.environ.get("DEMO_SCRAPE_INTERVAL", "15s"),
        analytics=True,
        analytics_port=port,
        prometheus_port=prometheus_port,
        host=host,
        cache_dir=Path(cache) if cache else None,
        # The history reaches the current minute, so every query has data at once; waiting for
        # the first live scrapes would add up to 20 s (5 s target refresh + a 15 s interval).
        wait_for_scrapes=False,
        log=_log,
        # Alertmanager, fed by Prometheus, notifying the analytics receiver (docs/webhooks.md).
        alertmanager=True,
        # MIG on demand applied as the GPU operator does: a simulated mig-manager per node
        # (docs/analytics.md, "MIG on demand").
        mig_manager=True,
        # The inventory follows the exporters every scrape interval rather than every minute,
        # so a layout the mig-manager applied shows as APPLIED within seconds.
        analytics_env={
            "GPU_ANALYTICS_SYNC_INTERVAL_SECONDS": os.environ.get(
                "GPU_ANALYTICS_SYNC_INTERVAL_SECONDS", "15"
            ),
            # Tokens (POST /auth/token) and webhook secrets sealed at rest need a key.
            "GPU_ANALYTICS_SECRETS_KEY": os.environ.get("GPU_ANALYTICS_SECRETS_KEY")
            or base64.b64encode(secrets.token_bytes(32)).decode(),
        },
    )
    try:
        with stack:
            _print_summary(stack, time.monotonic() - started)
            stack.wait()
            _log("stopping")
    except StackError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        _log("stopped")
    return 0


def _print_summary(stack: Stack, seconds: float) -> None:
    base = stack.analytics_url
    root = stack.analytics_root
    gpus = sum(len(node.gpus) for node in stack.fleet.nodes)
    history = stack.history
    assert history is not None
    days = (history.end - history.start) / 86400
    print(
        f"\nThe simulated GPU cluster is up in {seconds:.0f}s "
        f"({stack.fleet_path.name}: {len(stack.nodes)} nodes, {gpus} GPUs).\n"
    )
    print(f"  analytics API    {base}")
    print(f"  API docs         {root}/k8s-monitor/swagger-ui.html")
    print(f"  admin API key    {stack.admin_api_key}")
    print(
        f"  Prometheus       {stack.prometheus_url}  "
        f"({days:.1f} days of history, then live every {stack.scrape_interval})"
    )
    print(f"  Alertmanager     {stack.alertmanager_url}  (-> {base}/alerts/alertmanager)")
    for node, url in stack.exporter_urls.items():
        print(f"  exporter         {url}/metrics  ({node})")
    print(f"  cluster series   {stack.cluster_url}/metrics  {stack.cluster_url}/metrics/cadvisor")
    print("\nTry:")
    print(f"  BASE={base}")
    print(f"  KEY={stack.admin_api_key}")
    for path in EXAMPLES:
        if _answers(base + path):
            print(f'  curl -s "$BASE{path}"')
    print('  curl -s -X POST -H "Authorization: Bearer $KEY" "$BASE/gpu/metrics/collect"')
    # Accounts (docs/auth.md): a user with a password, then a token for it.
    print(
        '  curl -s -X POST -H "Authorization: Bearer $KEY" -H "Content-Type: application/json" '
        '"$BASE/users" -d \'{"username": "alice", "password": "change-me-please", '
        '"role": "operator"}\''
    )
    print('  curl -s -X POST -u alice:change-me-please "$BASE/auth/token"')
    print(
        f'  curl -s "{stack.prometheus_url}/api/v1/query" '
        "--data-urlencode 'query=avg_over_time(uuid:gpu_utilization_ratio:avg1h[24h])'"
    )
    print("\nPress Ctrl-C to stop everything.", flush=True)


if __name__ == "__main__":
    sys.exit(main())
