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
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Function;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Checks a webhook delivery in a receiver: its HMAC-SHA256 signatures under the webhook's secret,
 * and its age.
 *
 * <p>Every attempt of a delivery carries two signatures (docs/webhooks.md):
 * <ul>
 *   <li>{@code X-Webhook-Signature: t=<unix seconds>,v1=<hex>}, the HMAC-SHA256 of
 *       {@code "<t>."} followed by the raw body, {@code t} being the time of <em>this
 *       attempt</em> (also sent as {@code X-Webhook-Timestamp}). Every retry is signed afresh,
 *       so {@link #verifyRequest} refuses an attempt older than the tolerance (default 5
 *       minutes, and 1 minute ahead for clock skew): a replay.
 *   <li>the seed's {@code sha256=<64 hex>} over the payload without its {@code signature}
 *       member as canonical JSON; the body on the wire is exactly those bytes with
 *       {@code {"signature":"sha256=<64 hex>",} put first, and the value is also sent as
 *       {@code X-Signature-256}. So the signed bytes are {@code "{"} plus the raw body after that
 *       prefix: this class verifies from the raw body, never from a re-serialised payload, so
 *       pass the bytes exactly as received. The payload's {@code timestamp} is when the service
 *       recorded the event and every retry keeps it, so on its own ({@link #verify}) it bounds
 *       nothing shorter than the service's retry horizon ({@code webhook_max_age_seconds}, 24 h
 *       by default, the event tolerance): drop repeats by the {@code X-Webhook-Event-Id}
 *       header, which is the same on every retry.
 * </ul>
 * Signatures are compared in constant time ({@link MessageDigest#isEqual}).
 *
 * <pre>{@code
 * WebhookSignatureVerifier verifier = WebhookSignatureVerifier.builder(secret).build();
 * WebhookEvent event = verifier.verifyRequest(body, request::getHeader);
 * }</pre>
 */
public final class WebhookSignatureVerifier {
    public static final String SIGNATURE_HEADER = "X-Signature-256";
    public static final String EVENT_HEADER = "X-Webhook-Event";
    public static final String EVENT_ID_HEADER = "X-Webhook-Event-Id";
    /** The attempt's time, in Unix seconds. */
    public static final String TIMESTAMP_HEADER = "X-Webhook-Timestamp";
    /** The attempt's signature: {@code t=<unix seconds>,v1=<hex>}. */
    public static final String ATTEMPT_SIGNATURE_HEADER = "X-Webhook-Signature";
    /** How old an attempt may be: the replay window of {@link #verifyRequest}. */
    public static final Duration DEFAULT_TOLERANCE = Duration.ofMinutes(5);
    /** How old the event may be when only the body's signature is checked ({@link #verify}). */
    public static final Duration DEFAULT_EVENT_TOLERANCE = Duration.ofHours(24);
    /** How far ahead of this clock a timestamp may be. */
    public static final Duration DEFAULT_CLOCK_SKEW = Duration.ofMinutes(1);

    private static final String SCHEME = "sha256=";
    private static final byte[] BODY_PREFIX =
            "{\"signature\":\"sha256=".getBytes(StandardCharsets.US_ASCII);
    private static final int HEX_LENGTH = 64;
    /** {@code {"signature":"sha256=} + 64 hex digits + {@code ",}. */
    private static final int SIGNATURE_PREFIX_LENGTH = BODY_PREFIX.length + HEX_LENGTH + 2;

    private final byte[] secret;
    private final Duration tolerance;
    private final Duration eventTolerance;
    private final Duration clockSkew;
    private final Clock clock;

    private WebhookSignatureVerifier(
            byte[] secret, Duration tolerance, Duration eventTolerance, Duration clockSkew, Clock clock) {
        this.secret = secret;
        this.tolerance = tolerance;
        this.eventTolerance = eventTolerance;
        this.clockSkew = clockSkew;
        this.clock = clock;
    }

    /** A verifier for deliveries signed with {@code secret} (the webhook's, as registered). */
    public static Builder builder(String secret) {
        return new Builder(secret);
    }

    /**
     * The verified event of one attempt; throws {@link WebhookVerificationException} unless the
     * {@code X-Webhook-Signature} header (required) signs the body at a time at most the
     * tolerance old and the clock skew ahead, and the body's own signature matches.
     * {@code X-Webhook-Timestamp} and {@code X-Signature-256}, when present, must agree.
     *
     * @param body the request body exactly as received
     * @param headers the request's header by name, null when absent: {@code request::getHeader}
     *     (servlets), {@code exchange.getRequestHeaders()::getFirst} (com.sun.net.httpserver)
     */
    public WebhookEvent verifyRequest(byte[] body, Function<String, String> headers) {
        Objects.requireNonNull(body, "body");
        Objects.requireNonNull(headers, "headers");
        Instant attemptedAt = verifyAttempt(body, headers.apply(ATTEMPT_SIGNATURE_HEADER),
                headers.apply(TIMESTAMP_HEADER));
        WebhookEvent event = verifyBody(body, headers.apply(SIGNATURE_HEADER));
        checkAge("the attempt", attemptedAt, tolerance);
        return event;
    }

    /** {@link #verifyRequest} as a yes or no. */
    public boolean isValidRequest(byte[] body, Function<String, String> headers) {
        try {
            verifyRequest(body, headers);
            return true;
        } catch (WebhookVerificationException exc) {
            return false;
        }
    }

    /**
     * The verified event by the seed's body signature alone (deliveries of a service older than
     * the per-attempt signature); throws {@link WebhookVerificationException} when the body is not
     * a delivery signed with this secret, or when the event's timestamp is older than the event
     * tolerance (default 24 h) or further ahead than the clock skew. There is no shorter replay
     * window this way: drop repeats by {@code X-Webhook-Event-Id}.
     *
     * @param body the request body exactly as received
     * @param signatureHeader the {@code X-Signature-256} header, or null to check the body alone
     */
    public WebhookEvent verify(byte[] body, String signatureHeader) {
        WebhookEvent event = verifyBody(body, signatureHeader);
        checkAge("the event", event.timestamp(), eventTolerance);
        return event;
    }

    private Instant verifyAttempt(byte[] body, String header, String timestampHeader) {
        if (header == null) {
            throw new WebhookVerificationException("no " + ATTEMPT_SIGNATURE_HEADER
                    + " header (verify(body, signature) checks the body's signature alone)");
        }
        List<String> stamps = new ArrayList<>();
        List<String> candidates = new ArrayList<>();
        for (String part : header.split(",", -1)) {
            String field = part.strip();
            if (field.startsWith("t=")) {
                stamps.add(field.substring(2));
            } else if (field.startsWith("v1=")) {
                candidates.add(field.substring(3));
            }
        }
        if (stamps.size() != 1 || !stamps.get(0).matches("[0-9]{1,12}")) {
            throw new WebhookVerificationException(
                    ATTEMPT_SIGNATURE_HEADER + " has no single t=<unix seconds>");
        }
        String t = stamps.get(0);
        if (timestampHeader != null && !timestampHeader.strip().equals(t)) {
            throw new WebhookVerificationException(
                    TIMESTAMP_HEADER + " differs from " + ATTEMPT_SIGNATURE_HEADER);
        }
        byte[] prefix = (t + ".").getBytes(StandardCharsets.US_ASCII);
        byte[] message = Arrays.copyOf(prefix, prefix.length + body.length);
        System.arraycopy(body, 0, message, prefix.length, body.length);
        byte[] expected = sign(message).substring(SCHEME.length()).getBytes(StandardCharsets.US_ASCII);
        for (String candidate : candidates) {
            if (MessageDigest.isEqual(expected, candidate.getBytes(StandardCharsets.US_ASCII))) {
                return Instant.ofEpochSecond(Long.parseLong(t));
            }
        }
        throw new WebhookVerificationException(ATTEMPT_SIGNATURE_HEADER + " does not match");
    }

    private void checkAge(String what, Instant moment, Duration limit) {
        if (limit == null) {
            return;
        }
        Instant now = clock.instant();
        Duration age = Duration.between(moment, now);
        if (age.compareTo(limit) > 0 || age.negated().compareTo(clockSkew) > 0) {
            throw new WebhookVerificationException(what + "'s time " + moment + " is more than " + limit
                    + " before or " + clockSkew + " after now (" + now + "): a replay or a late retry");
        }
    }

    private WebhookEvent verifyBody(byte[] body, String signatureHeader) {
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
        return parse(signed, new String(claimed, StandardCharsets.US_ASCII));
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

    /** Builds a verifier: the secret, and optionally the tolerances, the clock skew and the clock. */
    public static final class Builder {
        private final byte[] secret;
        private Duration tolerance = DEFAULT_TOLERANCE;
        private Duration eventTolerance = DEFAULT_EVENT_TOLERANCE;
        private Duration clockSkew = DEFAULT_CLOCK_SKEW;
        private Clock clock = Clock.systemUTC();

        private Builder(String secret) {
            Objects.requireNonNull(secret, "secret");
            this.secret = secret.getBytes(StandardCharsets.UTF_8);
        }

        /** How old an attempt may be ({@link #verifyRequest}; default 5 minutes; null: unchecked). */
        public Builder tolerance(Duration tolerance) {
            this.tolerance = nonNegative(tolerance, "tolerance");
            return this;
        }

        /** How old the event may be when the body's signature alone is checked ({@link #verify};
         * default 24 hours; null: unchecked). */
        public Builder eventTolerance(Duration eventTolerance) {
            this.eventTolerance = nonNegative(eventTolerance, "eventTolerance");
            return this;
        }

        /** How far ahead of the clock a timestamp may be (default 1 minute). */
        public Builder clockSkew(Duration clockSkew) {
            this.clockSkew = Objects.requireNonNull(nonNegative(clockSkew, "clockSkew"), "clockSkew");
            return this;
        }

        /** The clock that says what now is (tests pin it). */
        public Builder clock(Clock clock) {
            this.clock = Objects.requireNonNull(clock);
            return this;
        }

        public WebhookSignatureVerifier build() {
            return new WebhookSignatureVerifier(secret.clone(), tolerance, eventTolerance, clockSkew, clock);
        }

        private static Duration nonNegative(Duration duration, String name) {
            if (duration != null && duration.isNegative()) {
                throw new IllegalArgumentException(name + " must not be negative");
            }
            return duration;
        }
    }
}
