package com.k8s.monitor.client;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.time.Instant;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;

/** Seconds from the envelope's {@code retryAfter} or the {@code Retry-After} header. */
final class RetryAfter {
    private RetryAfter() {}

    static Double seconds(JsonNode envelopeValue, String header) {
        if (envelopeValue != null && envelopeValue.isNumber() && envelopeValue.asDouble() >= 0) {
            return envelopeValue.asDouble();
        }
        if (envelopeValue != null && envelopeValue.isTextual()) {
            Double parsed = fromHeader(envelopeValue.asText(), Instant.now());
            if (parsed != null) {
                return parsed;
            }
        }
        return header == null ? null : fromHeader(header, Instant.now());
    }

    /** The header's delta-seconds, or the seconds until its HTTP-date (0 when past). */
    static Double fromHeader(String header, Instant now) {
        String value = header.strip();
        try {
            double seconds = Double.parseDouble(value);
            return seconds >= 0 && Double.isFinite(seconds) ? seconds : null;
        } catch (NumberFormatException notSeconds) {
            try {
                Instant at = ZonedDateTime.parse(value, DateTimeFormatter.RFC_1123_DATE_TIME).toInstant();
                return Math.max(0.0, Duration.between(now, at).toMillis() / 1000.0);
            } catch (DateTimeParseException notDate) {
                return null;
            }
        }
    }
}
