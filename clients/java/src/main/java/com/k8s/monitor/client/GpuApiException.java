package com.k8s.monitor.client;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import com.k8s.monitor.client.internal.Json;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The service answered with an error envelope: {@code {"status": "error", "error": {"code",
 * "message", "details", "fields", "context", "retryAfter"}}}.
 *
 * <p>{@link #getCode()} is the API's code ({@code RESOURCE_NOT_FOUND}, {@code UNAUTHORIZED},
 * ... see {@link ErrorCodes}); a code this SDK version does not know is kept as it came. An
 * answer that is not an envelope (a proxy's HTML page) gets the code {@code HTTP_<status>}.
 * {@link #getDetails()} is always a string: older servers sent an object there, which is given
 * as its JSON text. Validation failures list their fields in {@link #getFields()}; other
 * structured data is in {@link #getContext()}.
 */
public class GpuApiException extends GpuClientException {
    private static final long serialVersionUID = 1L;

    private final int status;
    private final String code;
    private final String apiMessage;
    private final String details;
    private final Map<String, List<String>> fields;
    private final Map<String, Object> context;
    private final Double retryAfterSeconds;
    private final String body;

    public GpuApiException(
            int status,
            String code,
            String apiMessage,
            String details,
            Map<String, List<String>> fields,
            Map<String, Object> context,
            Double retryAfterSeconds,
            String body) {
        super(code + " (HTTP " + status + "): " + apiMessage);
        this.status = status;
        this.code = code;
        this.apiMessage = apiMessage;
        this.details = details;
        this.fields = fields == null ? Map.of() : Collections.unmodifiableMap(fields);
        this.context = context == null ? Map.of() : Collections.unmodifiableMap(context);
        this.retryAfterSeconds = retryAfterSeconds;
        this.body = body;
    }

    /** The exception for an error answer; {@code retryAfterHeader} may be null. */
    public static GpuApiException fromResponse(int status, String body, String retryAfterHeader) {
        JsonNode root = null;
        if (body != null && !body.isBlank()) {
            try {
                root = Json.MAPPER.readTree(body);
            } catch (java.io.IOException notJson) {
                root = null;
            }
        }
        JsonNode error = root != null && root.isObject() ? root.get("error") : null;
        JsonNode retryAfterField = error != null && error.isObject() ? error.get("retryAfter") : null;
        Double retryAfter = RetryAfter.seconds(retryAfterField, retryAfterHeader);
        if (error == null || !error.isObject() || !error.path("code").isTextual()) {
            String text = body == null ? "" : body.strip();
            String message = "HTTP " + status + " without an error envelope"
                    + (text.isEmpty() ? "" : ": " + text.substring(0, Math.min(200, text.length())));
            return new GpuApiException(
                    status, "HTTP_" + status, message, null, null, null, retryAfter, body);
        }
        String code = error.get("code").asText();
        String message = Json.text(error.get("message"));
        return new GpuApiException(
                status,
                code,
                message == null || message.isEmpty() ? code : message,
                Json.text(error.get("details")),
                fields(error.get("fields")),
                context(error.get("context")),
                retryAfter,
                body);
    }

    private static Map<String, List<String>> fields(JsonNode node) {
        Map<String, List<String>> result = new LinkedHashMap<>();
        if (node == null || !node.isObject()) {
            return result;
        }
        Iterator<Map.Entry<String, JsonNode>> entries = node.fields();
        while (entries.hasNext()) {
            Map.Entry<String, JsonNode> entry = entries.next();
            List<String> messages = new ArrayList<>();
            if (entry.getValue().isArray()) {
                entry.getValue().forEach(item -> messages.add(Json.text(item)));
            } else if (!entry.getValue().isNull()) {
                messages.add(Json.text(entry.getValue()));
            }
            result.put(entry.getKey(), messages);
        }
        return result;
    }

    private static Map<String, Object> context(JsonNode node) {
        if (node == null || !node.isObject()) {
            return new LinkedHashMap<>();
        }
        return Json.MAPPER.convertValue(node, new TypeReference<LinkedHashMap<String, Object>>() {});
    }

    /** The HTTP status of the answer. */
    public int getStatus() {
        return status;
    }

    /** The API's error code, e.g. {@code RESOURCE_NOT_FOUND}. */
    public String getCode() {
        return code;
    }

    /** The API's message (the exception's own message adds the code and status). */
    public String getApiMessage() {
        return apiMessage;
    }

    /** The API's details: a string, or null. */
    public String getDetails() {
        return details;
    }

    /** Validation failures: field name to its messages (empty when none). */
    public Map<String, List<String>> getFields() {
        return fields;
    }

    /** Other structured data the service sent with the error (empty when none). */
    public Map<String, Object> getContext() {
        return context;
    }

    /** Seconds to wait before retrying (429, and 503 when the service says), if given. */
    public Optional<Double> getRetryAfterSeconds() {
        return Optional.ofNullable(retryAfterSeconds);
    }

    /** The answer's body as it came. */
    public String getBody() {
        return body;
    }
}
