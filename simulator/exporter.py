"""``gpu-exporter`` on the simulator: one node of a fleet YAML in the place of a GPU node.

The exporter's own pipeline (:func:`exporter.pipeline.start_exporter`) runs unchanged; only its
sources are simulated. The fleet's fake NVML library for the node lives in this process (the
GPUs); the node's kubelet pod-resources socket, Kubernetes API and ``/proc`` are served by a
``python -m simulator.serve`` child process, so that this process holds only what a real
node's exporter holds. Usage::

    python -m simulator.exporter --simulated-fleet FILE --node-name NODE [gpu-exporter flags]

Every ``gpu-exporter`` flag applies, each with its ``GPU_EXPORTER_*`` twin
(``--simulated-fleet``: ``GPU_EXPORTER_SIMULATED_FLEET``); the simulated node's socket, API
and ``/proc`` take the place of ``--pod-resources-socket``, ``--kube-api-url`` and
``--proc-root``, with every attribution stage on. The output (the ``serving URL/metrics``
line, errors as one ``gpu-exporter: error:`` line) is the exporter's.

``--simulated-mig-manager URL`` (``GPU_EXPORTER_SIMULATED_MIG_MANAGER``) also runs the node's
simulated mig-manager (:mod:`simulator.migmanager`) against the cluster's Kubernetes API at URL
(``python -m simulator.cluster --kube-api``): it applies the node's ``nvidia.com/mig.config`` to
the GPUs of this process.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from exporter.config import ENV_PREFIX, Settings, add_flag, build_parser, settings_from_args
from exporter.errors import ExporterError
from exporter.main import run, serve
from simulator.clock import SystemClock
from simulator.migmanager import MigManager
from simulator.node import SimulatedFleet

PROG = "python -m simulator.exporter"


class NodeSimulation(contextlib.ExitStack):
    """The simulator in the place of node ``node`` of the fleet at ``fleet_path``: ``nvml``
    (its GPUs, in this process), and the ``socket_path``, ``kube_api_url`` and ``proc_root``
    of a ``simulator.serve`` child process, stopped when this stack closes."""

    def __init__(self, fleet_path: Path, node: str) -> None:
        super().__init__()
        try:
            fleet = SimulatedFleet.from_file(fleet_path, SystemClock())
        except ValueError as exc:
            raise ExporterError(f"{fleet_path}: {exc}") from exc
        if node not in fleet.nodes:
            raise ExporterError(
                f"node {node!r} is not in {fleet_path}; its nodes are: {', '.join(fleet.nodes)}"
            )
        self.node = fleet.node(node)
        self.nvml: Any = self.node.nvml
        workdir = self.enter_context(tempfile.TemporaryDirectory(prefix="gpusim-"))
        child = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "simulator.serve",
                "--fleet",
                str(fleet_path),
                "--node",
                node,
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
            raise ExporterError(f"the simulated cluster for {node} did not start")
        ready = json.loads(line)
        self.socket_path: str = ready["socket"]
        self.kube_api_url: str = ready["kube_api_url"]
        self.proc_root = Path(ready["proc_root"])

    def exporter_settings(self, settings: Settings) -> Settings:
        """``settings`` with this node's kubelet socket, Kubernetes API and ``/proc``."""
        return on_simulated_node(
            settings,
            socket_path=self.socket_path,
            kube_api_url=self.kube_api_url,
            proc_root=self.proc_root,
        )


def on_simulated_node(
    settings: Settings, *, socket_path: str, kube_api_url: str, proc_root: Path
) -> Settings:
    """``settings`` with a simulated node's kubelet socket, Kubernetes API and ``/proc`` in the
    place of the real ones, and every attribution stage on."""
    return dataclasses.replace(
        settings,
        pod_resources_socket=socket_path,
        kubernetes=True,
        kube_api_url=kube_api_url,
        per_process=True,
        proc_root=proc_root,
    )


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


def load_simulated_settings(
    argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None
) -> tuple[Settings, Path]:
    """The exporter's settings and the fleet file, from ``gpu-exporter``'s flags (and their
    environment twins) plus ``--simulated-fleet``."""
    settings, fleet_path, _mig_manager = load_simulated_options(argv, env)
    return settings, fleet_path


def load_simulated_options(
    argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None
) -> tuple[Settings, Path, str]:
    """:func:`load_simulated_settings` plus the ``--simulated-mig-manager`` URL ('' off)."""
    environment = os.environ if env is None else env
    parser = build_parser(environment, prog=PROG)
    add_flag(
        parser,
        environment,
        "--simulated-fleet",
        "the fleet YAML whose node --node-name this exporter runs on, in the place of real "
        "GPUs, kubelet and Kubernetes API (required)",
        default=None,
    )
    add_flag(
        parser,
        environment,
        "--simulated-mig-manager",
        "the simulated cluster's Kubernetes API URL: run the node's simulated mig-manager, "
        "applying its nvidia.com/mig.config label to the simulated GPUs (default: off)",
        default="",
    )
    args = parser.parse_args(argv)
    if not args.simulated_fleet:
        parser.error(f"--simulated-fleet (or {ENV_PREFIX}SIMULATED_FLEET) is required")
    return (
        settings_from_args(args, environment),
        Path(args.simulated_fleet),
        str(args.simulated_mig_manager or ""),
    )


def run_simulated(
    settings: Settings, fleet_path: Path, stop: threading.Event, mig_manager_url: str = ""
) -> None:
    """Run the exporter of node ``settings.node_name`` of the fleet until ``stop`` is set
    (with the node's simulated mig-manager when ``mig_manager_url`` is given)."""
    with NodeSimulation(fleet_path, settings.node_name) as simulation:
        if mig_manager_url:
            manager = MigManager(simulation.node, mig_manager_url).start()
            simulation.callback(manager.stop)
        run(simulation.exporter_settings(settings), stop, nvml=simulation.nvml)


def main(argv: Sequence[str] | None = None) -> int:
    settings, fleet_path, mig_manager_url = load_simulated_options(argv)
    return serve(settings, lambda stop: run_simulated(settings, fleet_path, stop, mig_manager_url))


if __name__ == "__main__":
    sys.exit(main())
