package com.k8s.monitor.client;

import static com.k8s.monitor.client.ScriptedServer.error;
import static com.k8s.monitor.client.ScriptedServer.json;
import static com.k8s.monitor.client.ScriptedServer.success;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.k8s.monitor.client.model.GpuAllocationRequest;
import com.k8s.monitor.client.model.GpuDeviceInfo;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The retry policy against a real loopback HTTP server that answers as scripted. */
class RetryTest {
    private static final String DEVICES =
            success("[{\"deviceId\":\"gpu-worker-1-GPU-00\",\"modelId\":\"A100_80GB\"}]");
    private static final String RATE_LIMITED =
            error("RATE_LIMIT_EXCEEDED", "Too many requests", "\"details\":null,\"retryAfter\":1");

    private final List<Duration> waits = new ArrayList<>();

    private GpuManagementClient client(ScriptedServer server) {
        return GpuManagementClient.builder()
                .baseUrl(server.baseUrl())
                .apiKey("k")
                .sleeper(waits::add)
                .build();
    }

    @Test
    void a429IsRetriedAfterItsRetryAfterThenSucceeds() throws Exception {
        try (ScriptedServer server = new ScriptedServer(
                json(429, RATE_LIMITED, "Retry-After", "1"), json(200, DEVICES))) {
            // The real clock: the client really waits the second the server asked for.
            GpuManagementClient real = GpuManagementClient.builder()
                    .baseUrl(server.baseUrl()).apiKey("k").build();
            long started = System.nanoTime();
            List<GpuDeviceInfo> devices = real.devices().list();
            long elapsedMs = (System.nanoTime() - started) / 1_000_000;
            assertEquals("gpu-worker-1-GPU-00", devices.get(0).getDeviceId());
            assertEquals(2, server.received().size());
            assertTrue(elapsedMs >= 1000, "waited only " + elapsedMs + " ms");
            assertEquals(List.of("Bearer k"), server.received().get(1).headers().get("Authorization"));
        }
    }

    @Test
    void a429OnAPostIsRetriedToo() throws Exception {
        String allocation = success("{\"allocationId\":\"ALLOC-ABC12345\",\"status\":\"ALLOCATED\"}");
        try (ScriptedServer server = new ScriptedServer(
                json(429, error("RATE_LIMIT_EXCEEDED", "slow", "\"retryAfter\":2"), "Retry-After", "2"),
                json(201, allocation))) {
            var created = client(server).allocations().create(GpuAllocationRequest.builder()
                    .namespace("n").podName("p").requiredMemoryGb(20).useMig(true).build());
            assertEquals("ALLOC-ABC12345", created.getAllocationId());
            assertEquals(List.of(Duration.ofSeconds(2)), waits);
            assertEquals("POST", server.received().get(1).method());
            assertEquals("{\"namespace\":\"n\",\"podName\":\"p\",\"useMig\":true,\"requiredMemoryGb\":20.0}",
                    server.received().get(1).body());
        }
    }

    @Test
    void retriesAreBoundedThenTheErrorIsThrown() throws Exception {
        try (ScriptedServer server = new ScriptedServer(json(429, RATE_LIMITED, "Retry-After", "1"))) {
            GpuApiException error = assertThrows(GpuApiException.class, () -> client(server).devices().list());
            assertEquals(429, error.getStatus());
            assertEquals(ErrorCodes.RATE_LIMIT_EXCEEDED, error.getCode());
            assertEquals(1.0, error.getRetryAfterSeconds().orElseThrow());
            assertEquals(4, server.received().size()); // the first try and 3 retries
            assertEquals(3, waits.size());
        }
    }

    @Test
    void aRetryAfterBeyondTheCapIsThrownAtOnce() throws Exception {
        try (ScriptedServer server = new ScriptedServer(
                json(429, error("RATE_LIMIT_EXCEEDED", "slow down", "\"retryAfter\":120"), "Retry-After", "120"),
                json(200, DEVICES))) {
            GpuApiException error = assertThrows(GpuApiException.class, () -> client(server).devices().list());
            assertEquals(120.0, error.getRetryAfterSeconds().orElseThrow());
            assertEquals(1, server.received().size());
            assertEquals(List.of(), waits);
        }
    }

    @Test
    void the503OfAGetIsRetriedWithBackoffButNeverThatOfAPost() throws Exception {
        String unavailable = error("METRICS_UNAVAILABLE", "Prometheus did not answer", "\"details\":\"timeout\"");
        try (ScriptedServer server = new ScriptedServer(json(503, unavailable), json(503, unavailable),
                json(200, DEVICES))) {
            assertEquals(1, client(server).devices().list().size());
            assertEquals(List.of(Duration.ofMillis(500), Duration.ofSeconds(1)), waits);
        }
        waits.clear();
        try (ScriptedServer server = new ScriptedServer(json(503, unavailable), json(201, DEVICES))) {
            GpuApiException error = assertThrows(GpuApiException.class,
                    () -> client(server).allocations().create(GpuAllocationRequest.builder()
                            .namespace("n").podName("p").requiredMemoryGb(1).build()));
            assertEquals(ErrorCodes.METRICS_UNAVAILABLE, error.getCode());
            assertEquals("timeout", error.getDetails());
            assertEquals(1, server.received().size());
        }
    }

    @Test
    void the503RetryAfterHeaderIsHonoured() throws Exception {
        try (ScriptedServer server = new ScriptedServer(
                json(503, error("METRICS_UNAVAILABLE", "down", ""), "Retry-After", "3"), json(200, DEVICES))) {
            client(server).devices().list();
            assertEquals(List.of(Duration.ofSeconds(3)), waits);
        }
    }

    @Test
    void maxRetriesZeroTurnsRetryingOff() throws Exception {
        try (ScriptedServer server = new ScriptedServer(json(429, RATE_LIMITED, "Retry-After", "1"))) {
            GpuManagementClient once = GpuManagementClient.builder()
                    .baseUrl(server.baseUrl()).maxRetries(0).sleeper(waits::add).build();
            assertThrows(GpuApiException.class, () -> once.devices().list());
            assertEquals(1, server.received().size());
        }
    }

    @Test
    void aRefusedConnectionIsATransportError() {
        GpuManagementClient nowhere = GpuManagementClient.builder()
                .baseUrl("http://127.0.0.1:9/k8s-monitor/api/v1").sleeper(waits::add).build();
        assertThrows(GpuTransportException.class, () -> nowhere.devices().list());
        assertEquals(3, waits.size()); // a GET: retried with backoff, then given up
    }
}
