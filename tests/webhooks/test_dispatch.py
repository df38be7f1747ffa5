"""The outbox dispatcher against real local HTTP servers: signed payloads, retries with backoff,
giving up, the delivery log, no redirects, and no double delivery between racing dispatchers."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections import Counter
from datetime import datetime
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from analytics.services.events.recorder import EventRecorder
from analytics.services.kernel.events import EVENT_TYPES
from analytics.store.db import Database
from analytics.webhooks.signing import (
    ATTEMPT_SIGNATURE_HEADER,
    SIGNATURE_HEADER,
    SIGNATURE_PREFIX_LENGTH,
    TIMESTAMP_HEADER,
    canonical,
    sign,
    verify_attempt,
    verify_body,
)
from tests.analytics.conftest import FakeClock
from tests.conftest import free_port
from tests.webhooks.conftest import (
    ADMIN,
    API,
    DispatcherFactory,
    database,
    register_webhook,
)
from tests.webhooks.receiver import WebhookReceiver

SEED_DATA = {"deviceId": "gpu-worker-1-GPU-00", "temperature": 95.2, "threshold": 85.0}


def events(app: Flask) -> EventRecorder:
    recorder: EventRecorder = app.extensions["gpu_analytics.services"].events
    return recorder


def deliveries(client: FlaskClient, webhook_id: str) -> list[dict[str, Any]]:
    response = client.get(f"{API}/webhooks/{webhook_id}/deliveries", headers=ADMIN)
    assert response.status_code == 200
    result: list[dict[str, Any]] = response.get_json()["data"]
    return result


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_delivers_the_seed_payload_signed(
    app: Flask,
    client: FlaskClient,
    clock: FakeClock,
    receiver: WebhookReceiver,
    make_dispatcher: DispatcherFactory,
) -> None:
    hook = register_webhook(client, receiver.url + "/in?x=1", secret="webhook_secret_key")
    events(app).record("GPU_OVERHEATING", {**SEED_DATA, "severity": "CRITICAL"})
    events(app).record("GPU_LOST", {"deviceId": "x"})  # not subscribed
    assert make_dispatcher().run_once() == 1

    (request,) = receiver.requests()
    assert request.path == "/in?x=1"
    payload = request.payload
    assert list(payload) == ["signature", "data", "event", "timestamp"]
    assert payload["event"] == "GPU_OVERHEATING"
    assert payload["timestamp"] == "2026-01-05T12:00:00Z"
    assert payload["data"] == {**SEED_DATA, "severity": "CRITICAL"}
    assert request.headers[SIGNATURE_HEADER] == payload["signature"]
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["X-Webhook-Event"] == "GPU_OVERHEATING"
    assert request.headers["X-Webhook-Event-Id"].startswith("evt_")
    # Method 1 (docs/webhooks.md): canonical JSON of the payload without "signature".
    assert payload["signature"] == sign("webhook_secret_key", canonical(payload))
    # Method 2: from the raw body, language-neutral.
    signed = b"{" + request.body[SIGNATURE_PREFIX_LENGTH:]
    assert payload["signature"] == sign("webhook_secret_key", signed)
    assert json.loads(signed) == {k: v for k, v in payload.items() if k != "signature"}
    assert verify_body("webhook_secret_key", request.body, request.headers[SIGNATURE_HEADER])
    assert not verify_body("wrong-secret", request.body)
    tampered = request.body.replace(b"95.2", b"55.2")
    assert not verify_body("webhook_secret_key", tampered)
    # The attempt's own signature: HMAC of "<t>." + the raw body, t the attempt's Unix time.
    sent_at = int(clock.now().timestamp())
    assert request.headers[TIMESTAMP_HEADER] == str(sent_at)
    header = request.headers[ATTEMPT_SIGNATURE_HEADER]
    message = f"{sent_at}.".encode() + request.body
    digest = hmac.new(b"webhook_secret_key", message, hashlib.sha256).hexdigest()
    assert header == f"t={sent_at},v1={digest}"
    assert verify_attempt("webhook_secret_key", request.body, header, sent_at + 299)
    assert not verify_attempt("webhook_secret_key", request.body, header, sent_at + 301)
    assert not verify_attempt("wrong-secret", request.body, header, sent_at)
    assert not verify_attempt("webhook_secret_key", tampered, header, sent_at)

    (delivery,) = deliveries(client, hook["webhookId"])
    assert delivery["status"] == "DELIVERED"
    assert delivery["attempts"] == 1
    assert delivery["nextAttemptAt"] is None
    assert [(a["attempt"], a["statusCode"], a["outcome"]) for a in delivery["log"]] == [
        (1, 200, "DELIVERED")
    ]
    # Nothing is sent twice.
    assert make_dispatcher().run_once() == 0
    assert len(receiver.requests()) == 1


def test_a_500_is_retried_with_exponential_backoff_then_given_up(
    app: Flask,
    client: FlaskClient,
    clock: FakeClock,
    make_dispatcher: DispatcherFactory,
) -> None:
    # Settings: base 10 s, max 25 s, 4 attempts; equal jitter keeps each delay in [d/2, d].
    with WebhookReceiver(status=500) as failing:
        hook = register_webhook(client, failing.url)
        events(app).record("GPU_OVERHEATING", SEED_DATA)
        dispatcher = make_dispatcher()
        delays = []
        for attempt in range(1, 5):
            assert dispatcher.run_once() == 1
            (delivery,) = deliveries(client, hook["webhookId"])
            assert delivery["attempts"] == attempt
            assert delivery["lastStatusCode"] == 500
            assert dispatcher.run_once() == 0  # not due yet
            if attempt < 4:
                assert delivery["status"] == "PENDING"
                delay = (_at(delivery["nextAttemptAt"]) - clock.now()).total_seconds()
                delays.append(delay)
                clock.advance(seconds=delay + 1)  # the API shows whole seconds
        sent = failing.requests()
    assert len(sent) == 4
    # Every retry: the same body and seed signature, a later time and its own signature.
    assert len({(r.body, r.headers[SIGNATURE_HEADER]) for r in sent}) == 1
    times = [int(r.headers[TIMESTAMP_HEADER]) for r in sent]
    assert times == sorted(set(times)), times
    for request, sent_at in zip(sent, times, strict=True):
        header = request.headers[ATTEMPT_SIGNATURE_HEADER]
        assert header.startswith(f"t={sent_at},v1=")
        assert verify_attempt("s3cret-key", request.body, header, sent_at)
        assert verify_body("s3cret-key", request.body, request.headers[SIGNATURE_HEADER])
    assert len({r.headers[ATTEMPT_SIGNATURE_HEADER] for r in sent}) == 4
    # The first attempt's signature moved to the last attempt's time does not verify.
    moved = sent[0].headers[ATTEMPT_SIGNATURE_HEADER].replace(f"t={times[0]}", f"t={times[-1]}")
    assert not verify_attempt("s3cret-key", sent[0].body, moved, times[-1])
    ceilings = [10, 20, 25]
    assert all(c / 2 - 1 <= d <= c for d, c in zip(delays, ceilings, strict=True)), delays
    assert delivery["status"] == "FAILED"
    assert delivery["finishedAt"] is not None
    assert [a["outcome"] for a in delivery["log"]] == ["RETRY", "RETRY", "RETRY", "FAILED"]
    assert all(a["statusCode"] == 500 and a["error"] == "HTTP 500" for a in delivery["log"])
    clock.advance(hours=1)
    assert dispatcher.run_once() == 0


def test_a_server_that_is_down_is_retried_until_it_is_back(
    app: Flask, client: FlaskClient, clock: FakeClock, make_dispatcher: DispatcherFactory
) -> None:
    port = free_port()
    hook = register_webhook(client, f"http://127.0.0.1:{port}/hook")
    events(app).record("GPU_OVERHEATING", SEED_DATA)
    dispatcher = make_dispatcher()
    assert dispatcher.run_once() == 1
    (delivery,) = deliveries(client, hook["webhookId"])
    assert delivery["status"] == "PENDING"
    assert delivery["lastStatusCode"] is None
    assert "refused" in delivery["lastError"].lower()
    clock.advance(seconds=10)
    with WebhookReceiver(port=port) as back:
        assert dispatcher.run_once() == 1
        assert len(back.requests()) == 1
    (delivery,) = deliveries(client, hook["webhookId"])
    assert delivery["status"] == "DELIVERED"
    assert [a["outcome"] for a in delivery["log"]] == ["RETRY", "DELIVERED"]


def test_the_age_limit_gives_up_too(
    app: Flask,
    client: FlaskClient,
    clock: FakeClock,
    make_dispatcher: DispatcherFactory,
    settings: Any,
) -> None:
    hook = register_webhook(client, f"http://127.0.0.1:{free_port()}/hook")
    events(app).record("GPU_OVERHEATING", SEED_DATA)
    clock.advance(seconds=settings.webhook_max_age_seconds)
    assert make_dispatcher().run_once() == 1
    (delivery,) = deliveries(client, hook["webhookId"])
    assert (delivery["status"], delivery["attempts"]) == ("FAILED", 1)


def test_redirects_are_not_followed(
    app: Flask, client: FlaskClient, make_dispatcher: DispatcherFactory
) -> None:
    with WebhookReceiver(status=302) as redirecting:
        hook = register_webhook(client, redirecting.url)
        events(app).record("GPU_OVERHEATING", SEED_DATA)
        assert make_dispatcher().run_once() == 1
        assert len(redirecting.requests()) == 1
    (delivery,) = deliveries(client, hook["webhookId"])
    assert delivery["status"] == "PENDING"
    assert delivery["lastStatusCode"] == 302
    assert "redirect" in delivery["lastError"]


def test_paused_webhooks_keep_their_deliveries_until_resumed(
    app: Flask, client: FlaskClient, receiver: WebhookReceiver, make_dispatcher: DispatcherFactory
) -> None:
    hook = register_webhook(client, receiver.url)
    events(app).record("GPU_OVERHEATING", SEED_DATA)
    path = f"{API}/webhooks/{hook['webhookId']}"
    assert client.patch(path, json={"active": False}, headers=ADMIN).status_code == 200
    events(app).record("GPU_OVERHEATING", SEED_DATA)  # inactive: not queued
    assert make_dispatcher().run_once() == 0
    assert client.patch(path, json={"active": True}, headers=ADMIN).status_code == 200
    assert make_dispatcher().run_once() == 1
    assert len(receiver.requests()) == 1


def test_dedup_key_records_an_event_once(
    app: Flask, client: FlaskClient, receiver: WebhookReceiver, make_dispatcher: DispatcherFactory
) -> None:
    register_webhook(client, receiver.url)
    for _ in range(3):
        events(app).record("GPU_OVERHEATING", SEED_DATA, dedup_key="alert:abc:start")
    assert make_dispatcher().run_once() == 1
    assert len(receiver.requests()) == 1


def test_racing_dispatchers_never_deliver_one_event_twice(
    app: Flask, client: FlaskClient, make_dispatcher: DispatcherFactory
) -> None:
    """Four dispatchers, each with its own database engine (as separate gunicorn workers
    have), drain 60 deliveries concurrently; the receiver sees every event exactly once."""
    with WebhookReceiver(delay_s=0.01) as slow:
        register_webhook(client, slow.url)
        register_webhook(client, slow.url + "/second")
        for n in range(30):
            events(app).record("GPU_OVERHEATING", {**SEED_DATA, "n": n})
        url = str(database(app).url)
        engines = [Database(url) for _ in range(4)]
        dispatchers = [make_dispatcher(database=engine) for engine in engines]
        made: list[int] = []
        barrier = threading.Barrier(len(dispatchers))

        def run(index: int) -> None:
            barrier.wait()
            made.append(dispatchers[index].run_once())

        threads = [threading.Thread(target=run, args=(i,)) for i in range(len(dispatchers))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        for engine in engines:
            engine.dispose()
        received = slow.requests()
    keys = Counter((r.path, r.headers["X-Webhook-Event-Id"]) for r in received)
    assert len(keys) == 60
    assert set(keys.values()) == {1}
    assert sum(made) == 60
    assert sum(1 for m in made if m > 0) >= 2, made  # they really raced


def test_a_test_event_goes_to_that_webhook_alone_signed(
    app: Flask, client: FlaskClient, receiver: WebhookReceiver, make_dispatcher: DispatcherFactory
) -> None:
    # Subscribed to another event; a second webhook subscribed to everything gets nothing.
    hook = register_webhook(client, receiver.url + "/one", ["GPU_LOST"], secret="first-secret")
    register_webhook(client, receiver.url + "/other", list(EVENT_TYPES))
    response = client.post(f"{API}/webhooks/{hook['webhookId']}/test", headers=ADMIN)
    assert response.status_code == 202, response.get_json()
    queued = response.get_json()["data"]
    assert queued["webhookId"] == hook["webhookId"]
    assert queued["event"] == "WEBHOOK_TEST"
    assert queued["eventId"].startswith("evt_")
    assert queued["queuedAt"] == "2026-01-05T12:00:00Z"
    assert make_dispatcher().run_once() == 1

    (request,) = receiver.requests()
    assert request.path == "/one"
    assert request.headers["X-Webhook-Event"] == "WEBHOOK_TEST"
    assert request.headers["X-Webhook-Event-Id"] == queued["eventId"]
    assert request.payload["data"]["webhookId"] == hook["webhookId"]
    assert request.payload["data"]["requestedBy"] is not None
    assert verify_body("first-secret", request.body, request.headers[SIGNATURE_HEADER])
    (delivery,) = deliveries(client, hook["webhookId"])
    assert (delivery["event"], delivery["status"]) == ("WEBHOOK_TEST", "DELIVERED")


def test_a_test_event_is_refused_for_paused_or_unknown_webhooks_and_viewers(
    client: FlaskClient, receiver: WebhookReceiver, make_dispatcher: DispatcherFactory
) -> None:
    hook = register_webhook(client, receiver.url)
    path = f"{API}/webhooks/{hook['webhookId']}"
    assert client.patch(path, json={"active": False}, headers=ADMIN).status_code == 200
    refused = client.post(path + "/test", headers=ADMIN)
    assert refused.status_code == 400
    assert refused.get_json()["error"]["code"] == "INVALID_PARAMETER"
    assert "paused" in refused.get_json()["error"]["message"]
    missing = client.post(f"{API}/webhooks/WH-NOSUCH00/test", headers=ADMIN)
    assert missing.status_code == 404
    assert missing.get_json()["error"]["code"] == "RESOURCE_NOT_FOUND"
    viewer = client.application.extensions["gpu_analytics.services"].api_keys.create("viewer")
    assert client.post(path + "/test", headers={"X-API-Key": viewer.key}).status_code == 403
    assert make_dispatcher().run_once() == 0
    assert receiver.requests() == []
