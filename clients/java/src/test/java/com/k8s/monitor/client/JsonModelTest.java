package com.k8s.monitor.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.k8s.monitor.client.internal.Json;
import com.k8s.monitor.client.model.GpuAllocationInfo;
import com.k8s.monitor.client.model.GpuAllocationRequest;
import com.k8s.monitor.client.model.GpuDeviceInfo;
import com.k8s.monitor.client.model.DeliveryCounts;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Models read what the seed shows, keep what they do not know, and survive odd values. */
class JsonModelTest {
    @Test
    void theSeedsDeviceExampleParses() throws Exception {
        String seed = "{\"deviceId\":\"gpu-worker-1-GPU-00\",\"nodeName\":\"gpu-worker-1\","
                + "\"modelId\":\"A100_80GB\",\"modelName\":\"NVIDIA A100 80GB\",\"deviceIndex\":0,"
                + "\"deviceStatus\":\"ACTIVE\",\"currentTempC\":72.5,\"currentPowerW\":280.3,"
                + "\"currentUtilization\":85.2,\"memoryGb\":80,\"architecture\":\"Ampere\","
                + "\"migSupport\":true,\"allocated\":false}";
        GpuDeviceInfo device = Json.MAPPER.readValue(seed, GpuDeviceInfo.class);
        assertEquals("gpu-worker-1-GPU-00", device.getDeviceId());
        assertEquals(0L, device.getDeviceIndex());
        assertEquals(72.5, device.getCurrentTempC());
        assertEquals(80.0, device.getMemoryGb());
        assertEquals(true, device.getMigSupport());
        assertEquals(Map.of(), device.getExtra());
    }

    @Test
    void unknownFieldsAreKeptAndWrittenBack() throws Exception {
        String json = "{\"allocationId\":\"ALLOC-ABC12345\",\"futureField\":{\"a\":1},"
                + "\"allocationTime\":\"2025-08-03T12:00:00Z\",\"history\":null}";
        GpuAllocationInfo allocation = Json.MAPPER.readValue(json, GpuAllocationInfo.class);
        assertEquals(Map.of("futureField", Map.of("a", 1)), allocation.getExtra());
        assertEquals(Instant.parse("2025-08-03T12:00:00Z"), allocation.getAllocationTime());
        assertEquals(List.of(), allocation.getHistory());
        String back = Json.MAPPER.writeValueAsString(allocation);
        assertTrue(back.contains("\"futureField\":{\"a\":1}"), back);
        assertTrue(back.contains("\"allocationTime\":\"2025-08-03T12:00:00Z\""), back);
    }

    @Test
    void valuesOfTheWrongTypeBecomeNull() throws Exception {
        String json = "{\"deviceId\":\"d\",\"currentTempC\":\"hot\",\"deviceIndex\":[1],"
                + "\"registeredAt\":\"yesterday\",\"migSupport\":{\"x\":1},\"memoryGb\":80,"
                + "\"modelName\":42,\"purchaseCost\":\"15000\",\"allocated\":\"yes\"}";
        GpuDeviceInfo device = Json.MAPPER.readValue(json, GpuDeviceInfo.class);
        assertEquals("d", device.getDeviceId());
        assertNull(device.getCurrentTempC());
        assertNull(device.getDeviceIndex());
        assertNull(device.getRegisteredAt());
        assertNull(device.getMigSupport());
        assertEquals(80.0, device.getMemoryGb());
        assertNull(device.getModelName());
        assertNull(device.getPurchaseCost());
        assertNull(device.getAllocated());
        GpuAllocationInfo allocation = Json.MAPPER.readValue(
                "{\"history\":{\"not\":\"a list\"},\"allocationId\":\"A\"}", GpuAllocationInfo.class);
        assertEquals("A", allocation.getAllocationId());
    }

    @Test
    void offsetAndNaiveTimesAreUtc() throws Exception {
        GpuAllocationInfo offset = Json.MAPPER.readValue(
                "{\"allocationTime\":\"2025-08-03T14:00:00+02:00\"}", GpuAllocationInfo.class);
        assertEquals(Instant.parse("2025-08-03T12:00:00Z"), offset.getAllocationTime());
        GpuAllocationInfo naive = Json.MAPPER.readValue(
                "{\"allocationTime\":\"2025-08-03T12:00:00\"}", GpuAllocationInfo.class);
        assertEquals(Instant.parse("2025-08-03T12:00:00Z"), naive.getAllocationTime());
    }

    @Test
    void apiNamesThatAreNotCamelCaseOfTheField() throws Exception {
        DeliveryCounts counts = Json.MAPPER.readValue(
                "{\"PENDING\":1,\"DELIVERED\":2,\"FAILED\":0}", DeliveryCounts.class);
        assertEquals(2L, counts.getDelivered());
        assertEquals(Map.of(), counts.getExtra());
    }

    @Test
    void theRequestLeavesUnsetFieldsOut() throws Exception {
        GpuAllocationRequest request = GpuAllocationRequest.builder()
                .namespace("model-serving").podName("vllm-pod").workloadType("Inference")
                .requiredMemoryGb(20).useMig(true)
                .plannedReleaseTime(Instant.parse("2025-08-04T12:00:00.123Z")).build();
        assertEquals("{\"namespace\":\"model-serving\",\"podName\":\"vllm-pod\",\"workloadType\":\"Inference\","
                        + "\"useMig\":true,\"requiredMemoryGb\":20.0,\"plannedReleaseTime\":\"2025-08-04T12:00:00Z\"}",
                Json.MAPPER.writeValueAsString(request));
    }
}
