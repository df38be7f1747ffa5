package com.k8s.monitor.client;

import static com.k8s.monitor.client.Transport.query;

import com.fasterxml.jackson.core.type.TypeReference;
import com.k8s.monitor.client.internal.Json;
import com.k8s.monitor.client.model.GpuClusterHealth;
import com.k8s.monitor.client.model.GpuForecast;
import com.k8s.monitor.client.model.GpuOverview;
import java.util.Map;

/** {@code client.cluster()}: /gpu/overview, /gpu/health, /gpu/forecast, the actuator health. */
public final class ClusterApi {
    private final Transport http;

    ClusterApi(Transport http) {
        this.http = http;
    }

    /** Counts, utilisation now, rental-equivalent cost (USD), alerts. */
    public GpuOverview overview() {
        return http.call("GET", "/gpu/overview", query(), null, GpuOverview.class);
    }

    public GpuClusterHealth health() {
        return http.call("GET", "/gpu/health", query(), null, GpuClusterHealth.class);
    }

    /** GPU utilisation, allocated GPUs and memory over the next {@code hours}, with intervals. */
    public GpuForecast forecast(int hours) {
        return http.call("GET", "/gpu/forecast", query("hours", hours), null, GpuForecast.class);
    }

    /** The actuator health ({@code {"status": "UP", "components": ...}}, no envelope). */
    public Map<String, Object> serviceHealth() {
        return Json.MAPPER.convertValue(
                http.raw("GET", "/../actuator/health"), new TypeReference<Map<String, Object>>() {});
    }
}
