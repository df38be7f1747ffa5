package com.k8s.monitor.client;

import static com.k8s.monitor.client.ScriptedServer.json;
import static com.k8s.monitor.client.ScriptedServer.success;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.k8s.monitor.client.model.Page;
import com.k8s.monitor.client.model.GpuDeviceInfo;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** What the client puts on the wire: URLs, query strings, auth, and how it reads answers. */
class ClientRequestTest {
    @Test
    void pathSegmentsAndQueryValuesAreEncodedAndNullsLeftOut() throws Exception {
        try (ScriptedServer server = new ScriptedServer(json(200, success("[]")))) {
            GpuManagementClient client = GpuManagementClient.builder().baseUrl(server.baseUrl() + "/").build();
            client.devices().list("gpu worker/1", null, "available", null, 10);
            client.resources().pod("model serving", "vllm/pod");
            List<ScriptedServer.Received> received = server.received();
            assertEquals("/k8s-monitor/api/v1/gpu/devices?nodeName=gpu+worker%2F1&status=available&size=10",
                    received.get(0).path());
            assertEquals("/k8s-monitor/api/v1/resources/pods/model%20serving/vllm%2Fpod", received.get(1).path());
            assertNull(received.get(0).headers().get("Authorization"));
            assertEquals(List.of("application/json"), received.get(0).headers().get("Accept"));
        }
    }

    @Test
    void basicAuthAndTheEnvironment() throws Exception {
        try (ScriptedServer server = new ScriptedServer(json(200, success("[]")))) {
            GpuManagementClient.builder().baseUrl(server.baseUrl()).basicAuth("ops", "key").build()
                    .devices().list();
            GpuManagementClient.fromEnv(Map.of("GPUCTL_BASE_URL", server.baseUrl(), "GPUCTL_API_KEY", "k1",
                    "GPUCTL_TIMEOUT", "2.5"), "GPUCTL_").devices().list();
            assertEquals(List.of("Basic b3BzOmtleQ=="), server.received().get(0).headers().get("Authorization"));
            assertEquals(List.of("Bearer k1"), server.received().get(1).headers().get("Authorization"));
        }
    }

    @Test
    void theActuatorIsBesideTheApiBaseAndAnswersWithoutAnEnvelope() throws Exception {
        try (ScriptedServer server = new ScriptedServer(json(200, "{\"status\":\"UP\",\"components\":{}}"))) {
            GpuManagementClient client = GpuManagementClient.builder().baseUrl(server.baseUrl()).build();
            assertEquals("UP", client.cluster().serviceHealth().get("status"));
            assertEquals("/k8s-monitor/api/actuator/health", server.received().get(0).path());
        }
    }

    @Test
    void pagesCarryTheirPaginationAndRateLimitsAreKept() throws Exception {
        String page = "{\"status\":\"success\",\"data\":[{\"deviceId\":\"a\"},{\"deviceId\":\"b\"}],"
                + "\"pagination\":{\"page\":2,\"size\":2,\"totalElements\":32,\"totalPages\":16}}";
        try (ScriptedServer server = new ScriptedServer(json(200, page, "X-RateLimit-Limit", "5000",
                "X-RateLimit-Remaining", "4999", "X-RateLimit-Reset", "1767614400"))) {
            GpuManagementClient client = GpuManagementClient.builder().baseUrl(server.baseUrl()).build();
            Page<GpuDeviceInfo> devices = client.devices().list(null, null, null, 2, 2);
            assertEquals(List.of("a", "b"), devices.stream().map(GpuDeviceInfo::getDeviceId).toList());
            assertEquals(32, devices.getTotalElements());
            assertEquals(16, devices.getTotalPages());
            assertEquals(new RateLimit(5000, 4999, 1767614400L), client.getRateLimit());
        }
    }

    @Test
    void aSuccessStatusWithoutAnEnvelopeIsAnError() throws Exception {
        try (ScriptedServer server = new ScriptedServer(json(200, "<html>login</html>"))) {
            GpuManagementClient client = GpuManagementClient.builder().baseUrl(server.baseUrl()).build();
            GpuApiException error = assertThrows(GpuApiException.class, () -> client.devices().list());
            assertEquals(ErrorCodes.INVALID_RESPONSE, error.getCode());
            assertEquals(200, error.getStatus());
        }
    }

    @Test
    void aSlowAnswerIsATransportErrorAfterTheTimeout() throws Exception {
        try (ScriptedServer server = new ScriptedServer(json(200, success("[]")))) {
            server.delay(Duration.ofSeconds(2));
            GpuManagementClient client = GpuManagementClient.builder()
                    .baseUrl(server.baseUrl()).timeout(Duration.ofMillis(300)).build();
            assertThrows(GpuTransportException.class, () -> client.devices().list());
            assertEquals(1, server.received().size()); // a read timeout is never retried
        }
    }
}
