"""Results of /webhooks (seed 5.1) and of the Alertmanager receiver (/alerts/alertmanager)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from k8s_gpu_client.models._base import ApiModel, api_field


@dataclass(kw_only=True)
class DeliveryCounts(ApiModel):
    """Deliveries of a webhook by status."""

    pending: int | None = api_field("PENDING", default=None)
    delivered: int | None = api_field("DELIVERED", default=None)
    failed: int | None = api_field("FAILED", default=None)


@dataclass(kw_only=True)
class Webhook(ApiModel):
    """A registered webhook (its secret is never returned)."""

    webhook_id: str | None = None
    name: str | None = None
    url: str | None = None
    events: list[str] = field(default_factory=list)
    active: bool | None = None
    created_by: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    deliveries: DeliveryCounts | None = None


@dataclass(kw_only=True)
class DeliveryAttempt(ApiModel):
    """One attempt of a delivery: HTTP status, error, duration (ms)."""

    attempt: int | None = None
    started_at: datetime | None = None
    duration_ms: int | None = None
    status_code: int | None = None
    error: str | None = None
    outcome: str | None = None


@dataclass(kw_only=True)
class WebhookDelivery(ApiModel):
    """One event delivered (or being delivered) to a webhook, with its attempts."""

    delivery_id: int | None = None
    event_id: str | None = None
    event: str | None = None
    timestamp: datetime | None = None
    status: str | None = None
    attempts: int | None = None
    next_attempt_at: datetime | None = None
    leased: bool | None = None
    last_status_code: int | None = None
    last_error: str | None = None
    created_at: datetime | None = None
    finished_at: datetime | None = None
    log: list[DeliveryAttempt] = field(default_factory=list)


@dataclass(kw_only=True)
class WebhookTestEvent(ApiModel):
    """A queued WEBHOOK_TEST event; its delivery shows in the webhook's delivery log."""

    event_id: str | None = None
    webhook_id: str | None = None
    event: str | None = None
    queued_at: datetime | None = None


@dataclass(kw_only=True)
class Receipt(ApiModel):
    """What the service did with an Alertmanager notification."""

    received: int | None = None
    recorded: int | None = None
    repeated: int | None = None
    ignored: list[str] = field(default_factory=list)
