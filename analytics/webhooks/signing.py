"""The payload and its signature: what bytes are signed, and how a receiver checks them.

The payload is the seed's ``{"event", "timestamp", "data", "signature"}``. The signed bytes are
the payload *without* ``signature`` as canonical JSON: keys sorted, no whitespace
(``separators=(",", ":")``), non-ASCII escaped (``ensure_ascii``), UTF-8. The signature is
``sha256=`` + the hex HMAC-SHA256 of those bytes under the webhook's secret; it is sent both in
the body's ``signature`` field and in the ``X-Signature-256`` header.

The body on the wire is exactly the signed bytes with the signature member put first:
``{"signature":"sha256=<64 hex>",`` + the signed bytes without their opening ``{``. A receiver may
therefore verify either by re-serialising the parsed payload (as above) or, in any language,
from the raw body: the signed bytes are ``{`` + ``body[SIGNATURE_PREFIX_LENGTH:]``.

That signature covers the event's ``timestamp``, which is when the event was recorded and is
the same on every retry, so it cannot bound how old a *request* is. Each attempt is therefore
signed once more with its own time (Stripe-style): ``X-Webhook-Timestamp: <t>`` and
``X-Webhook-Signature: t=<t>,v1=<hex>``, where ``t`` is the attempt's Unix time in whole seconds
and ``<hex>`` the HMAC-SHA256 under the same secret of ``"<t>."`` followed by the raw body bytes.
A receiver that checks it can refuse anything older than a few minutes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

SIGNATURE_HEADER = "X-Signature-256"
EVENT_HEADER = "X-Webhook-Event"
EVENT_ID_HEADER = "X-Webhook-Event-Id"
DELIVERY_HEADER = "X-Webhook-Delivery"
TIMESTAMP_HEADER = "X-Webhook-Timestamp"
ATTEMPT_SIGNATURE_HEADER = "X-Webhook-Signature"
_PREFIX = "sha256="
# len('{"signature":"sha256=') + 64 hex digits + len('",')
SIGNATURE_PREFIX_LENGTH = len('{"signature":"') + len(_PREFIX) + 64 + len('",')


def canonical(payload: Mapping[str, Any]) -> bytes:
    """The signed bytes of a payload (its ``signature`` member, if any, left out)."""
    unsigned = {k: v for k, v in payload.items() if k != "signature"}
    return json.dumps(
        unsigned, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    ).encode("ascii")


def sign(secret: str, message: bytes) -> str:
    return _PREFIX + hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def signed_body(
    secret: str, event: str, timestamp: str, data: Mapping[str, Any]
) -> tuple[bytes, str]:
    """The request body and its signature for one event."""
    message = canonical({"event": event, "timestamp": timestamp, "data": data})
    signature = sign(secret, message)
    # ``message`` is never "{}": it always has event, timestamp and data.
    body = b'{"signature":"' + signature.encode("ascii") + b'",' + message[1:]
    return body, signature


def verify_body(secret: str, body: bytes, signature: str | None = None) -> bool:
    """A receiver's check on the raw body (and the header's value, when given)."""
    try:
        payload = json.loads(body)
    except ValueError:
        return False
    claimed = payload.get("signature") if isinstance(payload, dict) else None
    if not isinstance(claimed, str):
        return False
    if signature is not None and not hmac.compare_digest(signature, claimed):
        return False
    return hmac.compare_digest(sign(secret, canonical(payload)), claimed)


def attempt_signature(secret: str, body: bytes, unix_seconds: int) -> str:
    """The ``X-Webhook-Signature`` value of one attempt sending ``body`` at ``unix_seconds``."""
    message = str(unix_seconds).encode("ascii") + b"." + body
    digest = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()
    return f"t={unix_seconds},v1={digest}"


def verify_attempt(
    secret: str, body: bytes, header: str, now_unix_seconds: float, tolerance_s: float = 300.0
) -> bool:
    """A receiver's check of ``X-Webhook-Signature``: it signs ``body`` and is at most
    ``tolerance_s`` old (or ahead)."""
    fields = [part.partition("=") for part in header.split(",")]
    stamps = [value for key, _, value in fields if key == "t"]
    if len(stamps) != 1 or not stamps[0].isdigit():
        return False
    expected = attempt_signature(secret, body, int(stamps[0])).rpartition("v1=")[2]
    matches = any(hmac.compare_digest(expected, value) for key, _, value in fields if key == "v1")
    return matches and abs(now_unix_seconds - int(stamps[0])) <= tolerance_s
