"""k8s_gpu_client.webhooks.verify_delivery on bodies and headers the service's own signer makes
(analytics.webhooks.signing); a delivery the live service really sent is checked in
test_go_sdk.py, by this helper and by the Go SDK's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from analytics.webhooks.signing import attempt_signature, signed_body
from k8s_gpu_client.webhooks import (
    WebhookSignatureError,
    WebhookTimestampError,
    verify_delivery,
)

SECRET = "s3cret-key"
NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
DATA = {"deviceId": "gpu-worker-1-gpu-00", "temperature": 91.5, "node": "gpu-wörker"}


def delivery(secret: str = SECRET, timestamp: str = "2026-01-01T11:59:00Z") -> tuple[bytes, str]:
    return signed_body(secret, "GPU_OVERHEATING", timestamp, DATA)


def attempt_headers(
    body: bytes, seed_signature: str, sent_at: datetime = NOW, secret: str = SECRET
) -> dict[str, str]:
    """The headers of one attempt, as the dispatcher sends them."""
    unix_seconds = int(sent_at.timestamp())
    return {
        "X-Webhook-Timestamp": str(unix_seconds),
        "X-Webhook-Signature": attempt_signature(secret, body, unix_seconds),
        "X-Signature-256": seed_signature,
        "X-Webhook-Event-Id": "evt_1",
    }


# -- the per-attempt signature (headers given) ---------------------------------------------------


def test_an_attempt_verifies_from_the_request_headers() -> None:
    body, signature = delivery()
    headers = attempt_headers(body, signature)
    event = verify_delivery(SECRET, body, headers, now=NOW)
    assert event.event == "GPU_OVERHEATING" and event.data == DATA
    assert event.timestamp == NOW - timedelta(minutes=1) and event.signature == signature
    # Header names are matched whatever their case; the optional ones may be left out.
    lower = {k.lower(): v for k, v in headers.items()}
    assert verify_delivery(SECRET, body, lower, now=NOW) == event
    only = {"X-Webhook-Signature": headers["X-Webhook-Signature"]}
    assert verify_delivery(SECRET, body, only, now=NOW) == event


def test_a_retry_of_an_old_event_verifies_by_its_attempt_time() -> None:
    body, signature = delivery(timestamp="2025-12-31T13:00:00Z")  # recorded 23 h ago
    assert verify_delivery(SECRET, body, attempt_headers(body, signature), now=NOW)


def test_the_attempt_must_be_within_five_minutes() -> None:
    body, signature = delivery()
    headers = attempt_headers(body, signature)
    assert verify_delivery(SECRET, body, headers, now=NOW + timedelta(seconds=300))
    assert verify_delivery(SECRET, body, headers, now=NOW - timedelta(seconds=60))
    for now in (NOW + timedelta(seconds=301), NOW - timedelta(seconds=61)):
        with pytest.raises(WebhookTimestampError, match="replay"):
            verify_delivery(SECRET, body, headers, now=now)
    with pytest.raises(WebhookTimestampError):
        verify_delivery(SECRET, body, headers, tolerance_s=30, now=NOW + timedelta(seconds=31))
    assert verify_delivery(SECRET, body, headers, tolerance_s=None, now=NOW + timedelta(days=9))


def _moved(headers: dict[str, str], seconds: int) -> dict[str, str]:
    t = int(NOW.timestamp())
    signature = headers["X-Webhook-Signature"].replace(f"t={t}", f"t={t + seconds}")
    return {**headers, "X-Webhook-Signature": signature, "X-Webhook-Timestamp": str(t + seconds)}


@pytest.mark.parametrize(
    "case",
    [
        "no-attempt-signature",
        "tampered",
        "other-secret",
        "moved-time",
        "timestamp-header-differs",
        "other-seed-header",
        "no-t",
        "garbage",
    ],
)
def test_attempts_that_do_not_verify_are_refused(case: str) -> None:
    body, signature = delivery()
    headers = attempt_headers(body, signature)
    if case == "no-attempt-signature":
        # Headers without it are refused, not quietly checked by the body's day-long signature.
        del headers["X-Webhook-Signature"]
    elif case == "tampered":
        body = body.replace(b"91.5", b"21.5")
    elif case == "other-secret":
        headers = attempt_headers(body, signature, secret="another-secret")
    elif case == "moved-time":
        headers = _moved(headers, 600)
    elif case == "timestamp-header-differs":
        headers["X-Webhook-Timestamp"] = str(int(NOW.timestamp()) + 1)
    elif case == "other-seed-header":
        headers["X-Signature-256"] = delivery("another-secret")[1]
    elif case == "no-t":
        headers["X-Webhook-Signature"] = headers["X-Webhook-Signature"].split(",")[1]
    else:
        headers["X-Webhook-Signature"] = "garbage"
    with pytest.raises(WebhookSignatureError):
        verify_delivery(SECRET, body, headers, now=NOW)


# -- the seed's body signature alone (no headers) ------------------------------------------------


def test_the_body_signature_alone_verifies_with_and_without_the_header() -> None:
    body, signature = delivery()
    event = verify_delivery(SECRET, body, signature, now=NOW)
    assert event.event == "GPU_OVERHEATING" and event.data == DATA
    assert event.timestamp == NOW - timedelta(minutes=1) and event.signature == signature
    assert verify_delivery(SECRET, body, now=NOW) == event


@pytest.mark.parametrize(
    ("body", "header"),
    [
        (delivery()[0].replace(b"91.5", b"21.5"), delivery()[1]),
        (delivery()[0].replace(b"91.5", b"21.5"), None),
        delivery("another-secret"),
        (delivery()[0], delivery("another-secret")[1]),
        (b'{"event":"GPU_OVERHEATING","timestamp":"2026-01-01T11:59:00Z","data":{}}', None),
        (b"", None),
    ],
    ids=["tampered", "tampered-no-header", "other-secret", "other-header", "unsigned", "empty"],
)
def test_anything_else_is_refused(body: bytes, header: str | None) -> None:
    with pytest.raises(WebhookSignatureError):
        verify_delivery(SECRET, body, header, now=NOW)


def test_the_body_signature_alone_allows_the_retry_horizon_of_a_day() -> None:
    body, signature = delivery()
    assert verify_delivery(SECRET, body, signature, now=NOW + timedelta(hours=23))
    with pytest.raises(WebhookTimestampError):
        verify_delivery(SECRET, body, signature, now=NOW + timedelta(hours=25))
    with pytest.raises(WebhookTimestampError):
        verify_delivery(SECRET, body, signature, event_tolerance_s=30, now=NOW)
    with pytest.raises(WebhookTimestampError):
        verify_delivery(SECRET, body, signature, now=NOW - timedelta(hours=1))
    unchecked = verify_delivery(
        SECRET, body, signature, event_tolerance_s=None, now=NOW + timedelta(days=9)
    )
    assert unchecked
    with pytest.raises(WebhookSignatureError):
        verify_delivery("", body, signature, now=NOW)
