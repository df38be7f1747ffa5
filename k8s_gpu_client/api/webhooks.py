"""``client.webhooks``: event webhooks (/webhooks, seed section 5.1), their delivery log, and
the receiver that turns Alertmanager notifications into webhook events."""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from typing import Any

from k8s_gpu_client._http import path
from k8s_gpu_client.api._base import Namespace, body
from k8s_gpu_client.models.webhooks import Receipt, Webhook, WebhookDelivery, WebhookTestEvent

PREFIX = "/webhooks"


class Webhooks(Namespace):
    def create(
        self,
        *,
        name: str,
        url: str,
        events: Sequence[str],
        secret: str | None = None,
        active: bool = True,
    ) -> Webhook:
        """Register a webhook for events such as GPU_OVERHEATING, ALLOCATION_FAILED,
        COST_THRESHOLD_EXCEEDED; deliveries are signed ``sha256=`` HMAC with ``secret``."""
        payload = body(name=name, url=url, events=list(events), secret=secret, active=active)
        return Webhook.from_api(self._http.request("POST", PREFIX, body=payload))

    def list(self) -> builtins.list[Webhook]:
        return Webhook.from_api_list(self._http.request("GET", PREFIX))

    def get(self, webhook_id: str) -> Webhook:
        return Webhook.from_api(self._http.request("GET", PREFIX + path(webhook_id)))

    def update(
        self,
        webhook_id: str,
        *,
        name: str | None = None,
        url: str | None = None,
        events: Sequence[str] | None = None,
        secret: str | None = None,
        active: bool | None = None,
    ) -> Webhook:
        """Change some fields, e.g. ``active=False`` to pause it."""
        payload = body(
            name=name,
            url=url,
            events=builtins.list(events) if events is not None else None,
            secret=secret,
            active=active,
        )
        data = self._http.request("PATCH", PREFIX + path(webhook_id), body=payload)
        return Webhook.from_api(data)

    def delete(self, webhook_id: str) -> Webhook:
        """Delete it with its queued deliveries and delivery log; returns it as it was."""
        return Webhook.from_api(self._http.request("DELETE", PREFIX + path(webhook_id)))

    def test(self, webhook_id: str) -> WebhookTestEvent:
        """Queue a signed WEBHOOK_TEST delivery to this webhook alone (follow it in
        ``deliveries``); a paused webhook raises InvalidParameterError."""
        data = self._http.request("POST", PREFIX + path(webhook_id, "test"))
        return WebhookTestEvent.from_api(data)

    def deliveries(
        self, webhook_id: str, *, limit: int | None = None, status: str | None = None
    ) -> builtins.list[WebhookDelivery]:
        """The delivery log, newest first, with each delivery's attempts."""
        data = self._http.request(
            "GET",
            PREFIX + path(webhook_id, "deliveries"),
            params={"limit": limit, "status": status},
        )
        return WebhookDelivery.from_api_list(data)

    def receive_alertmanager(self, notification: Mapping[str, Any]) -> Receipt:
        """POST an Alertmanager webhook notification (version 4) to the service, as
        Alertmanager itself does (/alerts/alertmanager)."""
        data = self._http.request("POST", "/alerts/alertmanager", body=notification)
        return Receipt.from_api(data)
