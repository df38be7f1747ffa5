"""`make demo`: start a simulated exporter for every node of the demo fleet and print the URLs.

Each exporter is the real ``gpu-exporter`` process on the simulator's NVML, kubelet socket and
Kubernetes API. Stop with Ctrl-C. Environment: DEMO_FLEET (fleet YAML), DEMO_HOST (bind address,
default 127.0.0.1), DEMO_BASE_PORT (first port, default 9835).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def wait_healthy(url: str, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"demo: exporter for {url} exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"demo: {url} did not become healthy in {timeout:.0f}s")


def main() -> int:
    fleet = Path(os.environ.get("DEMO_FLEET", ROOT / "simulator" / "fleets" / "demo.yaml"))
    host = os.environ.get("DEMO_HOST", "127.0.0.1")
    base_port = int(os.environ.get("DEMO_BASE_PORT", "9835"))
    nodes = [n["name"] for n in yaml.safe_load(fleet.read_text())["nodes"]]
    processes: list[tuple[str, str, subprocess.Popen[bytes]]] = []
    try:
        for offset, node in enumerate(nodes):
            url = f"http://{host}:{base_port + offset}"
            command = [
                sys.executable,
                "-m",
                "exporter.main",
                "--simulated-fleet",
                str(fleet),
                "--node-name",
                node,
                "--listen",
                f"{host}:{base_port + offset}",
                "--log-level",
                "WARNING",
            ]
            processes.append((node, url, subprocess.Popen(command, cwd=ROOT)))
        for _node, url, process in processes:
            wait_healthy(url, process)
        print(f"\nSimulated GPU exporters are up (fleet {fleet}):")
        for node, url, _process in processes:
            print(f"  {node:<14} {url}/metrics")
        print("\nTry: curl -s %s/metrics | promtool check metrics" % processes[0][1])
        print("Press Ctrl-C to stop.", flush=True)
        while all(process.poll() is None for _n, _u, process in processes):
            time.sleep(1.0)
        print("demo: an exporter stopped; shutting the rest down", file=sys.stderr)
    except KeyboardInterrupt:
        pass
    finally:
        for _node, _url, process in processes:
            process.terminate()
        for _node, _url, process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
    return 0


def _terminate(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _terminate)
    sys.exit(main())
