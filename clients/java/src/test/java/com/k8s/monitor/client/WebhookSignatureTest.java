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
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * WebhookSignatureVerifier on a real signed delivery that the service sent to a receiver
 * (captured by tests/sdk/test_java_sdk.py into GPU_WEBHOOK_DELIVERY_DIR: {@code body}, the raw
 * bytes; {@code signature}, the X-Signature-256 header; {@code webhook-signature} and
 * {@code webhook-timestamp}, the attempt's X-Webhook-Signature and X-Webhook-Timestamp;
 * {@code secret}; {@code webhook-id}), and on bodies and headers made here the way
 * docs/webhooks.md says the service makes them.
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

    /** The headers of one attempt at {@code sentAt}, as the service's dispatcher sends them. */
    private static Map<String, String> attempt(String secret, byte[] body, Instant sentAt) {
        String t = Long.toString(sentAt.getEpochSecond());
        byte[] message = (t + "." + new String(body, StandardCharsets.US_ASCII)).getBytes(StandardCharsets.US_ASCII);
        String hex = WebhookSignatureVerifier.builder(secret).build().sign(message).substring("sha256=".length());
        Map<String, String> headers = new HashMap<>();
        headers.put("X-Webhook-Timestamp", t);
        headers.put("X-Webhook-Signature", "t=" + t + ",v1=" + hex);
        headers.put("X-Signature-256", header(body));
        return headers;
    }

    @Test
    void anAttemptIsVerifiedByItsOwnSignatureAndTime() {
        byte[] body = seedDelivery(SECRET);  // an event recorded at AT, retried 23 h later
        Instant sentAt = AT.plus(Duration.ofHours(23));
        Map<String, String> headers = attempt(SECRET, body, sentAt);
        WebhookSignatureVerifier.Builder builder = WebhookSignatureVerifier.builder(SECRET);
        WebhookEvent event = builder.clock(at(sentAt)).build().verifyRequest(body, headers::get);
        assertEquals("GPU_OVERHEATING", event.event());
        assertEquals(AT, event.timestamp());
        assertEquals(header(body), event.signature());
        assertTrue(builder.clock(at(sentAt.plusSeconds(300))).build().isValidRequest(body, headers::get));
        assertTrue(builder.clock(at(sentAt.minusSeconds(60))).build().isValidRequest(body, headers::get));
        WebhookVerificationException replay = assertThrows(WebhookVerificationException.class,
                () -> builder.clock(at(sentAt.plusSeconds(301))).build().verifyRequest(body, headers::get));
        assertTrue(replay.getMessage().contains("replay"), replay.getMessage());
        assertFalse(builder.clock(at(sentAt.minusSeconds(61))).build().isValidRequest(body, headers::get));
        assertFalse(builder.clock(at(sentAt.plusSeconds(31))).tolerance(Duration.ofSeconds(30)).build()
                .isValidRequest(body, headers::get));
        assertTrue(builder.clock(at(sentAt.plus(Duration.ofDays(9)))).tolerance(null).build()
                .isValidRequest(body, headers::get));
    }

    @Test
    void attemptsThatDoNotVerifyAreRefused() {
        byte[] body = seedDelivery(SECRET);
        Instant sentAt = AT.plusSeconds(10);
        String t = Long.toString(sentAt.getEpochSecond());
        String later = Long.toString(sentAt.getEpochSecond() + 600);
        WebhookSignatureVerifier verifier = WebhookSignatureVerifier.builder(SECRET).clock(at(sentAt)).build();
        Map<String, String> good = attempt(SECRET, body, sentAt);
        assertTrue(verifier.isValidRequest(body, good::get));
        assertTrue(verifier.isValidRequest(body, Map.of("X-Webhook-Signature", good.get("X-Webhook-Signature"))::get));

        // Headers without the attempt signature are refused, not checked by the body alone.
        Map<String, String> none = new HashMap<>(good);
        none.remove("X-Webhook-Signature");
        assertThrows(WebhookVerificationException.class, () -> verifier.verifyRequest(body, none::get));
        byte[] tampered = new String(body, StandardCharsets.US_ASCII).replace("95.2", "55.2")
                .getBytes(StandardCharsets.US_ASCII);
        assertFalse(verifier.isValidRequest(tampered, good::get));
        assertFalse(verifier.isValidRequest(body, attempt("other-secret", body, sentAt)::get));
        Map<String, String> moved = new HashMap<>(good);
        moved.put("X-Webhook-Signature", good.get("X-Webhook-Signature").replace("t=" + t, "t=" + later));
        moved.put("X-Webhook-Timestamp", later);
        assertFalse(verifier.isValidRequest(body, moved::get));
        Map<String, String> differs = new HashMap<>(good);
        differs.put("X-Webhook-Timestamp", later);
        assertFalse(verifier.isValidRequest(body, differs::get));
        Map<String, String> otherSeed = new HashMap<>(good);
        otherSeed.put("X-Signature-256", header(seedDelivery("other-secret")));
        assertFalse(verifier.isValidRequest(body, otherSeed::get));
        Map<String, String> noT = new HashMap<>(good);
        noT.put("X-Webhook-Signature", good.get("X-Webhook-Signature").split(",")[1]);
        assertFalse(verifier.isValidRequest(body, noT::get));
        Map<String, String> garbage = new HashMap<>(good);
        garbage.put("X-Webhook-Signature", "garbage");
        assertFalse(verifier.isValidRequest(body, garbage::get));
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
    void theBodySignatureAloneAllowsTheEventADay() {
        byte[] body = seedDelivery(SECRET);
        WebhookSignatureVerifier.Builder builder = WebhookSignatureVerifier.builder(SECRET);
        assertTrue(builder.clock(at(AT.plus(Duration.ofHours(23)))).build().isValid(body, null));
        WebhookVerificationException late = assertThrows(WebhookVerificationException.class,
                () -> builder.clock(at(AT.plus(Duration.ofHours(25)))).build().verify(body, null));
        assertTrue(late.getMessage().contains("replay"), late.getMessage());
        assertTrue(builder.clock(at(AT.minusSeconds(60))).build().isValid(body, null));
        assertFalse(builder.clock(at(AT.minusSeconds(61))).build().isValid(body, null));
        assertFalse(builder.clock(at(AT.plusSeconds(301))).eventTolerance(Duration.ofMinutes(5)).build()
                .isValid(body, null));
    }

    @Test
    void aRealDeliveryOfTheService() throws Exception {
        String dir = System.getenv("GPU_WEBHOOK_DELIVERY_DIR");
        assumeTrue(dir != null && !dir.isEmpty(), "GPU_WEBHOOK_DELIVERY_DIR is not set");
        byte[] body = Files.readAllBytes(Path.of(dir, "body"));
        String signature = Files.readString(Path.of(dir, "signature")).strip();
        String secret = Files.readString(Path.of(dir, "secret")).strip();
        String webhookId = Files.readString(Path.of(dir, "webhook-id")).strip();
        Map<String, String> headers = Map.of(
                "X-Signature-256", signature,
                "X-Webhook-Signature", Files.readString(Path.of(dir, "webhook-signature")).strip(),
                "X-Webhook-Timestamp", Files.readString(Path.of(dir, "webhook-timestamp")).strip());
        Instant sentAt = Instant.ofEpochSecond(Long.parseLong(headers.get("X-Webhook-Timestamp")));
        assertTrue(Duration.between(sentAt, Instant.now()).abs().compareTo(Duration.ofMinutes(30)) < 0);

        // The clock pinned to just after the attempt: the suite may run longer than 5 minutes.
        WebhookSignatureVerifier.Builder builder = WebhookSignatureVerifier.builder(secret);
        WebhookEvent event = builder.clock(at(sentAt.plusSeconds(2))).build().verifyRequest(body, headers::get);
        assertEquals("WEBHOOK_TEST", event.event());
        assertEquals(webhookId, event.data().get("webhookId"));
        assertEquals(signature, event.signature());
        assertTrue(Duration.between(event.timestamp(), sentAt).abs().compareTo(Duration.ofMinutes(5)) < 0);

        assertFalse(WebhookSignatureVerifier.builder(secret + "x").clock(at(sentAt)).build()
                .isValidRequest(body, headers::get));
        byte[] tampered = Arrays.copyOf(body, body.length);
        tampered[tampered.length - 3] ^= 1;
        assertFalse(builder.clock(at(sentAt)).build().isValidRequest(tampered, headers::get));
        // The same bytes and headers replayed ten minutes later are refused.
        assertFalse(builder.clock(at(sentAt.plus(Duration.ofMinutes(10)))).build().isValidRequest(body, headers::get));
        // The seed's body signature alone still verifies (within the day-long event tolerance).
        assertEquals(event, builder.clock(at(sentAt)).build().verify(body, signature));
        assertFalse(builder.clock(at(sentAt)).build().isValid(tampered, signature));
    }
}
