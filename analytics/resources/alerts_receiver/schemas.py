"""Alertmanager's webhook payload (version 4), as Alertmanager sends it.

Unknown members are ignored (EXCLUDE): newer Alertmanagers add fields (groupKey,
truncatedAlerts, ...), and a receiver must not refuse them.
"""

from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate

from analytics.api.fields import Text, UtcDateTime, doc


def _text_map(data_key: str, description: str, multiline: bool = False) -> fields.Dict:
    # Annotation values may span lines (descriptions); names and label values may not.
    return fields.Dict(
        keys=Text(),
        values=Text(multiline=multiline),
        data_key=data_key,
        load_default=dict,
        metadata=doc(description),
    )


class AlertSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    status = Text(
        required=True,
        validate=validate.OneOf(["firing", "resolved"]),
        metadata=doc("firing or resolved."),
    )
    labels = fields.Dict(
        keys=Text(validate=validate.Length(1, 256)),
        values=Text(validate=validate.Length(0, 4096)),
        required=True,
        validate=validate.Length(1, 64),
        metadata=doc("The alert's labels; alertname selects the event type."),
    )
    annotations = fields.Dict(
        keys=Text(validate=validate.Length(1, 256)),
        values=Text(multiline=True, validate=validate.Length(0, 16384)),
        load_default=dict,
        metadata=doc("summary, description, runbook_url."),
    )
    starts_at = UtcDateTime(
        data_key="startsAt", required=True, metadata=doc("When the alert started firing, UTC.")
    )
    ends_at = UtcDateTime(
        data_key="endsAt",
        load_default=None,
        allow_none=True,
        metadata=doc("When it resolved (0001-01-01 while firing), UTC."),
    )
    generator_url = Text(
        data_key="generatorURL", load_default="", metadata=doc("The rule's Prometheus link.")
    )
    fingerprint = Text(
        required=True,
        validate=validate.Length(1, 64),
        metadata=doc("Alertmanager's identity of the alert (hex)."),
    )


class AlertmanagerNotificationSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    version = Text(
        required=True,
        validate=validate.Equal("4", error="Only Alertmanager webhook payload version 4."),
        metadata=doc('Payload version, "4".'),
    )
    status = Text(
        required=True,
        validate=validate.OneOf(["firing", "resolved"]),
        metadata=doc("firing when at least one alert fires."),
    )
    receiver = Text(required=True, metadata=doc("The Alertmanager receiver's name."))
    group_labels = _text_map("groupLabels", "Labels the group shares.")
    common_labels = _text_map("commonLabels", "Labels every alert has.")
    common_annotations = _text_map(
        "commonAnnotations", "Annotations every alert has.", multiline=True
    )
    external_url = Text(
        data_key="externalURL", load_default="", metadata=doc("Alertmanager's URL.")
    )
    alerts = fields.List(
        fields.Nested(AlertSchema),
        required=True,
        validate=validate.Length(0, 1000),
        metadata=doc("The alerts of the group."),
    )


class ReceiptSchema(Schema):
    received = fields.Integer(metadata=doc("Alerts in the notification."))
    recorded = fields.Integer(metadata=doc("New events recorded (and queued to webhooks)."))
    repeated = fields.Integer(
        metadata=doc("Alerts already recorded (Alertmanager repeats notifications).")
    )
    ignored = fields.List(
        fields.String(), metadata=doc("alertnames with no event type (counted, not recorded).")
    )
