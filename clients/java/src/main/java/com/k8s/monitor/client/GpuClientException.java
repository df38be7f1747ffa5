package com.k8s.monitor.client;

/** Base of every exception the SDK throws; unchecked, like the JDK's own HTTP client errors. */
public class GpuClientException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public GpuClientException(String message) {
        super(message);
    }

    public GpuClientException(String message, Throwable cause) {
        super(message, cause);
    }
}
