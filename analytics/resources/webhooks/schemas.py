"""Schemas of the webhook endpoints."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from analytics.api.fields import Text, UtcDateTime, doc
from analytics.services.kernel.events import EVENT_CATALOGUE, EVENT_TYPES

_EVENTS_DOC = "; ".join(f"{t.value}: {text}" for t, text in EVENT_CATALOGUE.items())
_DELIVERY_STATES = ["PENDING", "DELIVERED", "FAILED"]


def _events_field(required: bool) -> fields.List[str]:
    return fields.List(
        Text(
            validate=validate.OneOf(EVENT_TYPES),
            metadata=doc("An event type.", enum=list(EVENT_TYPES)),
        ),
        required=required,
        validate=validate.Length(1, len(EVENT_TYPES)),
        metadata=doc(
            "Event types to deliver. " + _EVENTS_DOC,
            example=["GPU_OVERHEATING", "ALLOCATION_FAILED", "COST_THRESHOLD_EXCEEDED"],
        ),
    )


_NAME = validate.Length(1, 128)
_URL = validate.Length(1, 2048)
_SECRET = validate.Length(8, 256)


class WebhookCreateSchema(Schema):
    name = Text(
        required=True, validate=_NAME, metadata=doc("A label.", example="slack-notifications")
    )
    url = Text(
        required=True,
        validate=_URL,
        metadata=doc(
            "http(s) URL the events are POSTed to. Refused when it resolves to a loopback, "
            "private, link-local, multicast or reserved address, unless allowed by "
            "webhook_allowed_cidrs.",
            example="https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXX",
        ),
    )
    events = _events_field(required=True)
    secret = Text(
        required=True,
        load_only=True,
        validate=_SECRET,
        metadata=doc(
            "HMAC-SHA256 key for the `sha256=` signature (8-256 characters). Write-only: never "
            "returned.",
            example="webhook_secret_key",
        ),
    )
    active = fields.Boolean(
        load_default=True, metadata=doc("Whether events are delivered (default true).")
    )


class WebhookUpdateSchema(Schema):
    name = Text(validate=_NAME, metadata=doc("A label."))
    url = Text(validate=_URL, metadata=doc("New URL (checked like at registration)."))
    events = _events_field(required=False)
    secret = Text(load_only=True, validate=_SECRET, metadata=doc("New signing key (write-only)."))
    active = fields.Boolean(
        metadata=doc("false pauses deliveries (they stay queued); true resumes them.")
    )


class DeliveryCountsSchema(Schema):
    PENDING = fields.Integer(metadata=doc("Deliveries waiting for their next attempt."))
    DELIVERED = fields.Integer(metadata=doc("Deliveries the receiver accepted (2xx)."))
    FAILED = fields.Integer(metadata=doc("Deliveries given up after the retry limits."))


class WebhookSchema(Schema):
    webhook_id = fields.String(data_key="webhookId", metadata=doc("Webhook id, WH-XXXXXXXX."))
    name = fields.String(metadata=doc("A label."))
    url = fields.String(metadata=doc("Where events are POSTed."))
    events = fields.List(fields.String(), metadata=doc("Subscribed event types."))
    active = fields.Boolean(metadata=doc("Whether events are delivered."))
    created_by = fields.String(
        data_key="createdBy", allow_none=True, metadata=doc("API key (id:name) that made it.")
    )
    created_at = UtcDateTime(data_key="createdAt", metadata=doc("When it was registered, UTC."))
    updated_at = UtcDateTime(data_key="updatedAt", metadata=doc("Last change, UTC."))
    deliveries = fields.Nested(
        DeliveryCountsSchema, metadata=doc("Deliveries by state (the secret is never shown).")
    )


class AttemptSchema(Schema):
    attempt = fields.Integer(metadata=doc("Attempt number, from 1."))
    started_at = UtcDateTime(data_key="startedAt", metadata=doc("When it started, UTC."))
    duration_ms = fields.Integer(data_key="durationMs", metadata=doc("Duration, milliseconds."))
    status_code = fields.Integer(
        data_key="statusCode", allow_none=True, metadata=doc("HTTP status; null: no answer.")
    )
    error = fields.String(allow_none=True, metadata=doc("What went wrong; null on success."))
    outcome = fields.String(
        metadata=doc(
            "DELIVERED, RETRY (another attempt scheduled) or FAILED (given up).",
            enum=["DELIVERED", "RETRY", "FAILED"],
        )
    )


class DeliverySchema(Schema):
    delivery_id = fields.Integer(data_key="deliveryId", metadata=doc("Delivery id."))
    event_id = fields.String(
        data_key="eventId", metadata=doc("Event id (the X-Webhook-Event-Id header).")
    )
    event_type = fields.String(data_key="event", metadata=doc("Event type."))
    occurred_at = UtcDateTime(
        data_key="timestamp", metadata=doc("When the event happened (the payload's), UTC.")
    )
    status = fields.String(metadata=doc("Delivery state.", enum=_DELIVERY_STATES))
    attempts = fields.Integer(metadata=doc("Attempts started so far."))
    next_attempt_at = UtcDateTime(
        data_key="nextAttemptAt", allow_none=True, metadata=doc("Next try (PENDING only), UTC.")
    )
    leased = fields.Boolean(metadata=doc("A dispatcher is sending it right now."))
    last_status_code = fields.Integer(
        data_key="lastStatusCode", allow_none=True, metadata=doc("HTTP status of the last try.")
    )
    last_error = fields.String(
        data_key="lastError", allow_none=True, metadata=doc("Error of the last try.")
    )
    created_at = UtcDateTime(data_key="createdAt", metadata=doc("When it was queued, UTC."))
    finished_at = UtcDateTime(
        data_key="finishedAt", allow_none=True, metadata=doc("When it was delivered or given up.")
    )
    log = fields.List(fields.Nested(AttemptSchema), metadata=doc("Every attempt, oldest first."))


class WebhookTestEventSchema(Schema):
    event_id = fields.String(
        data_key="eventId", metadata=doc("The queued event; its delivery is in the log.")
    )
    webhook_id = fields.String(data_key="webhookId", metadata=doc("The webhook it goes to."))
    event = fields.String(metadata=doc("Always WEBHOOK_TEST."))
    queued_at = UtcDateTime(data_key="queuedAt", metadata=doc("When it was queued, UTC."))


class DeliveryQuerySchema(Schema):
    limit = fields.Integer(
        load_default=50,
        validate=validate.Range(1, 500),
        metadata=doc("Most deliveries to return, newest first (1-500)."),
    )
    status = Text(
        load_default=None,
        validate=validate.OneOf(_DELIVERY_STATES),
        metadata=doc("Only deliveries in this state.", enum=_DELIVERY_STATES),
    )
