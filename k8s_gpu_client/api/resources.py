"""``client.resources``: pods, nodes and cluster usage from Prometheus (/resources)."""

from __future__ import annotations

from k8s_gpu_client._http import path
from k8s_gpu_client.api._base import Namespace
from k8s_gpu_client.models.forecast import ResourceForecast
from k8s_gpu_client.models.paging import Page
from k8s_gpu_client.models.resources import (
    ClusterHealth,
    ClusterStatistics,
    ClusterUsage,
    MetricsStatus,
    NamespaceUsage,
    Node,
    NodeDetail,
    Pod,
    PodDetail,
    ResourceAlert,
    TopPod,
)

PREFIX = "/resources"


class Resources(Namespace):
    def pods(
        self, *, namespace: str | None = None, page: int | None = None, size: int | None = None
    ) -> Page[Pod]:
        """Model-serving pods (vLLM, SGLang, ...) by namespace and name; all, or one page."""
        params = {"namespace": namespace, "page": page, "size": size}
        return self._list(Pod, PREFIX + "/pods", params)

    def all_pods(
        self, *, namespace: str | None = None, page: int | None = None, size: int | None = None
    ) -> Page[Pod]:
        """Every pod by namespace and name; all, or one page."""
        params = {"namespace": namespace, "page": page, "size": size}
        return self._list(Pod, PREFIX + "/pods/all", params)

    def pod(self, namespace: str, pod_name: str) -> PodDetail:
        data = self._http.request("GET", PREFIX + path("pods", namespace, pod_name))
        return PodDetail.from_api(data)

    def top_pods(self, *, resource_type: str = "gpu", limit: int = 10) -> list[TopPod]:
        """Pods using the most ``cpu`` (cores), ``memory`` (GiB) or ``gpu``."""
        params = {"resourceType": resource_type, "limit": limit}
        return TopPod.from_api_list(self._http.request("GET", PREFIX + "/pods/top", params=params))

    def nodes(self, *, page: int | None = None, size: int | None = None) -> Page[Node]:
        """Nodes by name; all, or one page."""
        return self._list(Node, PREFIX + "/nodes", {"page": page, "size": size})

    def node(self, node_name: str) -> NodeDetail:
        return NodeDetail.from_api(self._http.request("GET", PREFIX + path("nodes", node_name)))

    def usage(self, *, namespace: str | None = None) -> ClusterUsage:
        data = self._http.request("GET", PREFIX + "/usage", params={"namespace": namespace})
        return ClusterUsage.from_api(data)

    def namespaces(
        self, *, page: int | None = None, size: int | None = None
    ) -> Page[NamespaceUsage]:
        """Usage per namespace by name; all, or one page."""
        return self._list(NamespaceUsage, PREFIX + "/namespaces", {"page": page, "size": size})

    def statistics(self, *, hours: int = 24) -> ClusterStatistics:
        data = self._http.request("GET", PREFIX + "/statistics", params={"hours": hours})
        return ClusterStatistics.from_api(data)

    def health(self) -> ClusterHealth:
        return ClusterHealth.from_api(self._http.request("GET", PREFIX + "/health"))

    def alerts(
        self,
        *,
        severity: str | None = None,
        source: str | None = None,
        page: int | None = None,
        size: int | None = None,
    ) -> Page[ResourceAlert]:
        """Firing alerts and the service's checks, most severe first; all, or one page."""
        params = {"severity": severity, "source": source, "page": page, "size": size}
        return self._list(ResourceAlert, PREFIX + "/alerts", params)

    def forecast(self, *, hours: int = 24) -> ResourceForecast:
        """CPU, memory and GPU usage over the next ``hours``."""
        data = self._http.request("GET", PREFIX + "/forecast", params={"hours": hours})
        return ResourceForecast.from_api(data)

    def metrics_status(self) -> MetricsStatus:
        return MetricsStatus.from_api(self._http.request("GET", PREFIX + "/metrics/status"))
