package com.k8s.monitor.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.k8s.monitor.client.model.ApiKey;
import com.k8s.monitor.client.model.ApiModel;
import com.k8s.monitor.client.model.CostAnalysis;
import com.k8s.monitor.client.model.DeviceHealth;
import com.k8s.monitor.client.model.GpuAllocationInfo;
import com.k8s.monitor.client.model.GpuAllocationRequest;
import com.k8s.monitor.client.model.GpuDeviceInfo;
import com.k8s.monitor.client.model.GpuOverview;
import com.k8s.monitor.client.model.NewApiKey;
import com.k8s.monitor.client.model.Page;
import com.k8s.monitor.client.model.User;
import com.k8s.monitor.client.model.Webhook;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The SDK against the real service (the demo fleet under Prometheus and gunicorn), started by
 * tests/sdk/test_java_sdk.py, which passes it in the environment:
 * GPU_API_BASE_URL, GPU_API_KEY (admin), GPU_API_VIEWER_KEY, GPU_EXPECTED_DEVICES
 * ({@code deviceId=modelId,...} from the fleet file) and GPU_API_RATE_LIMITED_BASE_URL (a second
 * service allowing 3 anonymous requests a minute). Without them these tests are skipped; the
 * pytest wrapper fails when any is.
 */
class LiveServiceTest {
    private static String baseUrl;
    private static GpuManagementClient client;

    @BeforeAll
    static void connect() {
        baseUrl = System.getenv("GPU_API_BASE_URL");
        assumeTrue(baseUrl != null && !baseUrl.isEmpty(), "GPU_API_BASE_URL is not set");
        client = GpuManagementClient.builder().baseUrl(baseUrl).apiKey(env("GPU_API_KEY")).build();
    }

    private static String env(String name) {
        String value = System.getenv(name);
        assertNotNull(value, name + " is not set");
        return value;
    }

    private static Map<String, String> expectedDevices() {
        Map<String, String> expected = new LinkedHashMap<>();
        for (String pair : env("GPU_EXPECTED_DEVICES").split(",")) {
            String[] parts = pair.split("=", 2);
            expected.put(parts[0], parts[1]);
        }
        return expected;
    }

    @Test
    void listsEveryGpuOfTheFleetWithItsModel() {
        List<GpuDeviceInfo> devices = client.devices().list();
        Map<String, String> listed = devices.stream()
                .collect(Collectors.toMap(GpuDeviceInfo::getDeviceId, GpuDeviceInfo::getModelId));
        expectedDevices().forEach((deviceId, modelId) ->
                assertEquals(modelId, listed.get(deviceId), deviceId));
        GpuDeviceInfo first = devices.stream()
                .filter(d -> d.getDeviceId().equals("gpu-worker-1-GPU-00"))
                .findFirst()
                .orElseThrow();
        assertEquals("gpu-worker-1", first.getNodeName());
        assertEquals(0L, first.getDeviceIndex());
        assertNotNull(first.getMemoryGb());
        assertNotNull(first.getMigSupport());
        assertNotNull(first.getRegisteredAt());
        // Every field the service sends has a place in the model.
        assertEquals(Map.of(), first.getExtra(), "fields missing from GpuDeviceInfo");
        assertNotNull(client.getRateLimit());
    }

    @Test
    void filtersAndPages() {
        Page<GpuDeviceInfo> h100 = client.devices().list(null, "H100_80GB", null, null, null);
        long expected = expectedDevices().values().stream().filter("H100_80GB"::equals).count();
        assertEquals(expected, h100.size());
        Page<GpuDeviceInfo> page = client.devices().list(null, null, null, 2, 5);
        assertEquals(5, page.size());
        assertNotNull(page.getPagination());
        assertEquals(2L, page.getPagination().getPage());
        assertTrue(page.getTotalElements() >= expectedDevices().size());
        GpuDeviceInfo one = client.devices().get("gpu-worker-1-GPU-00");
        assertEquals("A100_80GB", one.getModelId());
        DeviceHealth health = client.devices().health("gpu-worker-1-GPU-00");
        assertNotNull(health.getStatus());
    }

    @Test
    void createsGetsAndReleasesAnAllocation() {
        String podName = "java-sdk-" + UUID.randomUUID().toString().substring(0, 8);
        GpuAllocationRequest request = GpuAllocationRequest.builder()
                .namespace("sdk-tests")
                .podName(podName)
                .workloadType("Inference")
                .requiredMemoryGb(20)
                .useMig(true)
                .plannedReleaseTime(Instant.now().plus(2, ChronoUnit.HOURS))
                .teamId("java-team")
                .build();
        GpuAllocationInfo allocation = client.allocations().create(request);
        try {
            assertTrue(allocation.getAllocationId().startsWith("ALLOC-"), allocation.getAllocationId());
            assertEquals("ALLOCATED", allocation.getStatus());
            assertEquals("MIG_INSTANCE", allocation.getResourceType());
            assertEquals(podName, allocation.getPodName());
            assertTrue(allocation.getAllocatedMemoryGb() >= 20);
            assertTrue(allocation.getCostPerHour() > 0);
            assertNotNull(allocation.getAllocationTime());
            assertEquals(Map.of(), allocation.getExtra(), "fields missing from GpuAllocationInfo");
            assertEquals(podName, client.allocations().get(allocation.getAllocationId()).getPodName());
            List<String> live = client.allocations().list("sdk-tests", null, "java-team", null, null, null)
                    .stream().map(GpuAllocationInfo::getAllocationId).toList();
            assertTrue(live.contains(allocation.getAllocationId()), live.toString());
            assertTrue(client.allocations().expiring(3).stream()
                    .anyMatch(a -> a.getAllocationId().equals(allocation.getAllocationId())));
        } finally {
            GpuAllocationInfo released = client.allocations().release(allocation.getAllocationId());
            assertEquals("RELEASED", released.getStatus());
            assertNotNull(released.getReleaseTime());
        }
        // Releasing again is idempotent.
        assertEquals("RELEASED", client.allocations().release(allocation.getAllocationId()).getStatus());
    }

    @Test
    void notFoundIs404WithItsCode() {
        GpuApiException error = assertThrows(GpuApiException.class,
                () -> client.devices().get("invalid-device-id"));
        assertEquals(404, error.getStatus());
        assertEquals(ErrorCodes.RESOURCE_NOT_FOUND, error.getCode());
        assertFalse(error.getApiMessage().isEmpty());
        GpuApiException release = assertThrows(GpuApiException.class,
                () -> client.allocations().release("ALLOC-NOSUCH00"));
        assertEquals(ErrorCodes.RESOURCE_NOT_FOUND, release.getCode());
    }

    @Test
    void conflictsAre409WithTheirCodeAndDetails() {
        GpuApiException insufficient = assertThrows(GpuApiException.class,
                () -> client.allocations().create(GpuAllocationRequest.builder()
                        .namespace("sdk-tests").podName("java-huge").requiredMemoryGb(1000).build()));
        assertEquals(409, insufficient.getStatus());
        assertEquals(ErrorCodes.INSUFFICIENT_RESOURCES, insufficient.getCode());
        // Structured data is in error.context; details is a string or null (older servers sent
        // an object, which the SDK keeps as its JSON text).
        assertTrue(insufficient.getContext().containsKey("closestCandidates")
                        || (insufficient.getDetails() != null
                                && insufficient.getDetails().contains("closestCandidates")),
                insufficient.getBody());

        GpuDeviceInfo device = client.devices().get("gpu-worker-1-GPU-00");
        GpuApiException exists = assertThrows(GpuApiException.class,
                () -> client.devices().register(GpuDeviceRegistration.builder()
                        .nodeName(device.getNodeName())
                        .modelId(device.getModelId())
                        .deviceIndex(device.getDeviceIndex().intValue())
                        .build()));
        assertEquals(409, exists.getStatus());
        assertEquals(ErrorCodes.RESOURCE_ALREADY_EXISTS, exists.getCode());
    }

    @Test
    void validationFailuresNameTheField() {
        GpuApiException invalid = assertThrows(GpuApiException.class,
                () -> client.allocations().create(GpuAllocationRequest.builder()
                        .namespace("sdk-tests").podName("java-bad").requiredMemoryGb(-1).build()));
        assertEquals(400, invalid.getStatus());
        assertEquals(ErrorCodes.VALIDATION_ERROR, invalid.getCode());
        assertTrue(invalid.getFields().containsKey("requiredMemoryGb")
                        || (invalid.getDetails() != null && invalid.getDetails().contains("requiredMemoryGb")),
                invalid.getBody());
    }

    @Test
    void wrongKeyIs401AndViewerWriteIs403() {
        GpuManagementClient wrong = GpuManagementClient.builder()
                .baseUrl(baseUrl).apiKey("gak_wrong_key").build();
        GpuApiException unauthorized = assertThrows(GpuApiException.class, () -> wrong.devices().list());
        assertEquals(401, unauthorized.getStatus());
        assertEquals(ErrorCodes.UNAUTHORIZED, unauthorized.getCode());

        GpuManagementClient anonymous = GpuManagementClient.builder().baseUrl(baseUrl).build();
        GpuApiException anonymousWrite = assertThrows(GpuApiException.class,
                () -> anonymous.allocations().create(GpuAllocationRequest.builder()
                        .namespace("sdk-tests").podName("java-anon").requiredMemoryGb(1).build()));
        assertEquals(ErrorCodes.UNAUTHORIZED, anonymousWrite.getCode());

        GpuManagementClient viewer = GpuManagementClient.builder()
                .baseUrl(baseUrl).apiKey(env("GPU_API_VIEWER_KEY")).build();
        assertFalse(viewer.devices().list().isEmpty());
        GpuApiException forbidden = assertThrows(GpuApiException.class,
                () -> viewer.allocations().create(GpuAllocationRequest.builder()
                        .namespace("sdk-tests").podName("java-viewer").requiredMemoryGb(1).build()));
        assertEquals(403, forbidden.getStatus());
        assertEquals(ErrorCodes.FORBIDDEN, forbidden.getCode());
    }

    @Test
    void accountsKeysAndTokens() {
        String name = "java-sdk-" + UUID.randomUUID().toString().substring(0, 8);
        String password = "correct horse battery staple";
        User created = client.users().create(name, password, "operator", "ml-platform");
        assertEquals(name, created.getUsername());
        assertEquals("ml-platform", created.getTeam());
        assertEquals(Boolean.FALSE, created.getDisabled());
        GpuApiException taken = assertThrows(GpuApiException.class,
                () -> client.users().create(name, password, "viewer", null));
        assertEquals(ErrorCodes.RESOURCE_ALREADY_EXISTS, taken.getCode());
        assertTrue(client.users().list().stream().anyMatch(u -> name.equals(u.getUsername())));
        User changed = client.users().update(name, "viewer", "", null);
        assertEquals("viewer", changed.getRole());
        assertEquals(null, changed.getTeam());
        assertEquals("viewer", client.users().get(name).getRole());
        String newPassword = "another horse battery staple";
        client.users().setPassword(name, newPassword, null);

        NewApiKey made = client.apiKeys().create("viewer", "java-sdk-ci", name);
        assertNotNull(made.getKey());
        assertEquals(name, made.getUsername());
        List<ApiKey> keys = client.apiKeys().list(name);
        assertEquals(List.of(made.getKeyId()), keys.stream().map(ApiKey::getKeyId).toList());
        GpuManagementClient byKey = GpuManagementClient.builder()
                .baseUrl(baseUrl).apiKey(made.getKey()).build();
        assertFalse(byKey.devices().list().isEmpty());
        GpuManagementClient byPassword = GpuManagementClient.builder()
                .baseUrl(baseUrl).basicAuth(name, newPassword).build();
        assertFalse(byPassword.devices().list().isEmpty());
        // The demo stack has no token signing key: 404.
        GpuApiException noSigningKey = assertThrows(GpuApiException.class, byPassword::issueToken);
        assertEquals(404, noSigningKey.getStatus());

        ApiKey revoked = client.apiKeys().revoke(made.getKeyId());
        assertNotNull(revoked.getRevokedAt());
        GpuApiException refused = assertThrows(GpuApiException.class, () -> byKey.devices().list());
        assertEquals(ErrorCodes.UNAUTHORIZED, refused.getCode());
        assertEquals(Boolean.TRUE, client.users().update(name, null, null, true).getDisabled());
        for (ApiModel model : List.<ApiModel>of(created, changed, made, revoked)) {
            assertEquals(Map.of(), model.getExtra(), model.getClass().getSimpleName());
        }
    }

    @Test
    void basicAuthTakesTheKeyAsPassword() {
        GpuManagementClient basic = GpuManagementClient.builder()
                .baseUrl(baseUrl).basicAuth("ops", env("GPU_API_KEY")).build();
        assertFalse(basic.devices().list().isEmpty());
    }

    @Test
    void aRealRateLimitIs429WithRetryAfter() {
        String limited = env("GPU_API_RATE_LIMITED_BASE_URL");
        // maxRetryWait 0: whatever Retry-After says is beyond it, so the error comes at once.
        GpuManagementClient anonymous = GpuManagementClient.builder()
                .baseUrl(limited).maxRetryWait(Duration.ZERO).build();
        GpuApiException error = assertThrows(GpuApiException.class, () -> {
            for (int i = 0; i < 10; i++) {
                anonymous.devices().list();
            }
        });
        assertEquals(429, error.getStatus());
        assertEquals(ErrorCodes.RATE_LIMIT_EXCEEDED, error.getCode());
        double retryAfter = error.getRetryAfterSeconds().orElseThrow();
        assertTrue(retryAfter >= 1 && retryAfter <= 60, String.valueOf(retryAfter));
        assertEquals(3L, anonymous.getRateLimit().limit());
    }

    @Test
    void everyAreaAnswersInItsModel() {
        GpuOverview overview = client.cluster().overview();
        assertTrue(overview.getTotalGpuDevices() >= expectedDevices().size());
        assertEquals("UP", client.cluster().serviceHealth().get("status"));
        assertNotNull(client.cluster().health().getStatus());
        CostAnalysis cost = client.cost().analyze(30);
        assertNotNull(cost.getMonthlyCost());
        assertFalse(client.cost().prices().isEmpty());
        assertNotNull(client.cost().optimization());
        assertNotNull(client.allocations().costStatistics());
        assertNotNull(client.allocations().reconciliation(null));
        assertNotNull(client.devices().statistics().getTotalDevices());
        assertNotNull(client.devices().overheating());
        assertNotNull(client.mig().available());
        assertNotNull(client.mig().statistics());
        assertNotNull(client.mig().get("gpu-worker-1-GPU-00"));
        assertFalse(client.metrics().usageStatistics(24).getDeviceStatistics().isEmpty());
        assertNotNull(client.metrics().overheatingAlerts(24));
        assertNotNull(client.metrics().collectionStatus());
        assertFalse(client.resources().nodes().isEmpty());
        assertEquals("gpu-worker-1", client.resources().node("gpu-worker-1").getName());
        assertNotNull(client.resources().pods(null));
        assertNotNull(client.resources().allPods(null));
        assertNotNull(client.resources().usage(null));
        assertNotNull(client.resources().namespaces());
        assertNotNull(client.resources().statistics(24));
        assertNotNull(client.resources().health());
        assertNotNull(client.resources().alerts());
        assertNotNull(client.resources().topPods("gpu", 5));
        assertNotNull(client.resources().metricsStatus());
        assertNotNull(client.webhooks().list());
    }

    @Test
    void webhookLifecycle() {
        Webhook hook = client.webhooks().create(WebhookRequest.builder()
                .name("java-slack")
                .url("https://93.184.215.14/services/T00000000/B00000000/XXXXXXXX")
                .events("GPU_OVERHEATING", "ALLOCATION_FAILED")
                .secret("webhook_secret_key")
                .active(false)
                .build());
        try {
            assertEquals(List.of("GPU_OVERHEATING", "ALLOCATION_FAILED"), hook.getEvents());
            assertFalse(hook.toString().contains("webhook_secret_key"));
            Webhook renamed = client.webhooks().update(hook.getWebhookId(),
                    WebhookRequest.builder().name("java-alerts").build());
            assertEquals("java-alerts", renamed.getName());
            assertEquals(List.of(), client.webhooks().deliveries(hook.getWebhookId()));
        } finally {
            assertEquals(hook.getWebhookId(), client.webhooks().delete(hook.getWebhookId()).getWebhookId());
        }
    }

    @Test
    void batchAllocatesAllOrNone() {
        var result = client.batch().allocations(List.of(
                GpuAllocationRequest.builder().namespace("sdk-tests").podName("java-batch-1")
                        .workloadType("Training").requiredMemoryGb(10).useMig(true).build(),
                GpuAllocationRequest.builder().namespace("sdk-tests").podName("java-batch-2")
                        .workloadType("Training").requiredMemoryGb(10).useMig(true).build()));
        try {
            assertEquals(2, result.getAllocations().size());
            assertNotNull(result.getBatchId());
        } finally {
            result.getAllocations().forEach(a -> client.allocations().release(a.getAllocationId()));
        }
    }
}
