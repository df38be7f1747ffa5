package com.k8s.monitor.client;

import static com.k8s.monitor.client.Transport.path;
import static com.k8s.monitor.client.Transport.query;

import com.k8s.monitor.client.model.CostStatistics;
import com.k8s.monitor.client.model.GpuAllocationInfo;
import com.k8s.monitor.client.model.GpuAllocationRequest;
import com.k8s.monitor.client.model.Page;
import com.k8s.monitor.client.model.Reconciliation;

/** {@code client.allocations()}: the allocation ledger (/gpu/allocations). */
public final class AllocationsApi {
    private static final String PREFIX = "/gpu/allocations";
    private final Transport http;

    AllocationsApi(Transport http) {
        this.http = http;
    }

    /**
     * Allocate a whole GPU ({@code useMig(false)}) or a MIG instance with enough memory (GB).
     * Throws GpuApiException INSUFFICIENT_RESOURCES when nothing free fits,
     * COST_LIMIT_EXCEEDED when all that fits costs more than maxCostPerHour (USD). Never
     * retried on 503 (an allocation must not be made twice).
     */
    public GpuAllocationInfo create(GpuAllocationRequest request) {
        return http.call("POST", PREFIX, query(), request, GpuAllocationInfo.class);
    }

    /** Release (idempotent: an ended allocation is returned as it is). */
    public GpuAllocationInfo release(String allocationId) {
        return http.call("DELETE", PREFIX + path(allocationId), query(), null,
                GpuAllocationInfo.class);
    }

    /** One allocation with its status history. */
    public GpuAllocationInfo get(String allocationId) {
        return http.call("GET", PREFIX + path(allocationId), query(), null, GpuAllocationInfo.class);
    }

    /** Live allocations by allocation time. */
    public Page<GpuAllocationInfo> list() {
        return list(null, null, null, null, null, null);
    }

    /**
     * Allocations filtered by namespace, user, team and {@code status} (ALLOCATED by default,
     * RELEASED, EXPIRED or ALL); all, or with {@code page} (from 1) and {@code size} one page.
     */
    public Page<GpuAllocationInfo> list(String namespace, String userId, String teamId,
            String status, Integer page, Integer size) {
        return http.page(PREFIX, query("namespace", namespace, "userId", userId, "teamId", teamId,
                "status", status, "page", page, "size", size), GpuAllocationInfo.class);
    }

    /** Live allocations whose planned release falls within the next {@code hours}. */
    public Page<GpuAllocationInfo> expiring(int hours) {
        return expiring(hours, null, null);
    }

    public Page<GpuAllocationInfo> expiring(int hours, Integer page, Integer size) {
        return http.page(PREFIX + "/expiring", query("hours", hours, "page", page, "size", size),
                GpuAllocationInfo.class);
    }

    /** Cost (USD) by team, namespace, user and model; {@code days} (nullable) limits the window. */
    public CostStatistics costStatistics(Integer days) {
        return http.call("GET", PREFIX + "/cost-statistics", query("days", days), null,
                CostStatistics.class);
    }

    public CostStatistics costStatistics() {
        return costStatistics(null);
    }

    /** The ledger against the kubelet's assignments; {@code namespace} may be null. */
    public Reconciliation reconciliation(String namespace) {
        return http.call("GET", PREFIX + "/reconciliation", query("namespace", namespace), null,
                Reconciliation.class);
    }
}
