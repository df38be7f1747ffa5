"""POST /alerts/alertmanager: Alertmanager's webhook receiver (docs/webhooks.md)."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from analytics.api.context import services
from analytics.api.envelope import ApiBlueprint
from analytics.resources.alerts_receiver.schemas import (
    AlertmanagerNotificationSchema,
    ReceiptSchema,
)

blp = ApiBlueprint(
    "alerts_receiver",
    __name__,
    url_prefix="/k8s-monitor/api/v1/alerts",
    description="Alertmanager's webhook receiver: alerts become events.",
)


@blp.route("/alertmanager")
class AlertmanagerReceiver(MethodView):
    @blp.doc(operationId="receiveAlertmanagerNotification")
    @blp.arguments(AlertmanagerNotificationSchema)
    @blp.envelope_response(200, ReceiptSchema)
    def post(self, notification: dict[str, Any]) -> Any:
        """Receive an Alertmanager notification

        Point an Alertmanager `webhook_configs` entry here with an operator API key as its
        bearer credentials (`http_config.authorization`). Each alert of ours becomes an event
        (GpuOverheating -> GPU_OVERHEATING, ...) and is delivered to the subscribed webhooks;
        repeats of the same alert are recorded once when it fires and once when it resolves.
        """
        return services().alert_receiver.receive(notification)
