package com.k8s.monitor.client;

/** The service could not be reached, the connection broke, or no answer came in time. */
public class GpuTransportException extends GpuClientException {
    private static final long serialVersionUID = 1L;

    public GpuTransportException(String message, Throwable cause) {
        super(message, cause);
    }
}
