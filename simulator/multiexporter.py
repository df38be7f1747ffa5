"""Many nodes' exporters in one process, for fleets too large for one process per node.

A real fleet runs one ``gpu-exporter`` pod per node (a DaemonSet). A thousand exporter
processes do not fit on one small machine, so this serves a slice of a simulated fleet from one
process, and several such processes (``--shard I/N``) cover the whole fleet. Only the packaging
differs from :mod:`exporter.main`: every node still gets its own, production-identical pipeline
(:func:`exporter.pipeline.start_exporter`):

* the simulated GPUs (the fleet's fake NVML for that node) read by its own
  :class:`exporter.nvml.NvmlReader` and :class:`exporter.nvml.XidWatcher`,
* its own kubelet pod-resources gRPC server on a unix socket of its own, read by its own
  :class:`exporter.podresources.client.PodResourcesClient`,
* its pods from a Kubernetes API, read by its own :class:`exporter.kube.KubePodSource`,
* its own ``/proc`` tree, its own :class:`exporter.sampler.Sampler` (every stage on its own
  period, settings from the same ``GPU_EXPORTER_*`` variables and flags as the exporter),
* and its own :class:`exporter.server.ExporterHTTPServer` on a port of its own, so Prometheus
  scrapes one target per node exactly as it would scrape a DaemonSet.

What is shared, because it is cluster-side and not part of the exporter: one simulated
Kubernetes API for the slice (each node's client is given ``<api>/nodes/<node>`` as its API
base, and asks it, as in production, for the pods with ``spec.nodeName=<node>``), and one
thread pool behind the simulated kubelets. The fake NVML's event wait polls its simulated
event queue every 50 ms; with hundreds of watchers that polling would cost more than the
exporters themselves, so the watchers here see an event wait that polls every 3 s
(:class:`PolledXidEvents`: ~30 us a poll) and wait up to 3 s per call (a watcher notices
it is stopped between calls). For the same reason each node's HTTP server checks for
shutdown every 3 s instead of every 0.5 s: hundreds of threads waking to take the GIL cost
a small machine most of its CPU in futex calls.

Usage::

    python -m simulator.multiexporter --fleet FILE --workdir DIR [--shard I/N] [--host H]

It writes ``DIR/targets-<I>.json`` (``{node: "host:port"}``) and prints one JSON line
``{"nodes": N, "targets": PATH}`` once every node serves ``/metrics``; it runs until
SIGTERM/SIGINT. Exporter flags after ``--`` (``--nvml-interval 15``) apply to every node.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import grpc
import yaml

from exporter.config import Settings, load_settings
from exporter.pipeline import NodeExporter, start_exporter
from exporter.podresources import api_pb2_grpc
from simulator import kubeapi, kubelet
from simulator.clock import SystemClock
from simulator.exporter import on_simulated_node
from simulator.fleet import FleetSpec, SimulatorError, parse_fleet
from simulator.node import SimulatedFleet, SimulatedNode, keep_proc_current

log = logging.getLogger("simulator.multiexporter")

XID_WAIT_MS = 3000
XID_POLL_SECONDS = 3.0
# serve_forever's shutdown poll: it bounds how long stopping takes, not request latency.
HTTP_POLL_SECONDS = 3.0


def load_fleet_fast(path: Path) -> FleetSpec:
    """:func:`simulator.fleet.load_fleet` with libyaml's parser when it is there (a thousand
    nodes take 20 s to parse in pure Python, 5 s with libyaml)."""
    loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
    except (OSError, yaml.YAMLError) as exc:
        raise SimulatorError(f"{path}: {exc}") from exc
    return parse_fleet(data, source=str(path))


def shard_nodes(nodes: Sequence[str], index: int, count: int) -> list[str]:
    """The nodes of shard ``index`` of ``count``: contiguous ranges, sizes differing by one."""
    if count < 1 or not 0 <= index < count:
        raise ValueError(f"no shard {index} of {count}")
    size, extra = divmod(len(nodes), count)
    start = index * size + min(index, extra)
    return list(nodes[start : start + size + (1 if index < extra else 0)])


class PolledXidEvents:
    """The fake NVML as the XID watcher sees it: ``nvmlEventSetWait`` checks the simulated
    event queue every ``poll_seconds`` instead of every 50 ms; everything else is the library."""

    def __init__(self, lib: Any, poll_seconds: float = XID_POLL_SECONDS) -> None:
        self._lib = lib
        self._poll = poll_seconds

    def __getattr__(self, name: str) -> Any:
        return getattr(self._lib, name)

    def nvmlEventSetWait(self, eventSet: object, timeoutms: int) -> Any:
        lib = self._lib
        deadline = time.monotonic() + max(0, int(timeoutms)) / 1000.0
        while True:
            try:
                return lib.nvmlEventSetWait(eventSet, 0)
            except lib.NVMLError as exc:
                remaining = deadline - time.monotonic()
                if getattr(exc, "value", None) != lib.NVML_ERROR_TIMEOUT or remaining <= 0:
                    raise
            time.sleep(min(self._poll, remaining))

    def nvmlEventSetWait_v2(self, eventSet: object, timeoutms: int) -> Any:
        return self.nvmlEventSetWait(eventSet, timeoutms)


# -- the cluster side: one Kubernetes API for the slice, one pool behind the kubelets ---------


class _RoutedKubeHandler(kubeapi._Handler):
    """The simulated API server's handler under ``/nodes/<node>``: that node's pods only."""

    server: _RoutedKubeServer
    _provider: Callable[[], Mapping[str, Any]]
    _slice_provider: Callable[[], Mapping[str, Any]] | None

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        parts = url.path.split("/", 3)  # "", "nodes", node, rest
        provider = (
            self.server.providers.get(parts[2]) if len(parts) == 4 and parts[1] == "nodes" else None
        )
        if provider is None:
            self._send(404, kubeapi._status(404, "NotFound", "no such node"))
            return
        self._provider = provider
        self._slice_provider = self.server.slice_providers.get(parts[2])
        self.path = "/" + parts[3] + (f"?{url.query}" if url.query else "")
        super().do_GET()

    def _items(self) -> list[Mapping[str, Any]]:
        return list(self._provider().get("items") or [])

    def _resource_slices(self) -> list[Mapping[str, Any]]:
        provider = self._slice_provider
        return list(provider().get("items") or []) if provider is not None else []


class _RoutedKubeServer(kubeapi._Server):
    def __init__(
        self,
        host: str,
        providers: Mapping[str, Callable[[], Mapping[str, Any]]],
        slice_providers: Mapping[str, Callable[[], Mapping[str, Any]]] | None = None,
    ) -> None:
        # Not kubeapi._Server.__init__: it binds loopback with the unrouted handler.
        ThreadingHTTPServer.__init__(self, (host, 0), _RoutedKubeHandler)
        self.pod_list_provider = lambda: {"items": []}
        self.objects = None  # pods only: no nodes or ConfigMaps (kubeapi.ClusterObjects)
        self._resource_version = 1000
        self._lock = threading.Lock()
        self.providers = dict(providers)
        self.slice_providers = dict(slice_providers or {})


class KubeletServers:
    """One pod-resources gRPC server per node (its own unix socket), one shared thread pool."""

    def __init__(self, workers: int = 8) -> None:
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kubelet")
        self._servers: list[grpc.Server] = []

    def add(self, node: SimulatedNode, socket_path: Path) -> str:
        server = grpc.server(self._executor)
        api_pb2_grpc.add_PodResourcesListerServicer_to_server(
            kubelet._Servicer(node.pod_resources_response, node.allocatable_resources_response),
            server,
        )
        kubelet._remove_stale_socket(str(socket_path))
        if server.add_insecure_port(f"unix://{socket_path}") == 0:
            raise OSError(f"cannot bind a pod-resources server to {socket_path}")
        server.start()
        self._servers.append(server)
        return str(socket_path)

    def close(self) -> None:
        # stop() only starts stopping: start them all, then wait.
        stopped = [server.stop(None) for server in self._servers]
        for event in stopped:
            event.wait(5)
        self._servers.clear()
        self._executor.shutdown(wait=False, cancel_futures=True)


# -- one node's exporter ----------------------------------------------------------------------


def start_node(
    stack: contextlib.ExitStack,
    simulated: SimulatedNode,
    settings: Settings,
    *,
    socket_path: str,
    kube_api_url: str,
    proc_root: Path,
) -> NodeExporter:
    """Start one node's exporter, as ``gpu-exporter`` starts it (:mod:`exporter.pipeline`),
    on a free port; ``stack`` stops it."""
    node_settings = dataclasses.replace(
        on_simulated_node(
            settings, socket_path=socket_path, kube_api_url=kube_api_url, proc_root=proc_root
        ),
        node_name=simulated.name,
        listen_port=0,
    )
    return start_exporter(
        stack,
        node_settings,
        simulated.nvml,
        xid_events=PolledXidEvents(simulated.nvml),
        xid_wait_ms=XID_WAIT_MS,
        http_poll_seconds=HTTP_POLL_SECONDS,
    )


class MultiExporter(contextlib.ExitStack):
    """The exporters of ``nodes`` of ``fleet`` in this process (see the module docstring)."""

    def __init__(
        self,
        fleet: FleetSpec,
        nodes: Sequence[str],
        workdir: Path,
        *,
        host: str = "127.0.0.1",
        exporter_args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__()
        self.fleet = SimulatedFleet(fleet, SystemClock())
        self.nodes = list(nodes)
        self.workdir = Path(workdir)
        self.host = host
        self.exporter_args = list(exporter_args)
        self.env = env
        self.exporters: dict[str, NodeExporter] = {}
        self.kube_api_url = ""

    def start(self) -> MultiExporter:
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def _start(self) -> None:
        simulated = {name: self.fleet.node(name) for name in self.nodes}
        kube = _RoutedKubeServer(
            self.host,
            {n: s.pod_list for n, s in simulated.items()},
            {n: s.resource_slice_list for n, s in simulated.items()},
        )
        self.callback(kube.server_close)
        threading.Thread(
            target=kube.serve_forever, kwargs={"poll_interval": 0.5}, daemon=True
        ).start()
        self.callback(kube.shutdown)
        host, port = kube.server_address[:2]
        self.kube_api_url = f"http://{host!s}:{port}"
        kubelets = KubeletServers()
        self.callback(kubelets.close)
        node_stacks: list[contextlib.ExitStack] = []
        proc_roots: list[tuple[SimulatedNode, Path]] = []
        # Nodes stop in parallel: each XID watcher takes up to a poll period to notice.
        self.callback(_close_all, node_stacks)
        for name, node in simulated.items():
            directory = self.workdir / name
            proc_root = directory / "proc"
            node.write_proc(proc_root)
            proc_roots.append((node, proc_root))
            socket_path = kubelets.add(node, directory / "kubelet.sock")
            settings = load_settings(
                [
                    "--node-name",
                    name,
                    "--listen",
                    f"{self.host}:0",
                    "--pod-resources-socket",
                    socket_path,
                    *self.exporter_args,
                ],
                self.env,
            )
            node_stack = contextlib.ExitStack()
            node_stacks.append(node_stack)
            self.exporters[name] = start_node(
                node_stack,
                node,
                settings,
                socket_path=socket_path,
                kube_api_url=f"{self.kube_api_url}/nodes/{name}",
                proc_root=proc_root,
            )
        # Scheduled pods come and go: one thread keeps every node's /proc up to date.
        stop_proc = threading.Event()
        self.callback(stop_proc.set)
        threading.Thread(
            target=keep_proc_current, args=(proc_roots, stop_proc), daemon=True
        ).start()

    def targets(self) -> dict[str, str]:
        """``{node: "host:port"}`` of every node's /metrics."""
        return {name: exporter.target for name, exporter in self.exporters.items()}


def _close_all(stacks: Sequence[contextlib.ExitStack], workers: int = 256) -> None:
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="stop") as pool:
        list(pool.map(lambda stack: stack.close(), stacks))


def _shard(text: str) -> tuple[int, int]:
    index, sep, count = text.partition("/")
    if not sep or not index.isdigit() or not count.isdigit():
        raise argparse.ArgumentTypeError(f"expected I/N, got {text!r}")
    return int(index), int(count)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m simulator.multiexporter", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--fleet", required=True, type=Path)
    parser.add_argument("--workdir", required=True, type=Path)
    parser.add_argument("--shard", type=_shard, default=(0, 1), help="I/N (default 0/1)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--log-level", default="WARNING")
    parser.add_argument("exporter_args", nargs="*", help="exporter flags, after --")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        fleet = load_fleet_fast(args.fleet)
        nodes = shard_nodes([node.name for node in fleet.nodes], *args.shard)
    except (SimulatorError, ValueError) as exc:
        print(f"simulator.multiexporter: error: {exc}", file=sys.stderr)
        return 1
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    args.workdir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with MultiExporter(
        fleet, nodes, args.workdir, host=args.host, exporter_args=args.exporter_args
    ) as multi:
        multi.start()
        targets = args.workdir / f"targets-{args.shard[0]}.json"
        targets.write_text(json.dumps(multi.targets(), indent=1))
        print(
            json.dumps(
                {
                    "nodes": len(nodes),
                    "targets": str(targets),
                    "kube_api_url": multi.kube_api_url,
                    "seconds": round(time.monotonic() - started, 1),
                }
            ),
            flush=True,
        )
        stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
