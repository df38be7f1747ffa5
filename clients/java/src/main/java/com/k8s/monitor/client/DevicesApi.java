package com.k8s.monitor.client;

import static com.k8s.monitor.client.Transport.path;
import static com.k8s.monitor.client.Transport.query;

import com.k8s.monitor.client.model.DeviceHealth;
import com.k8s.monitor.client.model.DeviceStatistics;
import com.k8s.monitor.client.model.GpuDeviceInfo;
import com.k8s.monitor.client.model.OverheatingDevice;
import com.k8s.monitor.client.model.Page;

/** {@code client.devices()}: the GPU inventory (/gpu/devices). Null arguments are left out. */
public final class DevicesApi {
    private static final String PREFIX = "/gpu/devices";
    private final Transport http;

    DevicesApi(Transport http) {
        this.http = http;
    }

    /** Every GPU, by node and index. */
    public Page<GpuDeviceInfo> list() {
        return list(null, null, null, null, null);
    }

    /**
     * GPUs filtered by node, model or status ({@code available}, {@code active},
     * {@code maintenance}, or an exact status); all of them, or with {@code page} (from 1) and
     * {@code size} one page.
     */
    public Page<GpuDeviceInfo> list(
            String nodeName, String modelId, String status, Integer page, Integer size) {
        return http.page(PREFIX, query("nodeName", nodeName, "modelId", modelId, "status", status,
                "page", page, "size", size), GpuDeviceInfo.class);
    }

    public GpuDeviceInfo get(String deviceId) {
        return http.call("GET", PREFIX + path(deviceId), query(), null, GpuDeviceInfo.class);
    }

    /** Register a GPU with purchase (USD) and warranty data; needs an operator key. */
    public GpuDeviceInfo register(GpuDeviceRegistration registration) {
        return http.call("POST", PREFIX, query(), registration, GpuDeviceInfo.class);
    }

    /** ACTIVE, INACTIVE, MAINTENANCE, FAILED or MIG_ENABLED. */
    public GpuDeviceInfo updateStatus(String deviceId, String status) {
        return http.call("PUT", PREFIX + path(deviceId, "status"), query("status", status), null,
                GpuDeviceInfo.class);
    }

    public DeviceStatistics statistics() {
        return http.call("GET", PREFIX + "/statistics", query(), null, DeviceStatistics.class);
    }

    /** GPUs now above their threshold, hottest first. */
    public Page<OverheatingDevice> overheating() {
        return overheating(null, null);
    }

    public Page<OverheatingDevice> overheating(Integer page, Integer size) {
        return http.page(PREFIX + "/overheating", query("page", page, "size", size),
                OverheatingDevice.class);
    }

    public DeviceHealth health(String deviceId) {
        return http.call("GET", PREFIX + path(deviceId, "health"), query(), null, DeviceHealth.class);
    }
}
