package com.k8s.monitor.client;

import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedDeque;

/**
 * A real HTTP server on a loopback port that answers each request with the next scripted
 * answer (the last one repeats), and records what it was sent.
 */
final class ScriptedServer implements AutoCloseable {
    record Answer(int status, Map<String, String> headers, String body) {}

    record Received(String method, String path, Map<String, List<String>> headers, String body) {}

    private final HttpServer server;
    private final Deque<Answer> script = new ConcurrentLinkedDeque<>();
    private final List<Received> received = Collections.synchronizedList(new ArrayList<>());
    private final java.util.concurrent.ExecutorService executor =
            java.util.concurrent.Executors.newCachedThreadPool();
    private volatile java.time.Duration delay = java.time.Duration.ZERO;

    ScriptedServer(Answer... answers) throws IOException {
        script.addAll(List.of(answers));
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.setExecutor(executor);
        server.createContext("/", exchange -> {
            byte[] requestBody = exchange.getRequestBody().readAllBytes();
            received.add(new Received(exchange.getRequestMethod(), exchange.getRequestURI().toString(),
                    Map.copyOf(exchange.getRequestHeaders()), new String(requestBody, StandardCharsets.UTF_8)));
            try {
                Thread.sleep(delay.toMillis());
            } catch (InterruptedException exc) {
                Thread.currentThread().interrupt();
            }
            Answer answer = script.size() > 1 ? script.pollFirst() : script.peekFirst();
            byte[] body = answer.body().getBytes(StandardCharsets.UTF_8);
            answer.headers().forEach((name, value) -> exchange.getResponseHeaders().add(name, value));
            exchange.sendResponseHeaders(answer.status(), body.length == 0 ? -1 : body.length);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(body);
            }
        });
        server.start();
    }

    static Answer json(int status, String body, String... headerPairs) {
        Map<String, String> headers = new java.util.LinkedHashMap<>();
        headers.put("Content-Type", "application/json");
        for (int i = 0; i < headerPairs.length; i += 2) {
            headers.put(headerPairs[i], headerPairs[i + 1]);
        }
        return new Answer(status, headers, body);
    }

    static String success(String data) {
        return "{\"status\":\"success\",\"data\":" + data + ",\"timestamp\":\"2026-01-05T12:00:00Z\"}";
    }

    static String error(String code, String message, String extra) {
        return "{\"status\":\"error\",\"error\":{\"code\":\"" + code + "\",\"message\":\"" + message + "\""
                + (extra.isEmpty() ? "" : "," + extra) + "},\"timestamp\":\"2026-01-05T12:00:00Z\"}";
    }

    /** Answer every request this much later. */
    void delay(java.time.Duration delay) {
        this.delay = delay;
    }

    String baseUrl() {
        return "http://127.0.0.1:" + server.getAddress().getPort() + "/k8s-monitor/api/v1";
    }

    List<Received> received() {
        synchronized (received) {
            return List.copyOf(received);
        }
    }

    @Override
    public void close() {
        server.stop(0);
        executor.shutdownNow();
    }
}
