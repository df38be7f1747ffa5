"""A fake kubelet pod-resources endpoint: the real v1 gRPC service on a unix socket.

Tests and the demo point the exporter's :class:`exporter.podresources.client.PodResourcesClient`
at it, so attribution is exercised through the same protocol a kubelet speaks.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import Any

import grpc

from exporter.podresources import api_pb2, api_pb2_grpc

ListProvider = Callable[[], Any]  # -> api_pb2.ListPodResourcesResponse
AllocatableProvider = Callable[[], Any]  # -> api_pb2.AllocatableResourcesResponse


class _Servicer:
    """``v1.PodResourcesLister`` answering from the providers on every call."""

    def __init__(
        self, list_provider: ListProvider, allocatable_provider: AllocatableProvider | None
    ) -> None:
        self._list_provider = list_provider
        self._allocatable_provider = allocatable_provider

    def List(self, request: Any, context: grpc.ServicerContext) -> Any:
        return self._list_provider()

    def GetAllocatableResources(self, request: Any, context: grpc.ServicerContext) -> Any:
        if self._allocatable_provider is not None:
            return self._allocatable_provider()
        # Without a provider, everything currently allocated is what is allocatable.
        device_ids: dict[str, list[str]] = {}
        for pod in self._list_provider().pod_resources:
            for container in pod.containers:
                for devices in container.devices:
                    known = device_ids.setdefault(devices.resource_name, [])
                    known.extend(d for d in devices.device_ids if d not in known)
        return api_pb2.AllocatableResourcesResponse(
            devices=[
                api_pb2.ContainerDevices(resource_name=name, device_ids=ids)
                for name, ids in sorted(device_ids.items())
            ]
        )

    def Get(self, request: Any, context: grpc.ServicerContext) -> Any:
        for pod in self._list_provider().pod_resources:
            if pod.name == request.pod_name and pod.namespace == request.pod_namespace:
                return api_pb2.GetPodResourcesResponse(pod_resources=pod)
        context.abort(
            grpc.StatusCode.NOT_FOUND,
            f"pod {request.pod_name} not found in namespace {request.pod_namespace}",
        )


class PodResourcesServer:
    """A gRPC server for ``v1.PodResourcesLister`` bound to ``unix://<socket_path>``.

    ``start()`` may be called again after ``stop()`` (a kubelet restart on the same path).
    """

    def __init__(
        self,
        socket_path: str,
        list_provider: ListProvider,
        allocatable_provider: AllocatableProvider | None = None,
        max_workers: int = 4,
    ) -> None:
        self.socket_path = os.path.abspath(socket_path)
        self._servicer = _Servicer(list_provider, allocatable_provider)
        self._max_workers = max_workers
        self._server: grpc.Server | None = None

    def start(self) -> None:
        if self._server is not None:
            return
        _remove_stale_socket(self.socket_path)
        server = grpc.server(ThreadPoolExecutor(max_workers=self._max_workers))
        api_pb2_grpc.add_PodResourcesListerServicer_to_server(self._servicer, server)
        try:
            bound = server.add_insecure_port("unix://" + self.socket_path)
        except RuntimeError as exc:
            raise OSError(f"cannot bind pod-resources server to {self.socket_path}") from exc
        if bound == 0:
            raise OSError(f"cannot bind pod-resources server to {self.socket_path}")
        server.start()
        self._server = server

    def stop(self, grace_seconds: float | None = None) -> None:
        if self._server is None:
            return
        self._server.stop(grace_seconds).wait()
        self._server = None
        _remove_stale_socket(self.socket_path)

    def __enter__(self) -> PodResourcesServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _remove_stale_socket(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        if stat.S_ISSOCK(os.stat(path).st_mode):
            os.unlink(path)
