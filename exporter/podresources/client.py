"""The kubelet pod-resources client: which container holds which NVIDIA device id.

The only exporter module (besides the generated stubs) that imports grpc. gRPC failures are
translated into :class:`PodResourcesError` here so the sampler can degrade without knowing grpc.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Any

import grpc

from exporter.dra import NVIDIA_GPU_DRIVER, TOOLKIT_CDI_KIND, ClaimDevice, cdi_device
from exporter.errors import ExporterError
from exporter.podresources import api_pb2, api_pb2_grpc
from exporter.snapshot import PodDevice

DEFAULT_SOCKET_PATH = "/var/lib/kubelet/pod-resources/kubelet.sock"

# The kubelet's own limit for pod-resources answers is 16 MiB (gRPC's default is 4 MiB, which a
# dense node with many pods and CPU/memory assignments can exceed).
_MAX_MESSAGE_BYTES = 16 * 1024 * 1024


class PodResourcesError(ExporterError):
    """The kubelet pod-resources API could not be asked or answered with an error.

    ``code`` is the gRPC status name ("UNAVAILABLE", "DEADLINE_EXCEEDED", ...) when known.
    """

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class PodResourcesClient:
    """A client of ``v1.PodResourcesLister`` on the kubelet's unix socket.

    One channel is kept for the client's lifetime; after a failed call it is closed and a fresh
    one is made on the next call, so a restarted kubelet (new socket file, same path) is picked
    up at once instead of after gRPC's reconnect back-off. Safe to call from several threads.

    Devices of DRA claims (``dynamic_resources``) are reported for the drivers in
    ``dra_drivers``; ``dra_uuid`` (e.g. :meth:`exporter.dra.ResourceSliceTable.uuid`) turns a
    driver's device name into the ``GPU-...``/``MIG-...`` id attribution resolves, and a name it
    does not know is passed on as it is (see :mod:`exporter.dra`).
    """

    def __init__(
        self,
        socket_path: str = DEFAULT_SOCKET_PATH,
        timeout_seconds: float = 5.0,
        resource_prefixes: tuple[str, ...] = ("nvidia.com/",),
        dra_drivers: tuple[str, ...] = (NVIDIA_GPU_DRIVER,),
        dra_uuid: Callable[[ClaimDevice], str | None] | None = None,
    ) -> None:
        self.socket_path = socket_path
        self.timeout_seconds = timeout_seconds
        self.resource_prefixes = resource_prefixes
        self.dra_drivers = dra_drivers
        self._dra_uuid = dra_uuid
        self._lock = threading.Lock()
        self._channel: grpc.Channel | None = None
        self._stub: Any = None  # api_pb2_grpc.PodResourcesListerStub (untyped, generated)

    @property
    def target(self) -> str:
        """The gRPC target: ``unix:///abs/path`` (an absolute path keeps the form unambiguous)."""
        return "unix://" + os.path.abspath(self.socket_path)

    def list_pod_devices(self) -> list[PodDevice]:
        """Every device id of a matching resource, one record per (container, device id).

        The kubelet can still list pods that have finished; dropping those needs the pods'
        phases and is left to :func:`exporter.attribution.resolve_allocations`.
        """
        response = self._call("List", api_pb2.ListPodResourcesRequest())
        devices: list[PodDevice] = []
        for pod in response.pod_resources:
            for container in pod.containers:
                for container_devices in container.devices:
                    resource_name: str = container_devices.resource_name
                    if not resource_name.startswith(self.resource_prefixes):
                        continue
                    devices.extend(
                        PodDevice(
                            namespace=pod.namespace,
                            pod=pod.name,
                            container=container.name,
                            resource_name=resource_name,
                            device_id=device_id,
                        )
                        for device_id in container_devices.device_ids
                    )
                for dynamic in container.dynamic_resources:
                    devices.extend(
                        PodDevice(
                            namespace=pod.namespace,
                            pod=pod.name,
                            container=container.name,
                            resource_name=claim_device.driver,
                            device_id=self._dra_device_id(claim_device),
                            claim_name=dynamic.claim_name,
                            claim_namespace=dynamic.claim_namespace or pod.namespace,
                        )
                        for claim_device in self._claim_devices(dynamic)
                    )
        return devices

    def _claim_devices(self, dynamic: Any) -> Iterator[ClaimDevice]:
        """The devices of one ``DynamicResource`` of a driver we attribute, without repeats."""
        seen: set[ClaimDevice] = set()
        for resource in dynamic.claim_resources:
            if resource.device_name:  # Kubernetes 1.31+
                candidates = [
                    ClaimDevice(resource.driver_name, resource.pool_name, resource.device_name)
                ]
            else:  # older kubelets: CDI device names only (one device may have several)
                candidates = [
                    found
                    for cdi in resource.cdi_devices
                    if (found := cdi_device(cdi.name)) is not None
                ]
            for candidate in candidates:
                wanted = candidate.driver in self.dra_drivers or (
                    candidate.driver == TOOLKIT_CDI_KIND
                    and TOOLKIT_CDI_KIND.startswith(self.resource_prefixes)
                )
                if wanted and candidate not in seen:
                    seen.add(candidate)
                    yield candidate

    def _dra_device_id(self, device: ClaimDevice) -> str:
        if self._dra_uuid is not None and device.driver != TOOLKIT_CDI_KIND:
            uuid = self._dra_uuid(device)
            if uuid is not None:
                return uuid
        return device.device

    def allocatable_device_ids(self) -> list[tuple[str, str]]:
        """(resource name, device id) for every matching device the kubelet can allocate."""
        response = self._call("GetAllocatableResources", api_pb2.AllocatableResourcesRequest())
        return [
            (container_devices.resource_name, device_id)
            for container_devices in response.devices
            if container_devices.resource_name.startswith(self.resource_prefixes)
            for device_id in container_devices.device_ids
        ]

    def close(self) -> None:
        """Close the channel; a later call opens a new one."""
        with self._lock:
            self._drop_channel()

    def __enter__(self) -> PodResourcesClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _call(self, method: str, request: object) -> Any:
        with self._lock:
            channel, stub = self._ensure_stub()
        try:
            return getattr(stub, method)(request, timeout=self.timeout_seconds)
        except grpc.RpcError as exc:
            with self._lock:
                # Another thread may already have replaced the channel; keep the new one.
                if self._channel is channel:
                    self._drop_channel()
            code = exc.code().name if isinstance(exc, grpc.Call) else None
            details = exc.details() if isinstance(exc, grpc.Call) else str(exc)
            raise PodResourcesError(
                f"pod-resources {method} on {self.target} failed: {code or 'error'}: {details}",
                code=code,
            ) from exc

    def _ensure_stub(self) -> tuple[grpc.Channel, Any]:
        if self._channel is None or self._stub is None:
            self._channel = grpc.insecure_channel(
                self.target,
                options=[
                    ("grpc.max_receive_message_length", _MAX_MESSAGE_BYTES),
                    # A local socket: no proxy, whatever the environment says.
                    ("grpc.enable_http_proxy", 0),
                ],
            )
            self._stub = api_pb2_grpc.PodResourcesListerStub(self._channel)
        return self._channel, self._stub

    def _drop_channel(self) -> None:
        if self._channel is not None:
            self._channel.close()
        self._channel = None
        self._stub = None
