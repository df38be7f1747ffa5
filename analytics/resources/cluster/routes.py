"""Cluster resource endpoints (/resources): pods, nodes, usage, top pods, health, statistics,
namespaces, alerts and metric sources, read from Prometheus."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from analytics.api.context import services
from analytics.api.envelope import ApiBlueprint
from analytics.api.expensive import expensive
from analytics.paging import PageRequest, paged
from analytics.resources.cluster.schemas import (
    AlertQuerySchema,
    ClusterHealthSchema,
    ClusterStatisticsSchema,
    ClusterUsageSchema,
    MetricsStatusSchema,
    NamespaceUsageSchema,
    NodeDetailSchema,
    NodeSchema,
    PodDetailSchema,
    PodListQuerySchema,
    PodSchema,
    ResourceAlertSchema,
    StatisticsQuerySchema,
    TopPodSchema,
    TopPodsQuerySchema,
)
from analytics.services.cluster.health import ClusterHealthService
from analytics.services.cluster.service import ClusterService

blp = ApiBlueprint(
    "resources",
    __name__,
    url_prefix="/k8s-monitor/api/v1/resources",
    description="Cluster resources from kube-state-metrics, cAdvisor and the GPU exporter "
    "(through Prometheus). 503 METRICS_UNAVAILABLE when Prometheus cannot be reached.",
)


def cluster() -> ClusterService:
    return services().cluster


def health() -> ClusterHealthService:
    return services().cluster_health


@blp.route("/pods")
class ServingPods(MethodView):
    @blp.doc(operationId="listModelServingPods")
    @blp.arguments(PodListQuerySchema, location="query")
    @blp.paged_response(200, PodSchema, many=True)
    def get(self, query: dict[str, Any], page: PageRequest | None) -> Any:
        """Model-serving pods (vLLM, SGLang, ...) recognised by the GPU exporter

        Sorted by namespace, then pod name; page and size give one page of it (cut after the
        Prometheus answer is joined).
        """
        return paged(cluster().list_pods(query.get("namespace"), serving_only=True), page)


@blp.route("/pods/all")
class AllPods(MethodView):
    @blp.doc(operationId="listPods")
    @blp.arguments(PodListQuerySchema, location="query")
    @blp.paged_response(200, PodSchema, many=True)
    def get(self, query: dict[str, Any], page: PageRequest | None) -> Any:
        """Every pod, same shape as /resources/pods

        Sorted by namespace, then pod name; page and size give one page of it.
        """
        return paged(cluster().list_pods(query.get("namespace")), page)


@blp.route("/pods/top")
class TopPods(MethodView):
    @blp.doc(operationId="listTopPods")
    @blp.arguments(TopPodsQuerySchema, location="query")
    @blp.envelope_response(200, TopPodSchema, many=True)
    def get(self, query: dict[str, Any]) -> Any:
        """Pods using the most CPU (cores), memory (GiB) or GPU (GPUs' worth of utilisation)"""
        return cluster().top_pods(query["resource_type"], query["limit"])


@blp.route("/pods/<string:namespace>/<string:podName>")
class PodDetail(MethodView):
    @blp.doc(operationId="getPod")
    @blp.envelope_response(200, PodDetailSchema)
    def get(self, namespace: str, podName: str) -> Any:
        """One pod: containers, requests and limits, the GPUs and MIG instances it holds

        404 RESOURCE_NOT_FOUND when kube-state-metrics does not know the pod.
        """
        return cluster().pod_detail(namespace, podName)


@blp.route("/nodes")
class Nodes(MethodView):
    @blp.doc(operationId="listNodes")
    @blp.paged_response(200, NodeSchema, many=True)
    def get(self, page: PageRequest | None) -> Any:
        """Nodes: role, Ready, capacities, usage and pod counts

        Sorted by node name; page and size give one page of it.
        """
        return paged(cluster().list_nodes(), page)


@blp.route("/nodes/<string:nodeName>")
class NodeDetail(MethodView):
    @blp.doc(operationId="getNode")
    @blp.envelope_response(200, NodeDetailSchema)
    def get(self, nodeName: str) -> Any:
        """One node with its GPUs, MIG instances, GPU holders and pods

        404 RESOURCE_NOT_FOUND when kube-state-metrics does not know the node.
        """
        return cluster().node_detail(nodeName)


@blp.route("/usage")
class Usage(MethodView):
    @blp.doc(operationId="getResourceUsage")
    @blp.arguments(PodListQuerySchema, location="query")
    @blp.envelope_response(200, ClusterUsageSchema)
    def get(self, query: dict[str, Any]) -> Any:
        """Pods, nodes and a cluster summary (namespace filters the pods and pod counts)"""
        return cluster().usage(query.get("namespace"))


@blp.route("/namespaces")
class Namespaces(MethodView):
    @blp.doc(operationId="listNamespaceUsage")
    @blp.paged_response(200, NamespaceUsageSchema, many=True)
    def get(self, page: PageRequest | None) -> Any:
        """Usage per namespace: pods, CPU, memory and the GPUs held

        Sorted by namespace name; page and size give one page of it.
        """
        return paged(cluster().namespaces(), page)


@blp.route("/statistics")
class Statistics(MethodView):
    @blp.doc(operationId="getResourceStatistics")
    @blp.arguments(StatisticsQuerySchema, location="query")
    @blp.envelope_response(200, ClusterStatisticsSchema)
    @expensive
    def get(self, query: dict[str, Any]) -> Any:
        """Averages and peaks of cluster CPU, memory, GPU utilisation and pod counts"""
        return cluster().statistics(query["hours"])


@blp.route("/health")
class Health(MethodView):
    @blp.doc(operationId="getClusterHealth")
    @blp.envelope_response(200, ClusterHealthSchema)
    def get(self) -> Any:
        """Cluster health: nodes not Ready, pods failing, stuck or crash-looping, exporters down"""
        return health().health()


@blp.route("/alerts")
class Alerts(MethodView):
    @blp.doc(operationId="listResourceAlerts")
    @blp.arguments(AlertQuerySchema, location="query")
    @blp.paged_response(200, ResourceAlertSchema, many=True)
    def get(self, query: dict[str, Any], page: PageRequest | None) -> Any:
        """Firing Prometheus alerts and the service's own checks, most severe first

        Then by source, newest first, by name and by labels; page and size give one page of it.
        """
        return paged(health().alerts(query.get("severity"), query.get("source")), page)


@blp.route("/metrics/status")
class MetricsStatus(MethodView):
    @blp.doc(operationId="getMetricsStatus")
    @blp.envelope_response(200, MetricsStatusSchema)
    def get(self) -> Any:
        """Metric sources: Prometheus reachable, scrape targets up, series present and fresh

        Answers 200 with status DOWN while Prometheus is unreachable.
        """
        return health().metrics_status()
