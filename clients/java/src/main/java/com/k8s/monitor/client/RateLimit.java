package com.k8s.monitor.client;

/** The service's {@code X-RateLimit-*} headers of the last answer. */
public record RateLimit(long limit, long remaining, long resetEpochSeconds) {}
