package com.k8s.monitor.client;

import static com.k8s.monitor.client.Transport.path;
import static com.k8s.monitor.client.Transport.query;

import com.k8s.monitor.client.model.MigInstance;
import com.k8s.monitor.client.model.MigLayout;
import com.k8s.monitor.client.model.MigStatistics;
import com.k8s.monitor.client.model.Page;
import java.util.List;
import java.util.Map;

/** {@code client.mig()}: MIG layouts (/gpu/mig). */
public final class MigApi {
    private static final String PREFIX = "/gpu/mig";
    private final Transport http;

    MigApi(Transport http) {
        this.http = http;
    }

    /** The GPU's layout: desired and observed instances, drift, the mig.config to apply. */
    public MigLayout get(String deviceId) {
        return http.call("GET", PREFIX + path("devices", deviceId), query(), null, MigLayout.class);
    }

    /**
     * Add instances (e.g. {@code List.of("1g.10gb", "2g.20gb")}), validated against the model's
     * geometry; they are PENDING until the exporter reports them.
     */
    public MigLayout create(String deviceId, List<String> profileIds) {
        return http.call("POST", PREFIX + path("devices", deviceId), query(),
                Map.of("profileIds", profileIds), MigLayout.class);
    }

    /** Remove every instance (refused with GPU_NOT_AVAILABLE while one is allocated). */
    public MigLayout delete(String deviceId) {
        return http.call("DELETE", PREFIX + path("devices", deviceId), query(), null, MigLayout.class);
    }

    /** Free MIG instances by node, GPU and instance id. */
    public Page<MigInstance> available() {
        return available(null, null);
    }

    public Page<MigInstance> available(Integer page, Integer size) {
        return http.page(PREFIX + "/available", query("page", page, "size", size), MigInstance.class);
    }

    public MigStatistics statistics() {
        return http.call("GET", PREFIX + "/statistics", query(), null, MigStatistics.class);
    }
}
