"""Webhook receivers: check that a delivery was signed with the webhook's secret, and its age.

The service signs the payload ``{"event", "timestamp", "data"}`` as canonical JSON with
HMAC-SHA256 under the secret and sends ``sha256=<64 hex>`` in the ``X-Signature-256`` header and
as the body's first member, ``{"signature":"sha256=<64 hex>",`` + the signed bytes without their
opening ``{`` (docs/webhooks.md). So the signed bytes are ``{`` + the body after that member, and
the check needs no JSON re-serialisation:

>>> event = verify_delivery(secret, request_body, request.headers.get("X-Signature-256"))

``timestamp`` is when the event was recorded, the same on every retry. The service retries for
up to a day (``webhook_max_age_seconds``), hence the default tolerance of a day: drop repeats
within it by the ``X-Webhook-Event-Id`` header, keeping the ids seen for as long.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from k8s_gpu_client.errors import GpuClientError
from k8s_gpu_client.models._base import parse_datetime

SIGNATURE_HEADER = "X-Signature-256"
EVENT_HEADER = "X-Webhook-Event"
EVENT_ID_HEADER = "X-Webhook-Event-Id"
DELIVERY_HEADER = "X-Webhook-Delivery"
DEFAULT_TOLERANCE_S = 86_400.0
DEFAULT_CLOCK_SKEW_S = 300.0

_MEMBER = b'{"signature":"'
_PREFIX = b"sha256="
# len('{"signature":"sha256=') + 64 hex digits + len('",')
_SIGNED_OFFSET = len(_MEMBER) + len(_PREFIX) + 64 + len(b'",')


class WebhookVerificationError(GpuClientError):
    """A delivery that must not be trusted."""


class WebhookSignatureError(WebhookVerificationError):
    """The body is not signed with the secret (or is not a delivery at all)."""


class WebhookTimestampError(WebhookVerificationError):
    """The signature matches, but the event is older than the tolerance (or from the future)."""


@dataclass(frozen=True)
class WebhookEvent:
    """A verified delivery's payload."""

    event: str
    timestamp: datetime
    data: Any
    signature: str


def verify_delivery(
    secret: str,
    body: bytes,
    signature: str | None = None,
    *,
    tolerance_s: float | None = DEFAULT_TOLERANCE_S,
    clock_skew_s: float = DEFAULT_CLOCK_SKEW_S,
    now: datetime | None = None,
) -> WebhookEvent:
    """The payload of a delivery's raw ``body``, checked against ``secret`` and the
    ``X-Signature-256`` header's value (None: the body's own signature member only), with its
    timestamp at most ``tolerance_s`` old (None: not checked) and at most ``clock_skew_s`` ahead.

    Raises WebhookSignatureError or WebhookTimestampError.
    """
    if not secret:
        raise WebhookSignatureError("no secret to check against")
    if (
        len(body) <= _SIGNED_OFFSET
        or not body.startswith(_MEMBER + _PREFIX)
        or body[_SIGNED_OFFSET - 2 : _SIGNED_OFFSET] != b'",'
    ):
        raise WebhookSignatureError("the body does not start with its signature member")
    claimed = body[len(_MEMBER) : _SIGNED_OFFSET - 2]
    signed = b"{" + body[_SIGNED_OFFSET:]
    expected = (
        _PREFIX + hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest().encode()
    )
    if not hmac.compare_digest(expected, claimed):
        raise WebhookSignatureError("signature does not match")
    if signature is not None and not hmac.compare_digest(expected, signature.encode("utf-8")):
        raise WebhookSignatureError(f"the {SIGNATURE_HEADER} header differs from the body's")
    try:
        payload = json.loads(body)
        timestamp = parse_datetime(payload["timestamp"])
        event = WebhookEvent(
            event=str(payload["event"]),
            timestamp=timestamp,
            data=payload.get("data"),
            signature=expected.decode("ascii"),
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise WebhookSignatureError(f"not a delivery: {exc}") from exc
    if tolerance_s is not None:
        age_s = ((now or datetime.now(UTC)) - timestamp).total_seconds()
        if age_s > tolerance_s or age_s < -clock_skew_s:
            raise WebhookTimestampError(
                f"the event is {age_s:.0f} s old (tolerance {tolerance_s:.0f} s)"
            )
    return event


__all__ = [
    "DEFAULT_CLOCK_SKEW_S",
    "DEFAULT_TOLERANCE_S",
    "DELIVERY_HEADER",
    "EVENT_HEADER",
    "EVENT_ID_HEADER",
    "SIGNATURE_HEADER",
    "WebhookEvent",
    "WebhookSignatureError",
    "WebhookTimestampError",
    "WebhookVerificationError",
    "verify_delivery",
]
