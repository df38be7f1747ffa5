"""k8s_gpu_client.webhooks.verify_delivery on bodies the service's own signer makes
(analytics.webhooks.signing.signed_body); a delivery the live service really sent is checked in
test_go_sdk.py, by this helper and by the Go SDK's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from analytics.webhooks.signing import signed_body
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


def test_a_signed_delivery_verifies_with_and_without_the_header() -> None:
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


def test_the_timestamp_must_be_within_the_tolerance() -> None:
    body, signature = delivery()
    with pytest.raises(WebhookTimestampError):
        verify_delivery(SECRET, body, signature, now=NOW + timedelta(hours=25))
    with pytest.raises(WebhookTimestampError):
        verify_delivery(SECRET, body, signature, tolerance_s=30, now=NOW)
    with pytest.raises(WebhookTimestampError):
        verify_delivery(SECRET, body, signature, now=NOW - timedelta(hours=1))
    assert verify_delivery(SECRET, body, signature, tolerance_s=None, now=NOW + timedelta(days=9))
    with pytest.raises(WebhookSignatureError):
        verify_delivery("", body, signature, now=NOW)
