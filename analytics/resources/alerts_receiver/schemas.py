"""Alertmanager's webhook payload (version 4), as Alertmanager sends it.

Unknown members are ignored (EXCLUDE): newer Alertmanagers add fields (groupKey,
truncatedAlerts, ...), and a receiver must not refuse them.
"""

from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate

from analytics.api.fields import UtcDateTime, doc


class AlertSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    status = fields.String(
        required=True,
        validate=validate.OneOf(["firing", "resolved"]),
        metadata=doc("firing or resolved."),
    )
    labels = fields.Dict(
        keys=fields.String(validate=validate.Length(1, 256)),
        values=fields.String(validate=validate.Length(0, 4096)),
        required=True,
        validate=validate.Length(1, 64),
        metadata=doc("The alert's labels; alertname selects the event type."),
    )
    annotations = fields.Dict(
        keys=fields.String(validate=validate.Length(1, 256)),
        values=fields.String(validate=validate.Length(0, 16384)),
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
    generator_url = fields.String(
        data_key="generatorURL", load_default="", metadata=doc("The rule's Prometheus link.")
    )
    fingerprint = fields.String(
        required=True,
        validate=validate.Length(1, 64),
        metadata=doc("Alertmanager's identity of the alert (hex)."),
    )


class AlertmanagerNotificationSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    version = fields.String(
        required=True,
        validate=validate.Equal("4", error="Only Alertmanager webhook payload version 4."),
        metadata=doc('Payload version, "4".'),
    )
    status = fields.String(
        required=True,
        validate=validate.OneOf(["firing", "resolved"]),
        metadata=doc("firing when at least one alert fires."),
    )
    receiver = fields.String(required=True, metadata=doc("The Alertmanager receiver's name."))
    group_labels = fields.Dict(
        data_key="groupLabels", load_default=dict, metadata=doc("Labels the group shares.")
    )
    common_labels = fields.Dict(
        data_key="commonLabels", load_default=dict, metadata=doc("Labels every alert has.")
    )
    common_annotations = fields.Dict(
        data_key="commonAnnotations",
        load_default=dict,
        metadata=doc("Annotations every alert has."),
    )
    external_url = fields.String(
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
