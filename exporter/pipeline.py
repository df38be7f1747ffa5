"""One node's exporter wired together: NVML reader, XID watcher, attribution, sampler, HTTP.

Written once for every way the exporter is packaged: ``gpu-exporter`` (:mod:`exporter.main`),
the simulated node (``python -m simulator.exporter``) and the many nodes of one process
(:mod:`simulator.multiexporter`). Only the NVML library and the settings differ between them.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from typing import Any

from exporter.config import Settings
from exporter.gpm import GpmReader
from exporter.nvml import XID_WAIT_MS, NvmlReader, XidWatcher
from exporter.sampler import Intervals, Sampler
from exporter.server import ExporterHTTPServer
from exporter.webconfig import WebConfigFile

log = logging.getLogger("exporter")

# serve_forever's shutdown poll (socketserver's default).
HTTP_POLL_SECONDS = 0.5


@dataclass(frozen=True)
class NodeExporter:
    """The running exporter of one node."""

    node: str
    sampler: Sampler
    server: ExporterHTTPServer

    @property
    def target(self) -> str:
        """``host:port`` of its ``/metrics``, as Prometheus names a target."""
        return self.server.url.split("://", 1)[1]


def start_exporter(
    stack: contextlib.ExitStack,
    settings: Settings,
    nvml: Any,
    *,
    xid_events: Any = None,
    xid_wait_ms: int = XID_WAIT_MS,
    http_poll_seconds: float = HTTP_POLL_SECONDS,
) -> NodeExporter:
    """Start the exporter of ``settings.node_name`` on the NVML library ``nvml``.

    The stages follow the settings: the kubelet's pod-resources socket when
    ``pod_resources_socket`` is set, the Kubernetes API when ``kubernetes`` is on (without a
    usable configuration it is left off, with a warning), per-process attribution through
    ``proc_root`` when ``per_process`` is on. The HTTP server listens on ``listen_host`` and
    ``listen_port`` (0: a free port, read back from ``server.url``).

    ``settings.web_config_file``, when set, is read first: an invalid one raises
    :class:`exporter.webconfig.WebConfigError` before anything starts (later changes to it, and
    to the certificates it names, are picked up while running).

    ``xid_events`` is the library the XID watcher waits on (``nvml`` unless given) and
    ``xid_wait_ms`` how long each of its waits blocks; ``http_poll_seconds`` is how often the
    HTTP server checks for shutdown. ``stack`` stops everything, in reverse order of start.
    """
    web = WebConfigFile(settings.web_config_file) if settings.web_config_file else None
    sampler_ref: list[Sampler] = []

    def count_error(operation: str) -> None:
        if sampler_ref:
            sampler_ref[0].count_error(operation)

    reader = NvmlReader(
        nvml,
        mig_refresh_seconds=settings.mig_refresh_seconds,
        on_error=count_error,
        nvlink_per_link=settings.nvlink_per_link,
    )
    xids = XidWatcher(
        nvml if xid_events is None else xid_events, wait_ms=xid_wait_ms, on_error=count_error
    )
    gpm = GpmReader(nvml, enabled=settings.gpm, on_error=count_error)  # GPM profiling (issue 20)
    # gRPC and the kubernetes client load only when their stage is on: a node that runs
    # with attribution off does not pay their memory.
    pods = None
    if settings.kubernetes:
        from exporter.kube import KubeError, KubePodSource

        try:
            pods = KubePodSource(
                settings.node_name, api_url=settings.kube_api_url, kubeconfig=settings.kubeconfig
            )
        except KubeError as exc:
            log.warning(
                "Kubernetes API not configured (%s): pod phases and model-serving details are off",
                exc,
            )
        else:
            stack.callback(pods.close)
    pod_devices = None
    if settings.pod_resources_socket:
        from exporter.dra import ResourceSliceTable
        from exporter.podresources.client import PodResourcesClient

        # DRA devices are named by their driver; its ResourceSlices say which UUID each is.
        slices = ResourceSliceTable(pods.list_resource_slices) if pods is not None else None
        pod_devices = PodResourcesClient(
            settings.pod_resources_socket,
            resource_prefixes=settings.resource_prefixes,
            dra_uuid=slices.uuid if slices is not None else None,
        )
        stack.callback(pod_devices.close)
    sampler = Sampler(
        settings.node_name,
        reader,
        pod_devices=pod_devices,
        pods=pods,
        xids=xids,
        profiler=gpm,
        proc_root=settings.proc_root if settings.per_process else None,
        expected_devices=settings.expected_devices,
        intervals=Intervals(
            nvml=settings.nvml_interval_seconds,
            processes=settings.processes_interval_seconds,
            pod_resources=settings.pod_resources_interval_seconds,
            kubernetes=settings.kubernetes_interval_seconds,
            gpm=settings.nvml_interval_seconds,
        ),
    )
    sampler_ref.append(sampler)
    xids.start()
    stack.callback(xids.stop)
    sampler.start()
    stack.callback(sampler.stop)
    stack.callback(reader.shutdown)
    # Runs before NVML shuts down (callbacks run in reverse): GPM buffers are freed while the
    # library still holds them; a gpm stage still running finds the reader closed.
    stack.callback(gpm.close)
    server = ExporterHTTPServer(
        (settings.listen_host, settings.listen_port),
        sampler,
        nvml_interval_seconds=settings.nvml_interval_seconds,
        web=web,
    )
    stack.callback(server.server_close)
    server.serve_in_thread(poll_interval=http_poll_seconds)
    stack.callback(server.shutdown)
    return NodeExporter(settings.node_name, sampler, server)
