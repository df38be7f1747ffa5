package com.k8s.monitor.client;

import static com.k8s.monitor.client.Transport.query;

import com.k8s.monitor.client.model.BatchAllocationResult;
import com.k8s.monitor.client.model.BatchMetricsCollectResult;
import com.k8s.monitor.client.model.GpuAllocationRequest;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** {@code client.batch()}: many allocations in one call, collection for a list of nodes. */
public final class BatchApi {
    private static final String PREFIX = "/batch";
    private final Transport http;

    BatchApi(Transport http) {
        this.http = http;
    }

    /**
     * Up to 100 allocations, all or none (the error's context names the first that failed, by
     * index). Never retried on 503.
     */
    public BatchAllocationResult allocations(List<GpuAllocationRequest> requests) {
        return http.call("POST", PREFIX + "/allocations", query(),
                Map.of("allocations", requests), BatchAllocationResult.class);
    }

    /** Sync these nodes, then their GPU and node averages over the last hour. */
    public BatchMetricsCollectResult collectMetrics(List<String> nodes) {
        return collectMetrics(nodes, true, true, "1h");
    }

    /** As above, choosing what to collect and the {@code timeRange} (1h, 24h, 7d). */
    public BatchMetricsCollectResult collectMetrics(List<String> nodes, boolean collectGpuMetrics,
            boolean collectNodeMetrics, String timeRange) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("nodes", nodes);
        body.put("collectGpuMetrics", collectGpuMetrics);
        body.put("collectNodeMetrics", collectNodeMetrics);
        body.put("timeRange", timeRange);
        return http.call("POST", PREFIX + "/metrics/collect", query(), body,
                BatchMetricsCollectResult.class);
    }
}
