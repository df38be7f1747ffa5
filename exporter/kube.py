"""The Kubernetes API source: the pods on this node, as :class:`PodInfo` records, and the DRA
ResourceSlices published for it.

The only exporter module that imports the ``kubernetes`` client; its exceptions (API errors,
connection errors, configuration errors) are translated into :class:`KubeError` here.

Pods are listed through the ApiClient and the JSON parsed directly: the client's model
deserialisation is the expensive part of a list and gives nothing we need (measured against the
simulator, 110 pods: 9.6 ms for request + JSON + our PodInfo parsing, 37 ms for request + model
deserialisation alone), and the generated CoreV1Api module costs ~20 MiB just to import.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from kubernetes import client as k8s_client
from kubernetes import config as _k8s_config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException
from urllib3.exceptions import HTTPError

from exporter.errors import ExporterError
from exporter.serving import detect_pod_model
from exporter.snapshot import PodInfo

# The config loaders and ApiClient.close() are not annotated in the client's hints.
k8s_config: Any = _k8s_config


# resource.k8s.io versions that carry ResourceSlices, newest first.
RESOURCE_API_VERSIONS = ("v1", "v1beta2", "v1beta1")


class KubeError(ExporterError):
    """The Kubernetes API could not be configured, reached, or answered with an error.

    ``status`` is the HTTP status when the server answered.
    """

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class KubePodSource:
    """Lists the pods scheduled on one node.

    Configuration, most explicit first: ``api_url`` (plain HTTP, no auth: the simulator and
    tests), then ``kubeconfig``, then the in-cluster service account, then the default
    kubeconfig. Explicit settings win over the ambient in-cluster environment so that tests run
    inside a CI pod never talk to the real cluster.
    """

    def __init__(
        self,
        node_name: str,
        api_url: str | None = None,
        kubeconfig: str | None = None,
        timeout_seconds: float = 5.0,
    ) -> None:
        self.node_name = node_name
        self.timeout_seconds = timeout_seconds
        configuration = _configuration(api_url, kubeconfig)
        # The generated CoreV1Api module alone costs ~20 MiB of memory once imported; one GET
        # through the ApiClient (same auth, TLS and config handling) costs nothing extra.
        self._api_client: Any = k8s_client.ApiClient(configuration)
        self._resource_version: str | None = None  # resource.k8s.io version the server serves

    def list_pods(self) -> list[PodInfo]:
        """Every pod bound to this node, in the API's order."""
        body = self._get_list("/api/v1/pods", f"listing pods on node {self.node_name}", "PodList")
        return [pod_info(item) for item in body if isinstance(item, dict)]

    def list_resource_slices(self) -> list[dict[str, Any]]:
        """The DRA ResourceSlices published for this node (``resource.k8s.io``), as JSON.

        ``v1`` first (Kubernetes 1.34+), then ``v1beta2`` and ``v1beta1``; the first version the
        server serves is kept. A server with none of them (DRA off) gives an empty list.
        """
        versions = (
            RESOURCE_API_VERSIONS if self._resource_version is None else (self._resource_version,)
        )
        for version in versions:
            try:
                items = self._get_list(
                    f"/apis/resource.k8s.io/{version}/resourceslices",
                    f"listing ResourceSlices ({version}) of node {self.node_name}",
                    "ResourceSliceList",
                )
            except KubeError as exc:
                if exc.status == 404:
                    continue
                raise
            self._resource_version = version
            return [item for item in items if isinstance(item, dict)]
        return []

    def _get_list(self, path: str, where: str, kind: str) -> list[Any]:
        """The ``items`` of a list of ``path`` filtered to this node (``spec.nodeName``)."""
        try:
            method, url, headers, _body, _post = self._api_client.param_serialize(
                method="GET",
                resource_path=path,
                query_params=[
                    ("fieldSelector", f"spec.nodeName={self.node_name}"),
                    # "0": served from the API server's watch cache, not etcd. A DaemonSet
                    # polling every few seconds on every node should not cost a quorum read.
                    ("resourceVersion", "0"),
                ],
                header_params={"Accept": "application/json"},
                auth_settings=["BearerToken"],
            )
            response: Any = self._api_client.call_api(
                method, url, header_params=headers, _request_timeout=self.timeout_seconds
            )
            response.read()
        except ApiException as exc:
            raise KubeError(f"{where}: HTTP {exc.status} {exc.reason}", status=exc.status) from exc
        except HTTPError as exc:
            raise KubeError(f"{where}: {exc}") from exc
        if not 200 <= response.status < 300:
            raise KubeError(f"{where}: HTTP {response.status} {response.reason}", response.status)
        try:
            body = json.loads(response.data)
        except ValueError as exc:  # JSON that does not decode
            raise KubeError(f"{where}: bad JSON: {exc}") from exc
        if not isinstance(body, dict) or not isinstance(body.get("items"), list):
            raise KubeError(f"{where}: not a {kind}")
        items: list[Any] = body["items"]
        return items

    def close(self) -> None:
        """Close pooled connections."""
        self._api_client.close()

    def __enter__(self) -> KubePodSource:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def pod_info(pod: Mapping[str, Any]) -> PodInfo:
    """A :class:`PodInfo` from a Pod object in the API's JSON shape."""
    metadata = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    container_ids: dict[str, str] = {}
    # Init containers too: sidecar-style init containers keep running and can use a GPU.
    for key in ("initContainerStatuses", "containerStatuses"):
        for container_status in status.get(key) or ():
            runtime_id = _strip_runtime(container_status.get("containerID") or "")
            if runtime_id and container_status.get("name"):
                container_ids[str(container_status["name"])] = runtime_id
    model = detect_pod_model(pod)
    return PodInfo(
        namespace=str(metadata.get("namespace") or ""),
        name=str(metadata.get("name") or ""),
        uid=str(metadata.get("uid") or ""),
        phase=str(status.get("phase") or "Unknown"),
        node_name=str(spec.get("nodeName") or ""),
        labels={str(k): str(v) for k, v in (metadata.get("labels") or {}).items()},
        container_ids=container_ids,
        model_type=model[0] if model else None,
        model_name=model[1] if model else None,
    )


def _strip_runtime(container_id: str) -> str:
    """``containerd://abc`` -> ``abc`` (also docker://, cri-o://, any other runtime)."""
    return container_id.split("://", 1)[-1]


def _configuration(api_url: str | None, kubeconfig: str | None) -> Any:
    configuration = k8s_client.Configuration()
    try:
        if api_url is not None:
            configuration.host = api_url.rstrip("/")
        elif kubeconfig is not None:
            k8s_config.load_kube_config(config_file=kubeconfig, client_configuration=configuration)
        else:
            try:
                k8s_config.load_incluster_config(client_configuration=configuration)
            except ConfigException:
                k8s_config.load_kube_config(client_configuration=configuration)
    except (ConfigException, OSError, ValueError) as exc:
        raise KubeError(f"no usable Kubernetes configuration: {exc}") from exc
    # One quick retry covers a pooled keep-alive connection the server has closed; the sampler
    # retries on its own schedule, so nothing longer is wanted here.
    configuration.retries = 1
    return configuration
