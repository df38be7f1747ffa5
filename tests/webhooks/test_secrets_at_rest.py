"""Webhook secrets at rest (docs/auth.md, docs/webhooks.md): AES-GCM ciphertext in the column
with a secrets key, deliveries still signed with the secret as given; plain-text rows from
before sealed at start; without a key, a warning at start and plain text."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import select

from analytics import create_app
from analytics.services.events.webhooks import secret_box
from analytics.settings import Secret, Settings
from analytics.store.webhooks import webhooks
from analytics.webhooks.secretbox import SecretBox, SecretUnreadable
from analytics.webhooks.signing import SIGNATURE_HEADER, verify_body
from tests.analytics.conftest import FakeClock, close_app
from tests.webhooks.conftest import ADMIN, API, DispatcherFactory, database, register_webhook
from tests.webhooks.receiver import WebhookReceiver

KEY = Secret("q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=")
OTHER_KEY = Secret("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
SECRET = "webhook_secret_key"


def stored_secrets(app: Flask) -> dict[str, str]:
    with database(app).read() as conn:
        rows = conn.execute(select(webhooks.c.webhook_id, webhooks.c.secret))
        return {row.webhook_id: row.secret for row in rows}


def overheat(app: Flask) -> None:
    app.extensions["gpu_analytics.services"].events.record(
        "GPU_OVERHEATING", {"deviceId": "gpu-worker-1-GPU-00", "temperature": 95.0}
    )


@pytest.fixture
def keyed(settings: Settings, clock: FakeClock) -> Iterator[Flask]:
    app = create_app(settings.replace(secrets_key=KEY), clock=clock)
    yield app
    close_app(app)


def test_the_column_holds_ciphertext_and_deliveries_are_signed_with_the_secret(
    keyed: Flask,
    settings: Settings,
    receiver: WebhookReceiver,
    make_dispatcher: DispatcherFactory,
) -> None:
    client = keyed.test_client()
    hook = register_webhook(client, receiver.url + "/in", secret=SECRET)
    (stored,) = stored_secrets(keyed).values()
    assert stored.startswith("aesgcm:v1:") and SECRET not in stored
    overheat(keyed)
    box = secret_box(settings.replace(secrets_key=KEY))
    assert make_dispatcher(database=database(keyed), secrets=box).run_once() == 1
    (request,) = receiver.requests()
    assert verify_body(SECRET, request.body, request.headers[SIGNATURE_HEADER])
    # A changed secret is sealed too, and signs from then on.
    client.patch(
        f"{API}/webhooks/{hook['webhookId']}", json={"secret": "second-secret"}, headers=ADMIN
    )
    (changed,) = stored_secrets(keyed).values()
    assert changed.startswith("aesgcm:v1:") and changed != stored
    assert box.open(changed, hook["webhookId"]) == "second-secret"


def test_plain_text_rows_are_sealed_at_start_once_a_key_is_set(
    app: Flask,
    settings: Settings,
    clock: FakeClock,
    receiver: WebhookReceiver,
    make_dispatcher: DispatcherFactory,
) -> None:
    hook = register_webhook(app.test_client(), receiver.url + "/in", secret=SECRET)
    assert stored_secrets(app) == {hook["webhookId"]: SECRET}
    keyed = create_app(settings.replace(secrets_key=KEY), clock=clock)
    try:
        sealed = stored_secrets(keyed)[hook["webhookId"]]
        assert sealed.startswith("aesgcm:v1:")
        overheat(keyed)
        box = secret_box(settings.replace(secrets_key=KEY))
        assert make_dispatcher(database=database(keyed), secrets=box).run_once() == 1
        (request,) = receiver.requests()
        assert verify_body(SECRET, request.body, request.headers[SIGNATURE_HEADER])
        # A second start changes nothing.
        close_app(create_app(settings.replace(secrets_key=KEY), clock=clock))
        assert stored_secrets(keyed)[hook["webhookId"]] == sealed
    finally:
        close_app(keyed)


def test_without_the_key_nothing_is_sent_and_the_start_says_so(
    keyed: Flask,
    settings: Settings,
    clock: FakeClock,
    receiver: WebhookReceiver,
    make_dispatcher: DispatcherFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = keyed.test_client()
    hook = register_webhook(client, receiver.url + "/in", secret=SECRET)
    overheat(keyed)
    caplog.set_level(logging.WARNING, "analytics")
    keyless = create_app(settings, clock=clock)
    try:
        assert "stored in plain text" in caplog.text
        assert "1 webhook secrets are encrypted but no secrets key" in caplog.text
        # A dispatcher without the key (or with another) cannot sign: it sends nothing and
        # retries later.
        for box in (SecretBox(None), secret_box(settings.replace(secrets_key=OTHER_KEY))):
            assert make_dispatcher(database=database(keyless), secrets=box).run_once() == 1
            clock.advance(seconds=60)
        assert receiver.requests() == []
        deliveries = client.get(f"{API}/webhooks/{hook['webhookId']}/deliveries", headers=ADMIN)
        (delivery,) = deliveries.get_json()["data"]
        assert delivery["status"] == "PENDING"
        assert [a["outcome"] for a in delivery["log"]] == ["RETRY", "RETRY"]
        assert SECRET not in caplog.text
    finally:
        close_app(keyless)


def test_a_sealed_secret_opens_only_for_its_own_webhook() -> None:
    box = SecretBox(bytes(range(32)))
    sealed = box.seal(SECRET, "WH-AAAAAAAA")
    assert box.open(sealed, "WH-AAAAAAAA") == SECRET
    with pytest.raises(SecretUnreadable):
        box.open(sealed, "WH-BBBBBBBB")
    assert box.seal(SECRET, "WH-AAAAAAAA") != sealed  # a fresh nonce each time
    assert SecretBox(None).open(SECRET, "WH-AAAAAAAA") == SECRET


def test_a_secret_that_looks_sealed_is_refused(keyed: Flask) -> None:
    response = keyed.test_client().post(
        f"{API}/webhooks",
        json={
            "name": "x",
            "url": "http://127.0.0.1:9/in",
            "events": ["GPU_OVERHEATING"],
            "secret": "aesgcm:v1:abcdefgh",
        },
        headers=ADMIN,
    )
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "VALIDATION_ERROR"


def test_rotation_reseals_under_the_new_key_and_the_old_one_can_then_go(
    keyed: Flask,
    settings: Settings,
    clock: FakeClock,
    receiver: WebhookReceiver,
    make_dispatcher: DispatcherFactory,
) -> None:
    hook = register_webhook(keyed.test_client(), receiver.url + "/in", secret=SECRET)
    under_old = stored_secrets(keyed)[hook["webhookId"]]
    rotated = settings.replace(secrets_key=OTHER_KEY, secrets_key_previous=KEY)
    close_app(create_app(rotated, clock=clock))
    under_new = stored_secrets(keyed)[hook["webhookId"]]
    assert under_new != under_old and under_new.startswith("aesgcm:v1:")
    # The new key alone opens it now: the previous one may be dropped.
    only_new = secret_box(settings.replace(secrets_key=OTHER_KEY))
    assert only_new.open(under_new, hook["webhookId"]) == SECRET
    with pytest.raises(SecretUnreadable):
        secret_box(settings.replace(secrets_key=KEY)).open(under_new, hook["webhookId"])
    overheat(keyed)
    assert make_dispatcher(database=database(keyed), secrets=only_new).run_once() == 1
    (request,) = receiver.requests()
    assert verify_body(SECRET, request.body, request.headers[SIGNATURE_HEADER])
