"""Webhook endpoints (seed §5.1): register, list, read, change, delete, test, delivery log."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from analytics.api.context import actor, services
from analytics.api.envelope import ApiBlueprint
from analytics.resources.webhooks.schemas import (
    DeliveryQuerySchema,
    DeliverySchema,
    WebhookCreateSchema,
    WebhookSchema,
    WebhookTestEventSchema,
    WebhookUpdateSchema,
)

blp = ApiBlueprint(
    "webhooks",
    __name__,
    url_prefix="/k8s-monitor/api/v1/webhooks",
    description="Signed event webhooks with retries (docs/webhooks.md).",
)


@blp.route("")
class Webhooks(MethodView):
    @blp.doc(operationId="listWebhooks")
    @blp.envelope_response(200, WebhookSchema, many=True)
    def get(self) -> Any:
        """Registered webhooks (never their secrets)

        Needs the operator or admin role, like every webhook read: webhook URLs carry
        credentials (Slack and Teams put a token in the path).
        """
        return services().webhooks.list_webhooks()

    @blp.doc(operationId="createWebhook")
    @blp.arguments(WebhookCreateSchema)
    @blp.envelope_response(201, WebhookSchema)
    def post(self, body: dict[str, Any]) -> Any:
        """Register a webhook

        Needs the operator or admin role. Deliveries are POSTed as
        `{"event", "timestamp", "data", "signature"}` with the `sha256=` HMAC also in the
        X-Signature-256 header, retried with exponential backoff. 400 VALIDATION_ERROR for a
        URL the SSRF guard refuses.
        """
        return services().webhooks.create(**body, actor=actor())


@blp.route("/<string:webhookId>")
class Webhook(MethodView):
    @blp.doc(operationId="getWebhook")
    @blp.envelope_response(200, WebhookSchema)
    def get(self, webhookId: str) -> Any:
        """One webhook

        Needs the operator or admin role (its URL may carry a token).
        """
        return services().webhooks.get(webhookId)

    @blp.doc(operationId="updateWebhook")
    @blp.arguments(WebhookUpdateSchema)
    @blp.envelope_response(200, WebhookSchema)
    def patch(self, body: dict[str, Any], webhookId: str) -> Any:
        """Change a webhook (e.g. `{"active": false}` to pause it)"""
        return services().webhooks.update(webhookId, body)

    @blp.doc(operationId="deleteWebhook")
    @blp.envelope_response(200, WebhookSchema)
    def delete(self, webhookId: str) -> Any:
        """Delete a webhook with its queued deliveries and delivery log"""
        return services().webhooks.delete(webhookId)


@blp.route("/<string:webhookId>/test")
class WebhookTest(MethodView):
    @blp.doc(operationId="testWebhook")
    @blp.envelope_response(202, WebhookTestEventSchema)
    def post(self, webhookId: str) -> Any:
        """Send a test event to this webhook

        Needs the operator or admin role. Queues one signed `WEBHOOK_TEST` delivery to this
        webhook alone, whatever events it subscribes to, with the usual retries; follow it in
        `GET /webhooks/{webhookId}/deliveries`. 400 INVALID_PARAMETER for a paused webhook.
        """
        return services().webhooks.send_test(webhookId, actor())


@blp.route("/<string:webhookId>/deliveries")
class Deliveries(MethodView):
    @blp.doc(operationId="listWebhookDeliveries")
    @blp.arguments(DeliveryQuerySchema, location="query")
    @blp.envelope_response(200, DeliverySchema, many=True)
    def get(self, query: dict[str, Any], webhookId: str) -> Any:
        """The delivery log: every delivery with its attempts, status codes, errors, next try

        Needs the operator or admin role.
        """
        return services().webhooks.deliveries(webhookId, query["limit"], query["status"])
