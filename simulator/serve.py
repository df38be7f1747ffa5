"""The simulated cluster side of one node, as its own process: kubelet socket, Kubernetes API, /proc.

``python -m simulator.exporter`` starts this beside itself so that only the simulated GPUs
(the fake NVML library) live inside the exporter process: its memory and CPU then measure the
exporter, not the simulated kubelet. Usage::

    python -m simulator.serve --fleet FILE --node NAME --workdir DIR

It writes ``DIR/proc``, serves the pod-resources API on ``DIR/kubelet.sock`` and a Kubernetes
API on a loopback port, prints one JSON line ``{"socket", "kube_api_url", "proc_root"}`` when
ready, and runs until SIGTERM/SIGINT or until its standard input closes (its parent died).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path

from simulator.clock import SystemClock
from simulator.fleet import SimulatorError
from simulator.kubeapi import KubeApiServer
from simulator.kubelet import PodResourcesServer
from simulator.node import SimulatedFleet, keep_proc_current


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simulator.serve", description=__doc__)
    parser.add_argument("--fleet", required=True, type=Path)
    parser.add_argument("--node", required=True)
    parser.add_argument("--workdir", required=True, type=Path)
    args = parser.parse_args(argv)
    try:
        fleet = SimulatedFleet.from_file(args.fleet, SystemClock())
        node = fleet.node(args.node)
    except (SimulatorError, KeyError, OSError) as exc:
        print(f"simulator: {exc}", file=sys.stderr)
        return 1
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())

    # Our parent holds the other end of stdin: EOF means it is gone.
    def watch_parent() -> None:
        sys.stdin.read()
        stop.set()

    threading.Thread(target=watch_parent, daemon=True).start()

    proc_root = args.workdir / "proc"
    node.write_proc(proc_root)
    # Scheduled pods come and go: their processes' /proc entries with them.
    threading.Thread(
        target=keep_proc_current, args=([(node, proc_root)], stop), daemon=True
    ).start()
    socket_path = str(args.workdir / "kubelet.sock")
    with (
        PodResourcesServer(
            socket_path, node.pod_resources_response, node.allocatable_resources_response
        ),
        KubeApiServer(node.pod_list, resource_slice_provider=node.resource_slice_list) as kube_api,
    ):
        ready = {"socket": socket_path, "kube_api_url": kube_api.url, "proc_root": str(proc_root)}
        print(json.dumps(ready), flush=True)
        stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
