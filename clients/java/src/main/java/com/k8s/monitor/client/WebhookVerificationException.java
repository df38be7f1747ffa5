package com.k8s.monitor.client;

/** A webhook delivery failed verification: bad signature, other secret, or too old. */
public class WebhookVerificationException extends GpuClientException {
    private static final long serialVersionUID = 1L;

    public WebhookVerificationException(String message) {
        super(message);
    }
}
