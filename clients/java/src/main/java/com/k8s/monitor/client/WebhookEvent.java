package com.k8s.monitor.client;

import java.time.Instant;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A verified webhook delivery: the seed's {@code {"event", "timestamp", "data", "signature"}}
 * (section 5.1), with {@code timestamp} the time the service recorded the event. {@code data}
 * is read-only and may hold JSON nulls.
 */
public record WebhookEvent(String event, Instant timestamp, Map<String, Object> data, String signature) {
    public WebhookEvent {
        data = Collections.unmodifiableMap(new LinkedHashMap<>(data == null ? Map.of() : data));
    }
}
