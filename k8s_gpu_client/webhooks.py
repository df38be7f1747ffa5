"""Webhook receivers: check that a delivery was signed with the webhook's secret, and when.

Every attempt of a delivery carries two signatures under the webhook's secret (docs/webhooks.md):

- ``X-Webhook-Signature: t=<unix seconds>,v1=<hex>``, the HMAC-SHA256 of ``"<t>."`` + the raw
  body, with ``t`` the time of *this attempt* (also in ``X-Webhook-Timestamp``). Every retry is
  signed afresh, so a receiver can refuse anything older than a few minutes: a replay.
- the seed's ``sha256=<64 hex>`` over the payload ``{"event", "timestamp", "data"}`` as canonical
  JSON, sent as the body's first member and in ``X-Signature-256``. Its ``timestamp`` is when the
  event was recorded, the same on every retry, so it bounds nothing shorter than the service's
  retry horizon (a day).

Pass the request's headers and the per-attempt signature is required and checked with a
tolerance of 5 minutes (and 1 minute of clock skew ahead):

>>> event = verify_delivery(secret, request.get_data(), request.headers)

Pass no headers (or the ``X-Signature-256`` value alone) to check the seed's body signature only,
for deliveries from a service older than the per-attempt signature: then the event may be up to
a day old, and repeats must be dropped by the ``X-Webhook-Event-Id`` header, keeping the ids seen
for as long.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from k8s_gpu_client.errors import GpuClientError
from k8s_gpu_client.models._base import parse_datetime

SIGNATURE_HEADER = "X-Signature-256"
EVENT_HEADER = "X-Webhook-Event"
EVENT_ID_HEADER = "X-Webhook-Event-Id"
DELIVERY_HEADER = "X-Webhook-Delivery"
TIMESTAMP_HEADER = "X-Webhook-Timestamp"
ATTEMPT_SIGNATURE_HEADER = "X-Webhook-Signature"
# How old an attempt may be (its X-Webhook-Timestamp): the replay window.
DEFAULT_TOLERANCE_S = 300.0
# How old an event may be when only the seed's body signature is checked: the service retries
# for up to webhook_max_age_seconds (a day by default), with the same event timestamp.
DEFAULT_EVENT_TOLERANCE_S = 86_400.0
# How far ahead of the receiver's clock a timestamp may be.
DEFAULT_CLOCK_SKEW_S = 60.0

_MEMBER = b'{"signature":"'
_PREFIX = b"sha256="
# len('{"signature":"sha256=') + 64 hex digits + len('",')
_SIGNED_OFFSET = len(_MEMBER) + len(_PREFIX) + 64 + len(b'",')


class WebhookVerificationError(GpuClientError):
    """A delivery that must not be trusted."""


class WebhookSignatureError(WebhookVerificationError):
    """The body is not signed with the secret (or is not a delivery at all)."""


class WebhookTimestampError(WebhookVerificationError):
    """The signature matches, but the attempt (or, body signature only, the event) is older than
    the tolerance or from the future: a replay or a late retry."""


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
    headers: Mapping[str, str] | str | None = None,
    *,
    tolerance_s: float | None = DEFAULT_TOLERANCE_S,
    event_tolerance_s: float | None = DEFAULT_EVENT_TOLERANCE_S,
    clock_skew_s: float = DEFAULT_CLOCK_SKEW_S,
    now: datetime | None = None,
) -> WebhookEvent:
    """The payload of a delivery's raw ``body``, checked against ``secret``.

    ``headers`` is the request's headers (any mapping; names are matched case-insensitively):
    ``X-Webhook-Signature`` must sign the body at a time at most ``tolerance_s`` old (None: not
    checked) and at most ``clock_skew_s`` ahead; ``X-Webhook-Timestamp`` and ``X-Signature-256``,
    when present, must agree with it and with the body's signature.

    ``headers`` None or a string (the ``X-Signature-256`` value, as in earlier versions) checks
    the seed's body signature alone, with the event's timestamp at most ``event_tolerance_s``
    old (None: not checked): there is no replay window shorter than that, so drop repeats by
    ``X-Webhook-Event-Id``.

    Raises WebhookSignatureError or WebhookTimestampError.
    """
    if not secret:
        raise WebhookSignatureError("no secret to check against")
    at = now or datetime.now(UTC)
    if isinstance(headers, Mapping):
        attempted_at = _check_attempt(secret, body, headers)
        event = _check_body(secret, body, _header(headers, SIGNATURE_HEADER))
        _check_age("the attempt", attempted_at, at, tolerance_s, clock_skew_s)
        return event
    event = _check_body(secret, body, headers)
    _check_age("the event", event.timestamp, at, event_tolerance_s, clock_skew_s)
    return event


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        folded = name.casefold()
        value = next((v for k, v in headers.items() if k.casefold() == folded), None)
    return value


def _check_attempt(secret: str, body: bytes, headers: Mapping[str, str]) -> datetime:
    """The time of the attempt that ``X-Webhook-Signature`` signs."""
    header = _header(headers, ATTEMPT_SIGNATURE_HEADER)
    if header is None:
        raise WebhookSignatureError(
            f"no {ATTEMPT_SIGNATURE_HEADER} header (pass no headers to check the body's "
            "signature alone)"
        )
    fields = [part.strip().partition("=") for part in header.split(",")]
    stamps = [value for key, _, value in fields if key == "t"]
    if len(stamps) != 1 or not stamps[0].isdigit() or len(stamps[0]) > 12:
        raise WebhookSignatureError(f"{ATTEMPT_SIGNATURE_HEADER} has no single t=<unix seconds>")
    stated = _header(headers, TIMESTAMP_HEADER)
    if stated is not None and stated.strip() != stamps[0]:
        raise WebhookSignatureError(f"{TIMESTAMP_HEADER} differs from {ATTEMPT_SIGNATURE_HEADER}")
    message = stamps[0].encode("ascii") + b"." + body
    expected = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()
    if not any(
        hmac.compare_digest(expected.encode(), value.encode("utf-8"))
        for key, _, value in fields
        if key == "v1"
    ):
        raise WebhookSignatureError(f"{ATTEMPT_SIGNATURE_HEADER} does not match")
    return datetime.fromtimestamp(int(stamps[0]), UTC)


def _check_body(secret: str, body: bytes, signature: str | None) -> WebhookEvent:
    """The seed's signature: the body's first member, and ``X-Signature-256`` when given."""
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
        return WebhookEvent(
            event=str(payload["event"]),
            timestamp=parse_datetime(payload["timestamp"]),
            data=payload.get("data"),
            signature=expected.decode("ascii"),
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise WebhookSignatureError(f"not a delivery: {exc}") from exc


def _check_age(
    what: str, moment: datetime, now: datetime, tolerance_s: float | None, clock_skew_s: float
) -> None:
    if tolerance_s is None:
        return
    age_s = (now - moment).total_seconds()
    if age_s > tolerance_s or age_s < -clock_skew_s:
        raise WebhookTimestampError(
            f"{what} is {age_s:.0f} s old (tolerance {tolerance_s:.0f} s, "
            f"{clock_skew_s:.0f} s ahead): a replay or a late retry"
        )


__all__ = [
    "ATTEMPT_SIGNATURE_HEADER",
    "DEFAULT_CLOCK_SKEW_S",
    "DEFAULT_EVENT_TOLERANCE_S",
    "DEFAULT_TOLERANCE_S",
    "DELIVERY_HEADER",
    "EVENT_HEADER",
    "EVENT_ID_HEADER",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "WebhookEvent",
    "WebhookSignatureError",
    "WebhookTimestampError",
    "WebhookVerificationError",
    "verify_delivery",
]
