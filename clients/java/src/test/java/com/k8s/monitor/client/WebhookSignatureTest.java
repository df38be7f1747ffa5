package com.k8s.monitor.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/**
 * WebhookSignatureVerifier on a real signed delivery that the service sent to a receiver
 * (captured by tests/sdk/test_java_sdk.py into GPU_WEBHOOK_DELIVERY_DIR: {@code body}, the raw
 * bytes; {@code signature}, the X-Signature-256 header; {@code secret}; {@code webhook-id}), and
 * on bodies made here the way docs/webhooks.md says the service makes them.
 */
class WebhookSignatureTest {
    private static final String SECRET = "webhook_secret_key";
    private static final Instant AT = Instant.parse("2025-08-03T12:00:00Z");

    private static Clock at(Instant instant) {
        return Clock.fixed(instant, ZoneOffset.UTC);
    }

    /** The seed's example payload (5.1), signed and laid out as the service does. */
    private static byte[] seedDelivery(String secret) {
        String signed = "{\"data\":{\"deviceId\":\"gpu-worker-1-GPU-00\",\"severity\":\"CRITICAL\","
                + "\"temperature\":95.2,\"threshold\":85.0},\"event\":\"GPU_OVERHEATING\","
                + "\"timestamp\":\"2025-08-03T12:00:00Z\"}";
        String signature = WebhookSignatureVerifier.builder(secret).build()
                .sign(signed.getBytes(StandardCharsets.US_ASCII));
        return ("{\"signature\":\"" + signature + "\"," + signed.substring(1)).getBytes(StandardCharsets.US_ASCII);
    }

    private static String header(byte[] body) {
        return new String(body, 14, 71, StandardCharsets.US_ASCII);
    }

    @Test
    void aDeliveryIsVerifiedAndParsed() {
        byte[] body = seedDelivery(SECRET);
        WebhookSignatureVerifier verifier = WebhookSignatureVerifier.builder(SECRET).clock(at(AT)).build();
        WebhookEvent event = verifier.verify(body, header(body));
        assertEquals("GPU_OVERHEATING", event.event());
        assertEquals(AT, event.timestamp());
        assertEquals(95.2, event.data().get("temperature"));
        assertTrue(event.signature().startsWith("sha256="));
        assertTrue(verifier.isValid(body, null));
    }

    @Test
    void anotherSecretAlteredBytesOrAnotherHeaderAreRefused() {
        byte[] body = seedDelivery(SECRET);
        WebhookSignatureVerifier verifier = WebhookSignatureVerifier.builder(SECRET).clock(at(AT)).build();
        assertFalse(WebhookSignatureVerifier.builder("wrong").clock(at(AT)).build().isValid(body, header(body)));
        byte[] tampered = new String(body, StandardCharsets.US_ASCII).replace("95.2", "55.2")
                .getBytes(StandardCharsets.US_ASCII);
        assertThrows(WebhookVerificationException.class, () -> verifier.verify(tampered, null));
        byte[] other = seedDelivery("other-secret");
        assertThrows(WebhookVerificationException.class, () -> verifier.verify(body, header(other)));
        assertThrows(WebhookVerificationException.class,
                () -> verifier.verify("{\"event\":\"x\"}".getBytes(StandardCharsets.US_ASCII), null));
        assertThrows(WebhookVerificationException.class, () -> verifier.verify(new byte[0], null));
    }

    @Test
    void oldAndFutureTimestampsAreRefusedBeyondTheTolerance() {
        byte[] body = seedDelivery(SECRET);
        WebhookSignatureVerifier.Builder builder = WebhookSignatureVerifier.builder(SECRET);
        assertTrue(builder.clock(at(AT.plusSeconds(299))).build().isValid(body, null));
        WebhookVerificationException late = assertThrows(WebhookVerificationException.class,
                () -> builder.clock(at(AT.plusSeconds(301))).build().verify(body, null));
        assertTrue(late.getMessage().contains("replay"), late.getMessage());
        assertFalse(builder.clock(at(AT.minusSeconds(301))).build().isValid(body, null));
        assertTrue(builder.clock(at(AT.plus(Duration.ofHours(23))))
                .tolerance(Duration.ofHours(24)).build().isValid(body, null));
    }

    @Test
    void aRealDeliveryOfTheService() throws Exception {
        String dir = System.getenv("GPU_WEBHOOK_DELIVERY_DIR");
        assumeTrue(dir != null && !dir.isEmpty(), "GPU_WEBHOOK_DELIVERY_DIR is not set");
        byte[] body = Files.readAllBytes(Path.of(dir, "body"));
        String signature = Files.readString(Path.of(dir, "signature")).strip();
        String secret = Files.readString(Path.of(dir, "secret")).strip();
        String webhookId = Files.readString(Path.of(dir, "webhook-id")).strip();

        // Just delivered: the system clock is within the default tolerance.
        WebhookEvent event = WebhookSignatureVerifier.builder(secret).build().verify(body, signature);
        assertEquals("WEBHOOK_TEST", event.event());
        assertEquals(webhookId, event.data().get("webhookId"));
        assertEquals(signature, event.signature());
        assertTrue(Duration.between(event.timestamp(), Instant.now()).abs().compareTo(Duration.ofMinutes(5)) < 0);

        assertFalse(WebhookSignatureVerifier.builder(secret + "x").build().isValid(body, signature));
        byte[] tampered = Arrays.copyOf(body, body.length);
        tampered[tampered.length - 3] ^= 1;
        assertFalse(WebhookSignatureVerifier.builder(secret).build().isValid(tampered, signature));
        // The same bytes replayed ten minutes later are refused.
        Clock later = at(event.timestamp().plus(Duration.ofMinutes(10)));
        assertFalse(WebhookSignatureVerifier.builder(secret).clock(later).build().isValid(body, signature));
    }
}
