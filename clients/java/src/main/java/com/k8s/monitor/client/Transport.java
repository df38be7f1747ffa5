package com.k8s.monitor.client;

import com.fasterxml.jackson.databind.JavaType;
import com.fasterxml.jackson.databind.JsonNode;
import com.k8s.monitor.client.internal.Json;
import com.k8s.monitor.client.model.ApiModel;
import com.k8s.monitor.client.model.Page;
import com.k8s.monitor.client.model.PagedModel;
import com.k8s.monitor.client.model.Pagination;
import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.StringJoiner;

/**
 * The HTTP layer: auth, timeouts, bounded retries, envelope unwrapping.
 *
 * <p>Retry policy (at most {@code maxRetries} times; a wait longer than {@code maxRetryWait}
 * is never slept: the error is thrown at once with its retry-after, so a caller is never blocked
 * for a minute without knowing):
 *
 * <ul>
 *   <li>429 {@code RATE_LIMIT_EXCEEDED}, any method: the service refused before doing any work,
 *       so the request is sent again after the {@code Retry-After} seconds it asked for.
 *   <li>502, 503, 504: idempotent methods only (GET, PUT, DELETE, HEAD, OPTIONS), after
 *       {@code Retry-After} when given, else exponential backoff. A POST is never repeated on
 *       these: an allocation must not be made twice.
 *   <li>Connection refused: idempotent methods only; a connect timeout, any method (the request
 *       never left). A read timeout is never retried.
 * </ul>
 */
final class Transport {
    static final String USER_AGENT = "k8s-gpu-client-java/0.1";
    private static final Set<String> IDEMPOTENT = Set.of("GET", "HEAD", "OPTIONS", "PUT", "DELETE");
    private static final Set<Integer> RETRY_STATUSES = Set.of(502, 503, 504);

    /** Waits between attempts; tests may pass one that records instead of sleeping. */
    interface Sleeper {
        void sleep(Duration duration) throws InterruptedException;
    }

    private final String baseUrl;
    private final String authorization;
    private final HttpClient http;
    private final Duration timeout;
    private final int maxRetries;
    private final Duration backoff;
    private final Duration maxBackoff;
    private final Duration maxRetryWait;
    private final Sleeper sleeper;
    private volatile RateLimit rateLimit;

    Transport(
            String baseUrl,
            String authorization,
            HttpClient http,
            Duration timeout,
            int maxRetries,
            Duration backoff,
            Duration maxBackoff,
            Duration maxRetryWait,
            Sleeper sleeper) {
        this.baseUrl = baseUrl.replaceAll("/+$", "");
        this.authorization = authorization;
        this.http = http;
        this.timeout = timeout;
        this.maxRetries = maxRetries;
        this.backoff = backoff;
        this.maxBackoff = maxBackoff;
        this.maxRetryWait = maxRetryWait;
        this.sleeper = sleeper;
    }

    String baseUrl() {
        return baseUrl;
    }

    RateLimit rateLimit() {
        return rateLimit;
    }

    /** A URL path from segments, each percent-encoded (ids can hold any character). */
    static String path(String... segments) {
        StringBuilder out = new StringBuilder();
        for (String segment : segments) {
            out.append('/').append(
                    URLEncoder.encode(segment, StandardCharsets.UTF_8).replace("+", "%20"));
        }
        return out.toString();
    }

    /** Query parameters; null values are left out. */
    static Map<String, Object> query(Object... keysAndValues) {
        Map<String, Object> result = new LinkedHashMap<>();
        for (int i = 0; i < keysAndValues.length; i += 2) {
            if (keysAndValues[i + 1] != null) {
                result.put((String) keysAndValues[i], keysAndValues[i + 1]);
            }
        }
        return result;
    }

    <T> T call(String method, String urlPath, Map<String, Object> query, Object body, Class<T> type) {
        return convert(data(send(method, urlPath, query, body)), Json.MAPPER.constructType(type));
    }

    <T> List<T> callList(String method, String urlPath, Map<String, Object> query, Class<T> type) {
        JavaType listType = Json.MAPPER.getTypeFactory().constructCollectionType(List.class, type);
        return convert(data(send(method, urlPath, query, null)), listType);
    }

    <T extends ApiModel> Page<T> page(String urlPath, Map<String, Object> query, Class<T> type) {
        JsonNode envelope = send("GET", urlPath, query, null);
        JavaType listType = Json.MAPPER.getTypeFactory().constructCollectionType(List.class, type);
        List<T> rows = convert(data(envelope), listType);
        return new Page<>(rows, pagination(envelope));
    }

    <T extends PagedModel> T pagedObject(String urlPath, Map<String, Object> query, Class<T> type) {
        JsonNode envelope = send("GET", urlPath, query, null);
        T result = convert(data(envelope), Json.MAPPER.constructType(type));
        result.setPagination(pagination(envelope));
        return result;
    }

    /** The decoded JSON of an answer without an envelope (the actuator's). */
    JsonNode raw(String method, String urlPath) {
        return send(method, urlPath, Map.of(), null);
    }

    private static Pagination pagination(JsonNode envelope) {
        JsonNode member = envelope.get("pagination");
        return member != null && member.isObject()
                ? convert(member, Json.MAPPER.constructType(Pagination.class))
                : null;
    }

    private static JsonNode data(JsonNode envelope) {
        return envelope.get("data");
    }

    private static <T> T convert(JsonNode node, JavaType type) {
        try {
            return Json.MAPPER.readerFor(type).readValue(Json.MAPPER.treeAsTokens(node));
        } catch (IOException exc) {
            throw new GpuClientException("cannot read " + type + " from the answer: " + exc, exc);
        }
    }

    private URI uri(String urlPath, Map<String, Object> query) {
        String url;
        if (urlPath.startsWith("/../")) {
            // Relative to the API base, as the seed writes ${API_BASE}/../actuator/health.
            url = URI.create(baseUrl + "/").resolve(urlPath.substring(1)).toString();
        } else {
            url = baseUrl + urlPath;
        }
        if (!query.isEmpty()) {
            StringJoiner joined = new StringJoiner("&", "?", "");
            query.forEach((key, value) -> joined.add(
                    URLEncoder.encode(key, StandardCharsets.UTF_8) + "="
                            + URLEncoder.encode(queryValue(value), StandardCharsets.UTF_8)));
            url += joined;
        }
        return URI.create(url);
    }

    private static String queryValue(Object value) {
        if (value instanceof Instant instant) {
            return Json.formatInstant(instant);
        }
        return String.valueOf(value);
    }

    /** The decoded body of the successful answer, after retries; throws GpuApiException else. */
    private JsonNode send(String method, String urlPath, Map<String, Object> query, Object body) {
        boolean envelope = !urlPath.startsWith("/../");
        URI uri = uri(urlPath, query);
        HttpRequest.Builder builder = HttpRequest.newBuilder(uri)
                .timeout(timeout)
                .header("Accept", "application/json")
                .header("User-Agent", USER_AGENT);
        if (authorization != null) {
            builder.header("Authorization", authorization);
        }
        if (body != null) {
            builder.header("Content-Type", "application/json");
            builder.method(method, HttpRequest.BodyPublishers.ofString(Json.toJsonStrict(body)));
        } else {
            builder.method(method, HttpRequest.BodyPublishers.noBody());
        }
        HttpRequest request = builder.build();
        int attempt = 0;
        while (true) {
            HttpResponse<String> response = exchange(request, attempt);
            if (response == null) {
                attempt++;
                continue;
            }
            noteRateLimit(response);
            if (response.statusCode() < 400) {
                return success(response, envelope);
            }
            GpuApiException error = GpuApiException.fromResponse(
                    response.statusCode(),
                    response.body(),
                    response.headers().firstValue("Retry-After").orElse(null));
            Duration wait = retryWait(method, error, attempt);
            if (wait == null) {
                throw error;
            }
            pause(wait);
            attempt++;
        }
    }

    private HttpResponse<String> exchange(HttpRequest request, int attempt) {
        String method = request.method();
        try {
            return http.send(request, HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
        } catch (HttpConnectTimeoutException exc) {
            retryOrThrow(true, attempt, "connecting to " + request.uri() + " timed out", exc);
        } catch (HttpTimeoutException exc) {
            throw new GpuTransportException(
                    method + " " + request.uri() + ": no answer within " + timeout, exc);
        } catch (ConnectException exc) {
            retryOrThrow(IDEMPOTENT.contains(method), attempt,
                    method + " " + request.uri() + ": " + exc, exc);
        } catch (IOException exc) {
            throw new GpuTransportException(method + " " + request.uri() + ": " + exc, exc);
        } catch (InterruptedException exc) {
            Thread.currentThread().interrupt();
            throw new GpuTransportException("interrupted", exc);
        }
        return null;
    }

    private void retryOrThrow(boolean retryable, int attempt, String message, Exception cause) {
        if (!retryable || attempt >= maxRetries) {
            throw new GpuTransportException(message, cause);
        }
        pause(backoff(attempt));
    }

    private Duration retryWait(String method, GpuApiException error, int attempt) {
        if (attempt >= maxRetries) {
            return null;
        }
        int status = error.getStatus();
        if (status != 429 && !(RETRY_STATUSES.contains(status) && IDEMPOTENT.contains(method))) {
            return null;
        }
        Duration wait = error.getRetryAfterSeconds()
                .map(seconds -> Duration.ofMillis(Math.round(seconds * 1000)))
                .orElseGet(() -> backoff(attempt));
        return wait.compareTo(maxRetryWait) > 0 ? null : wait;
    }

    private Duration backoff(int attempt) {
        Duration wait = backoff.multipliedBy(1L << Math.min(attempt, 20));
        return wait.compareTo(maxBackoff) > 0 ? maxBackoff : wait;
    }

    private void pause(Duration wait) {
        try {
            sleeper.sleep(wait);
        } catch (InterruptedException exc) {
            Thread.currentThread().interrupt();
            throw new GpuTransportException("interrupted while waiting to retry", exc);
        }
    }

    private void noteRateLimit(HttpResponse<String> response) {
        try {
            rateLimit = new RateLimit(
                    Long.parseLong(response.headers().firstValue("X-RateLimit-Limit").orElseThrow()),
                    Long.parseLong(response.headers().firstValue("X-RateLimit-Remaining").orElseThrow()),
                    Long.parseLong(response.headers().firstValue("X-RateLimit-Reset").orElseThrow()));
        } catch (RuntimeException missing) {
            // A proxy's answer, or an older server: keep the last known limits.
        }
    }

    private static JsonNode success(HttpResponse<String> response, boolean envelope) {
        JsonNode root;
        try {
            String body = response.body();
            root = body == null || body.isBlank() ? null : Json.MAPPER.readTree(body);
        } catch (IOException exc) {
            root = null;
        }
        if (!envelope && root != null) {
            return root;
        }
        if (root != null && root.isObject() && "success".equals(root.path("status").asText())
                && root.has("data")) {
            return root;
        }
        throw new GpuApiException(
                response.statusCode(),
                ErrorCodes.INVALID_RESPONSE,
                "HTTP " + response.statusCode() + " answer is not a success envelope",
                null, null, null, null, response.body());
    }
}
