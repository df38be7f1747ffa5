"""The ``gpu-exporter`` entry point: wire NVML, the kubelet and the Kubernetes API to HTTP."""

from __future__ import annotations

import contextlib
import json
import logging
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from exporter.config import Settings, load_settings
from exporter.errors import ExporterError
from exporter.nvml import NvmlReader, XidWatcher, load_system_nvml
from exporter.sampler import Intervals, Sampler
from exporter.server import ExporterHTTPServer

log = logging.getLogger("exporter")


class _Simulation(contextlib.ExitStack):
    """The simulator in place of the node: its NVML library in this process (the GPUs), and
    its kubelet socket, Kubernetes API and /proc served by a ``simulator.serve`` child process,
    so this process holds only what a real node's exporter holds."""

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        # Imported here: production nodes never load the simulator.
        from simulator.clock import SystemClock
        from simulator.node import SimulatedFleet

        fleet_path = settings.simulated_fleet
        assert fleet_path is not None
        try:
            fleet = SimulatedFleet.from_file(fleet_path, SystemClock())
        except ValueError as exc:
            raise ExporterError(f"{fleet_path}: {exc}") from exc
        if settings.node_name not in fleet.nodes:
            raise ExporterError(
                f"node {settings.node_name!r} is not in {fleet_path}; "
                f"its nodes are: {', '.join(fleet.nodes)}"
            )
        self.nvml: Any = fleet.node(settings.node_name).nvml
        workdir = self.enter_context(tempfile.TemporaryDirectory(prefix="gpusim-"))
        child = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "simulator.serve",
                "--fleet",
                str(fleet_path),
                "--node",
                settings.node_name,
                "--workdir",
                workdir,
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.callback(_stop_child, child)
        assert child.stdout is not None
        line = child.stdout.readline()
        if not line:
            raise ExporterError(f"the simulated cluster for {settings.node_name} did not start")
        ready = json.loads(line)
        self.socket_path: str = ready["socket"]
        self.kube_api_url: str = ready["kube_api_url"]
        self.proc_root = Path(ready["proc_root"])


def _stop_child(child: subprocess.Popen[str]) -> None:
    child.terminate()
    try:
        child.wait(timeout=10)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
    for stream in (child.stdin, child.stdout):
        if stream is not None:
            stream.close()


def run(settings: Settings, stop: threading.Event) -> None:
    """Run the exporter until ``stop`` is set."""
    with contextlib.ExitStack() as stack:
        if settings.simulated_fleet is not None:
            sim = stack.enter_context(_Simulation(settings))
            lib = sim.nvml
            socket_path: str | None = sim.socket_path
            kube_api_url: str | None = sim.kube_api_url
            proc_root: Path | None = sim.proc_root
            kubernetes = True
        else:
            lib = load_system_nvml()
            socket_path = settings.pod_resources_socket
            kube_api_url = settings.kube_api_url
            proc_root = settings.proc_root if settings.per_process else None
            kubernetes = settings.kubernetes

        sampler_ref: list[Sampler] = []

        def count_error(operation: str) -> None:
            if sampler_ref:
                sampler_ref[0].count_error(operation)

        reader = NvmlReader(
            lib, mig_refresh_seconds=settings.mig_refresh_seconds, on_error=count_error
        )
        xids = XidWatcher(lib, on_error=count_error)
        # gRPC and the kubernetes client load only when their stage is on: a node that runs
        # with attribution off does not pay their memory.
        pod_devices = None
        if socket_path:
            from exporter.podresources.client import PodResourcesClient

            pod_devices = PodResourcesClient(
                socket_path, resource_prefixes=settings.resource_prefixes
            )
            stack.callback(pod_devices.close)
        pods = None
        if kubernetes:
            from exporter.kube import KubeError, KubePodSource

            try:
                pods = KubePodSource(
                    settings.node_name, api_url=kube_api_url, kubeconfig=settings.kubeconfig
                )
            except KubeError as exc:
                log.warning(
                    "Kubernetes API not configured (%s): pod phases and model-serving "
                    "details are off",
                    exc,
                )
            else:
                stack.callback(pods.close)
        sampler = Sampler(
            settings.node_name,
            reader,
            pod_devices=pod_devices,
            pods=pods,
            xids=xids,
            proc_root=proc_root,
            expected_devices=settings.expected_devices,
            intervals=Intervals(
                nvml=settings.nvml_interval_seconds,
                processes=settings.processes_interval_seconds,
                pod_resources=settings.pod_resources_interval_seconds,
                kubernetes=settings.kubernetes_interval_seconds,
            ),
        )
        sampler_ref.append(sampler)
        xids.start()
        stack.callback(xids.stop)
        sampler.start()
        stack.callback(sampler.stop)
        stack.callback(reader.shutdown)
        server = ExporterHTTPServer(
            (settings.listen_host, settings.listen_port),
            sampler,
            nvml_interval_seconds=settings.nvml_interval_seconds,
        )
        stack.callback(server.server_close)
        server.serve_in_thread()
        stack.callback(server.shutdown)
        log.info("node %s: serving %s/metrics", settings.node_name, server.url)
        print(f"gpu-exporter: node {settings.node_name} serving {server.url}/metrics", flush=True)
        stop.wait()


def main(argv: Sequence[str] | None = None) -> int:
    settings = load_settings(argv)
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    try:
        run(settings, stop)
    except ExporterError as exc:
        print(f"gpu-exporter: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"gpu-exporter: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
