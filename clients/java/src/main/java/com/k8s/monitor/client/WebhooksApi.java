package com.k8s.monitor.client;

import static com.k8s.monitor.client.Transport.path;
import static com.k8s.monitor.client.Transport.query;

import com.k8s.monitor.client.model.Receipt;
import com.k8s.monitor.client.model.Webhook;
import com.k8s.monitor.client.model.WebhookDelivery;
import com.k8s.monitor.client.model.WebhookTestEvent;
import java.util.List;
import java.util.Map;

/**
 * {@code client.webhooks()}: event webhooks (/webhooks, seed section 5.1), their delivery log,
 * and the receiver that turns Alertmanager notifications into webhook events. To check a
 * delivery your receiver got, see {@link WebhookSignatureVerifier}.
 */
public final class WebhooksApi {
    private static final String PREFIX = "/webhooks";
    private final Transport http;

    WebhooksApi(Transport http) {
        this.http = http;
    }

    /**
     * Register a webhook for events such as GPU_OVERHEATING, ALLOCATION_FAILED,
     * COST_THRESHOLD_EXCEEDED; deliveries are signed {@code sha256=} HMAC with its secret.
     */
    public Webhook create(WebhookRequest request) {
        return http.call("POST", PREFIX, query(), request, Webhook.class);
    }

    public List<Webhook> list() {
        return http.callList("GET", PREFIX, query(), Webhook.class);
    }

    public Webhook get(String webhookId) {
        return http.call("GET", PREFIX + path(webhookId), query(), null, Webhook.class);
    }

    /** Change the fields set in {@code changes}, e.g. {@code active(false)} to pause it. */
    public Webhook update(String webhookId, WebhookRequest changes) {
        return http.call("PATCH", PREFIX + path(webhookId), query(), changes, Webhook.class);
    }

    /** Delete it with its queued deliveries and delivery log; returns it as it was. */
    public Webhook delete(String webhookId) {
        return http.call("DELETE", PREFIX + path(webhookId), query(), null, Webhook.class);
    }

    /** Queue a signed WEBHOOK_TEST delivery to this webhook alone (follow it in deliveries). */
    public WebhookTestEvent test(String webhookId) {
        return http.call("POST", PREFIX + path(webhookId, "test"), query(), null,
                WebhookTestEvent.class);
    }

    /** The delivery log, newest first, with each delivery's attempts. */
    public List<WebhookDelivery> deliveries(String webhookId) {
        return deliveries(webhookId, null, null);
    }

    public List<WebhookDelivery> deliveries(String webhookId, Integer limit, String status) {
        return http.callList("GET", PREFIX + path(webhookId, "deliveries"),
                query("limit", limit, "status", status), WebhookDelivery.class);
    }

    /** POST an Alertmanager webhook notification (version 4), as Alertmanager itself does. */
    public Receipt receiveAlertmanager(Map<String, Object> notification) {
        return http.call("POST", "/alerts/alertmanager", query(), notification, Receipt.class);
    }
}
