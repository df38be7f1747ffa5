package com.k8s.monitor.client;

import static com.k8s.monitor.client.Transport.path;
import static com.k8s.monitor.client.Transport.query;

import com.k8s.monitor.client.model.ClusterHealth;
import com.k8s.monitor.client.model.ClusterStatistics;
import com.k8s.monitor.client.model.ClusterUsage;
import com.k8s.monitor.client.model.MetricsStatus;
import com.k8s.monitor.client.model.NamespaceUsage;
import com.k8s.monitor.client.model.Node;
import com.k8s.monitor.client.model.NodeDetail;
import com.k8s.monitor.client.model.Page;
import com.k8s.monitor.client.model.Pod;
import com.k8s.monitor.client.model.PodDetail;
import com.k8s.monitor.client.model.ResourceAlert;
import com.k8s.monitor.client.model.ResourceForecast;
import com.k8s.monitor.client.model.TopPod;
import java.util.List;

/** {@code client.resources()}: pods, nodes and cluster usage from Prometheus (/resources). */
public final class ResourcesApi {
    private static final String PREFIX = "/resources";
    private final Transport http;

    ResourcesApi(Transport http) {
        this.http = http;
    }

    /** Model-serving pods (vLLM, SGLang, ...) by namespace and name; namespace may be null. */
    public Page<Pod> pods(String namespace) {
        return pods(namespace, null, null);
    }

    public Page<Pod> pods(String namespace, Integer page, Integer size) {
        return http.page(PREFIX + "/pods",
                query("namespace", namespace, "page", page, "size", size), Pod.class);
    }

    /** Every pod by namespace and name. */
    public Page<Pod> allPods(String namespace) {
        return allPods(namespace, null, null);
    }

    public Page<Pod> allPods(String namespace, Integer page, Integer size) {
        return http.page(PREFIX + "/pods/all",
                query("namespace", namespace, "page", page, "size", size), Pod.class);
    }

    public PodDetail pod(String namespace, String podName) {
        return http.call("GET", PREFIX + path("pods", namespace, podName), query(), null,
                PodDetail.class);
    }

    /** Pods using the most {@code cpu} (cores), {@code memory} (GiB) or {@code gpu}. */
    public List<TopPod> topPods(String resourceType, int limit) {
        return http.callList("GET", PREFIX + "/pods/top",
                query("resourceType", resourceType, "limit", limit), TopPod.class);
    }

    /** Nodes by name. */
    public Page<Node> nodes() {
        return nodes(null, null);
    }

    public Page<Node> nodes(Integer page, Integer size) {
        return http.page(PREFIX + "/nodes", query("page", page, "size", size), Node.class);
    }

    public NodeDetail node(String nodeName) {
        return http.call("GET", PREFIX + path("nodes", nodeName), query(), null, NodeDetail.class);
    }

    /** Pods, nodes and the cluster summary; namespace may be null. */
    public ClusterUsage usage(String namespace) {
        return http.call("GET", PREFIX + "/usage", query("namespace", namespace), null,
                ClusterUsage.class);
    }

    /** Usage per namespace by name. */
    public Page<NamespaceUsage> namespaces() {
        return namespaces(null, null);
    }

    public Page<NamespaceUsage> namespaces(Integer page, Integer size) {
        return http.page(PREFIX + "/namespaces", query("page", page, "size", size),
                NamespaceUsage.class);
    }

    public ClusterStatistics statistics(int hours) {
        return http.call("GET", PREFIX + "/statistics", query("hours", hours), null,
                ClusterStatistics.class);
    }

    public ClusterHealth health() {
        return http.call("GET", PREFIX + "/health", query(), null, ClusterHealth.class);
    }

    /** Firing alerts and the service's checks, most severe first. */
    public Page<ResourceAlert> alerts() {
        return alerts(null, null, null, null);
    }

    public Page<ResourceAlert> alerts(String severity, String source, Integer page, Integer size) {
        return http.page(PREFIX + "/alerts",
                query("severity", severity, "source", source, "page", page, "size", size),
                ResourceAlert.class);
    }

    /** CPU, memory and GPU usage over the next {@code hours}. */
    public ResourceForecast forecast(int hours) {
        return http.call("GET", PREFIX + "/forecast", query("hours", hours), null,
                ResourceForecast.class);
    }

    public MetricsStatus metricsStatus() {
        return http.call("GET", PREFIX + "/metrics/status", query(), null, MetricsStatus.class);
    }
}
