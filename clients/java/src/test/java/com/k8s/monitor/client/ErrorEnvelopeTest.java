package com.k8s.monitor.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The error envelope, as today's service sends it and as the next one will. */
class ErrorEnvelopeTest {
    @Test
    void theNewEnvelopeWithStringDetailsFieldsAndContext() {
        String body = "{\"status\":\"error\",\"error\":{\"code\":\"VALIDATION_ERROR\","
                + "\"message\":\"Invalid request\",\"details\":\"requiredMemoryGb: must be > 0\","
                + "\"fields\":{\"requiredMemoryGb\":[\"Must be greater than 0.\"],\"podName\":\"Missing.\"},"
                + "\"context\":{\"index\":3,\"closest\":[\"a\",\"b\"]}},\"timestamp\":\"2026-01-05T12:00:00Z\"}";
        GpuApiException error = GpuApiException.fromResponse(400, body, null);
        assertEquals(400, error.getStatus());
        assertEquals("VALIDATION_ERROR", error.getCode());
        assertEquals("Invalid request", error.getApiMessage());
        assertEquals("requiredMemoryGb: must be > 0", error.getDetails());
        assertEquals(Map.of("requiredMemoryGb", List.of("Must be greater than 0."), "podName", List.of("Missing.")),
                error.getFields());
        assertEquals(3, error.getContext().get("index"));
        assertEquals(List.of("a", "b"), error.getContext().get("closest"));
        assertEquals("VALIDATION_ERROR (HTTP 400): Invalid request", error.getMessage());
        assertTrue(error.getRetryAfterSeconds().isEmpty());
    }

    @Test
    void todaysObjectDetailsBecomeTheirJsonText() {
        String body = "{\"status\":\"error\",\"error\":{\"code\":\"INSUFFICIENT_RESOURCES\","
                + "\"message\":\"No GPU fits\",\"details\":{\"closestCandidates\":[{\"deviceId\":\"x\"}]}}}";
        GpuApiException error = GpuApiException.fromResponse(409, body, null);
        assertEquals("{\"closestCandidates\":[{\"deviceId\":\"x\"}]}", error.getDetails());
        assertEquals(Map.of(), error.getFields());
    }

    @Test
    void nullDetailsAndRetryAfterFromTheEnvelopeOrTheHeader() {
        String body = "{\"status\":\"error\",\"error\":{\"code\":\"RATE_LIMIT_EXCEEDED\","
                + "\"message\":\"slow\",\"details\":null,\"retryAfter\":7}}";
        GpuApiException error = GpuApiException.fromResponse(429, body, "9");
        assertNull(error.getDetails());
        assertEquals(7.0, error.getRetryAfterSeconds().orElseThrow());
        String headerOnly = "{\"status\":\"error\",\"error\":{\"code\":\"RATE_LIMIT_EXCEEDED\",\"message\":\"slow\"}}";
        assertEquals(9.0, GpuApiException.fromResponse(429, headerOnly, "9").getRetryAfterSeconds().orElseThrow());
    }

    @Test
    void unknownCodesAreKeptAndNonEnvelopesGetAnHttpCode() {
        GpuApiException unknown = GpuApiException.fromResponse(418,
                "{\"status\":\"error\",\"error\":{\"code\":\"TEAPOT\",\"message\":\"short and stout\"}}", null);
        assertEquals("TEAPOT", unknown.getCode());
        GpuApiException proxy = GpuApiException.fromResponse(502, "<html>Bad Gateway</html>", null);
        assertEquals("HTTP_502", proxy.getCode());
        assertTrue(proxy.getApiMessage().contains("Bad Gateway"));
        assertEquals("HTTP_500", GpuApiException.fromResponse(500, "", null).getCode());
    }

    @Test
    void aRetryAfterDateIsSecondsFromNow() {
        java.time.Instant now = java.time.Instant.parse("2026-01-05T12:00:00Z");
        assertEquals(30.0, RetryAfter.fromHeader("Mon, 05 Jan 2026 12:00:30 GMT", now));
        assertEquals(0.0, RetryAfter.fromHeader("Mon, 05 Jan 2026 11:00:00 GMT", now));
        assertNull(RetryAfter.fromHeader("soon", now));
    }
}
