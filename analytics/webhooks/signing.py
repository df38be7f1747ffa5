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
