package com.k8s.monitor.client;

import static com.k8s.monitor.client.Transport.query;

import com.k8s.monitor.client.model.CollectionStatus;
import com.k8s.monitor.client.model.OverheatingAlerts;
import com.k8s.monitor.client.model.SyncResult;
import com.k8s.monitor.client.model.UsageStatistics;

/** {@code client.metrics()}: GPU metrics from Prometheus and the inventory sync (/gpu/metrics). */
public final class MetricsApi {
    private static final String PREFIX = "/gpu/metrics";
    private final Transport http;

    MetricsApi(Transport http) {
        this.http = http;
    }

    /** Per-device and per-model average utilisation, memory use (percent), temperature. */
    public UsageStatistics usageStatistics(int hours) {
        return usageStatistics(hours, null, null);
    }

    /** With page and size, deviceStatistics holds one page of GPUs; see getPagination(). */
    public UsageStatistics usageStatistics(int hours, Integer page, Integer size) {
        return http.pagedObject(PREFIX + "/usage-statistics",
                query("hours", hours, "page", page, "size", size), UsageStatistics.class);
    }

    /** Windows in which a GPU was above its model's temperature threshold, oldest first. */
    public OverheatingAlerts overheatingAlerts(int hours) {
        return overheatingAlerts(hours, null, null);
    }

    public OverheatingAlerts overheatingAlerts(int hours, Integer page, Integer size) {
        return http.pagedObject(PREFIX + "/overheating-alerts",
                query("hours", hours, "page", page, "size", size), OverheatingAlerts.class);
    }

    /** Sync the inventory and MIG state with what the exporters report now (operator). */
    public SyncResult collect() {
        return http.call("POST", PREFIX + "/collect", query(), null, SyncResult.class);
    }

    public CollectionStatus collectionStatus() {
        return http.call("GET", PREFIX + "/collection-status", query(), null, CollectionStatus.class);
    }
}
