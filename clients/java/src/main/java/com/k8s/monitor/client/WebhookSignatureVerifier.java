package com.k8s.monitor.client;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import com.k8s.monitor.client.internal.Json;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.InvalidKeyException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Map;
import java.util.Objects;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Checks a webhook delivery in a receiver: its {@code sha256=} HMAC signature under the
 * webhook's secret, and its age.
 *
 * <p>How the service signs (docs/webhooks.md): the signed bytes are the payload without its
 * {@code signature} member as canonical JSON, and the body on the wire is exactly those bytes
 * with {@code {"signature":"sha256=<64 hex>",} put first. So the signed bytes are {@code "{"}
 * plus the raw body after that prefix; this class verifies from the raw body, never from a
 * re-serialised payload, so pass the bytes exactly as received. The signature is compared in
 * constant time ({@link MessageDigest#isEqual}); when the {@code X-Signature-256} header is given
 * it must equal the body's {@code signature} member too.
 *
 * <p>Replays: the payload's {@code timestamp} (signed, so it cannot be altered) is when the
 * service recorded the event; a delivery whose timestamp is further than the tolerance from now
 * (default 5 minutes, either way) is refused. A retried delivery keeps its event's timestamp, so
 * a receiver that was down longer than the tolerance refuses the service's retries: choose a
 * tolerance as long as the retries you want to accept (the service retries for up to
 * {@code webhook_max_age_seconds}, 24 h by default) and drop repeats by the
 * {@code X-Webhook-Event-Id} header, which is the same on every retry.
 *
 * <pre>{@code
 * WebhookSignatureVerifier verifier = WebhookSignatureVerifier.builder(secret).build();
 * WebhookEvent event = verifier.verify(body, request.getHeader("X-Signature-256"));
 * }</pre>
 */
public final class WebhookSignatureVerifier {
    public static final String SIGNATURE_HEADER = "X-Signature-256";
    public static final String EVENT_HEADER = "X-Webhook-Event";
    public static final String EVENT_ID_HEADER = "X-Webhook-Event-Id";
    public static final Duration DEFAULT_TOLERANCE = Duration.ofMinutes(5);

    private static final String SCHEME = "sha256=";
    private static final byte[] BODY_PREFIX =
            "{\"signature\":\"sha256=".getBytes(StandardCharsets.US_ASCII);
    private static final int HEX_LENGTH = 64;
    /** {@code {"signature":"sha256=} + 64 hex digits + {@code ",}. */
    private static final int SIGNATURE_PREFIX_LENGTH = BODY_PREFIX.length + HEX_LENGTH + 2;

    private final byte[] secret;
    private final Duration tolerance;
    private final Clock clock;

    private WebhookSignatureVerifier(byte[] secret, Duration tolerance, Clock clock) {
        this.secret = secret;
        this.tolerance = tolerance;
        this.clock = clock;
    }

    /** A verifier for deliveries signed with {@code secret} (the webhook's, as registered). */
    public static Builder builder(String secret) {
        return new Builder(secret);
    }

    /**
     * The verified event; throws {@link WebhookVerificationException} when the body is not a
     * delivery signed with this secret, or when its timestamp is outside the tolerance.
     *
     * @param body the request body exactly as received
     * @param signatureHeader the {@code X-Signature-256} header, or null to check the body alone
     */
    public WebhookEvent verify(byte[] body, String signatureHeader) {
        Objects.requireNonNull(body, "body");
        if (body.length <= SIGNATURE_PREFIX_LENGTH
                || !Arrays.equals(body, 0, BODY_PREFIX.length, BODY_PREFIX, 0, BODY_PREFIX.length)
                || body[SIGNATURE_PREFIX_LENGTH - 2] != '"'
                || body[SIGNATURE_PREFIX_LENGTH - 1] != ',') {
            throw new WebhookVerificationException(
                    "the body does not start with the signature member");
        }
        int claimedStart = BODY_PREFIX.length - SCHEME.length();
        byte[] claimed = Arrays.copyOfRange(body, claimedStart, SIGNATURE_PREFIX_LENGTH - 2);
        if (signatureHeader != null
                && !MessageDigest.isEqual(
                        signatureHeader.strip().getBytes(StandardCharsets.US_ASCII), claimed)) {
            throw new WebhookVerificationException(
                    "the " + SIGNATURE_HEADER + " header does not match the body's signature");
        }
        byte[] signed = new byte[body.length - SIGNATURE_PREFIX_LENGTH + 1];
        signed[0] = '{';
        System.arraycopy(body, SIGNATURE_PREFIX_LENGTH, signed, 1, body.length - SIGNATURE_PREFIX_LENGTH);
        byte[] expected = sign(signed).getBytes(StandardCharsets.US_ASCII);
        if (!MessageDigest.isEqual(expected, claimed)) {
            throw new WebhookVerificationException("the signature does not match (wrong secret or altered body)");
        }
        WebhookEvent event = parse(signed, new String(claimed, StandardCharsets.US_ASCII));
        Instant now = clock.instant();
        Duration age = Duration.between(event.timestamp(), now).abs();
        if (age.compareTo(tolerance) > 0) {
            throw new WebhookVerificationException("the delivery's timestamp " + event.timestamp()
                    + " is more than " + tolerance + " from now (" + now + "): a replay or a late retry");
        }
        return event;
    }

    /** {@link #verify} as a yes or no. */
    public boolean isValid(byte[] body, String signatureHeader) {
        try {
            verify(body, signatureHeader);
            return true;
        } catch (WebhookVerificationException exc) {
            return false;
        }
    }

    /** {@code sha256=} + the lower-case hex HMAC-SHA256 of {@code message} under the secret. */
    public String sign(byte[] message) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(secret, "HmacSHA256"));
            return SCHEME + HexFormat.of().formatHex(mac.doFinal(message));
        } catch (NoSuchAlgorithmException | InvalidKeyException exc) {
            throw new IllegalStateException("HmacSHA256 is not available", exc);
        }
    }

    private static WebhookEvent parse(byte[] signed, String signature) {
        JsonNode payload;
        try {
            payload = Json.MAPPER.readTree(signed);
        } catch (IOException exc) {
            throw new WebhookVerificationException("the signed payload is not JSON: " + exc);
        }
        if (payload == null || !payload.isObject() || !payload.path("event").isTextual()
                || !payload.path("timestamp").isTextual()) {
            throw new WebhookVerificationException("the payload lacks its event or timestamp");
        }
        Instant timestamp;
        try {
            timestamp = Json.parseInstant(payload.get("timestamp").asText());
        } catch (DateTimeParseException exc) {
            throw new WebhookVerificationException("the payload's timestamp is not ISO-8601");
        }
        Map<String, Object> data = payload.path("data").isObject()
                ? Json.MAPPER.convertValue(payload.get("data"), new TypeReference<Map<String, Object>>() {})
                : Map.of();
        return new WebhookEvent(payload.get("event").asText(), timestamp, data, signature);
    }

    /** Builds a verifier: the secret, and optionally the tolerance and the clock. */
    public static final class Builder {
        private final byte[] secret;
        private Duration tolerance = DEFAULT_TOLERANCE;
        private Clock clock = Clock.systemUTC();

        private Builder(String secret) {
            Objects.requireNonNull(secret, "secret");
            this.secret = secret.getBytes(StandardCharsets.UTF_8);
        }

        /** How far a delivery's timestamp may be from now, either way (default 5 minutes). */
        public Builder tolerance(Duration tolerance) {
            if (tolerance.isNegative()) {
                throw new IllegalArgumentException("tolerance must not be negative");
            }
            this.tolerance = tolerance;
            return this;
        }

        /** The clock that says what now is (tests pin it). */
        public Builder clock(Clock clock) {
            this.clock = Objects.requireNonNull(clock);
            return this;
        }

        public WebhookSignatureVerifier build() {
            return new WebhookSignatureVerifier(secret.clone(), tolerance, clock);
        }
    }
}
