"""The SSRF guard: non-public targets are refused at registration and again at delivery."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask.testing import FlaskClient

from analytics import create_app
from analytics.settings import Settings
from analytics.webhooks.ssrf import UrlGuard, UrlRefused, parse_networks
from tests.analytics.conftest import assert_error
from tests.webhooks.conftest import ADMIN, API, DispatcherFactory, FakeClock, register_webhook
from tests.webhooks.receiver import WebhookReceiver

REFUSED = [
    ("http://127.0.0.1:8080/hook", "loopback"),
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://10.1.2.3/hook", "private"),
    ("http://192.168.1.10/hook", "private"),
    ("http://[::1]:8080/hook", "loopback"),
    ("http://[::ffff:127.0.0.1]/hook", "loopback"),
    ("http://0.0.0.0/hook", "unspecified"),
    ("http://224.0.0.1/hook", "multicast"),
    ("http://localhost:8080/hook", "loopback"),  # a name that resolves to loopback
    ("http://100.64.0.1/hook", "not globally routable"),
]


@pytest.fixture
def strict_client(settings: Settings, clock: FakeClock) -> FlaskClient:
    """The service with the default guard: nothing allowed beyond public addresses."""
    return create_app(settings.replace(webhook_allowed_cidrs=""), clock=clock).test_client()


@pytest.mark.parametrize(("url", "reason"), REFUSED)
def test_registration_refuses_non_public_targets(
    strict_client: FlaskClient, url: str, reason: str
) -> None:
    body = {"name": "x", "url": url, "events": ["GPU_LOST"], "secret": "s3cret-key"}
    error = assert_error(
        strict_client.post(f"{API}/webhooks", json=body, headers=ADMIN), 400, "VALIDATION_ERROR"
    )
    assert f"a {reason} address" in error["details"]["url"][0]


@pytest.mark.parametrize(
    "url", ["ftp://example.com/x", "file:///etc/passwd", "http:///nohost", "http://u:p@1.1.1.1/"]
)
def test_only_plain_http_and_https_urls(strict_client: FlaskClient, url: str) -> None:
    body = {"name": "x", "url": url, "events": ["GPU_LOST"], "secret": "s3cret-key"}
    assert_error(
        strict_client.post(f"{API}/webhooks", json=body, headers=ADMIN), 400, "VALIDATION_ERROR"
    )


def test_public_addresses_pass_and_the_allow_setting_opens_a_network() -> None:
    guard = UrlGuard(resolver=lambda host, port: ["93.184.215.14"])
    target, addresses = guard.resolve("https://hooks.example.com/services/x?y=1")
    assert (target.scheme, target.host, target.port, target.path) == (
        "https",
        "hooks.example.com",
        443,
        "/services/x?y=1",
    )
    assert [str(a) for a in addresses] == ["93.184.215.14"]
    with pytest.raises(UrlRefused):
        UrlGuard().resolve("http://10.0.0.5/")
    allowed = UrlGuard(parse_networks("10.0.0.0/8, ::1/128"))
    assert [str(a) for a in allowed.resolve("http://10.0.0.5/")[1]] == ["10.0.0.5"]
    assert [str(a) for a in allowed.resolve("http://[::1]/")[1]] == ["::1"]
    with pytest.raises(UrlRefused):
        allowed.resolve("http://127.0.0.1/")


def test_one_refused_address_among_several_refuses_the_host() -> None:
    guard = UrlGuard(resolver=lambda host, port: ["93.184.215.14", "127.0.0.1"])
    with pytest.raises(UrlRefused, match="loopback"):
        guard.resolve("http://mixed.example.com/")


def test_the_allow_setting_is_honoured_by_the_api(
    tmp_path: Path, settings: Settings, clock: FakeClock
) -> None:
    client = create_app(
        settings.replace(webhook_allowed_cidrs="10.0.0.0/8"), clock=clock
    ).test_client()
    assert register_webhook(client, "http://10.1.2.3/hook")["url"] == "http://10.1.2.3/hook"
    body = {"name": "x", "url": "http://127.0.0.1/", "events": ["GPU_LOST"], "secret": "s3cret-key"}
    assert_error(client.post(f"{API}/webhooks", json=body, headers=ADMIN), 400, "VALIDATION_ERROR")


def test_delivery_rechecks_the_resolved_address(
    client: FlaskClient,
    receiver: WebhookReceiver,
    make_dispatcher: DispatcherFactory,
) -> None:
    """DNS rebinding: registration saw an allowed address, delivery resolves to another."""
    hook = register_webhook(client, receiver.url + "/hook", ["GPU_LOST"])
    client.application.extensions["gpu_analytics.services"].events.record(
        "GPU_LOST", {"deviceId": "n-GPU-00"}
    )
    answers = iter([["169.254.169.254"]])
    dispatcher = make_dispatcher()
    dispatcher._guard = UrlGuard(
        dispatcher._guard.allowed, resolver=lambda host, port: next(answers)
    )
    # The URL names 127.0.0.1 literally; point it at a name so the resolver is asked.
    changed = client.patch(
        f"{API}/webhooks/{hook['webhookId']}",
        json={"url": f"http://localhost:{receiver.port}/hook"},
        headers=ADMIN,
    )
    assert changed.status_code == 200, changed.get_json()
    assert dispatcher.run_once() == 1
    assert receiver.requests() == []
    (delivery,) = client.get(f"{API}/webhooks/{hook['webhookId']}/deliveries").get_json()["data"]
    assert delivery["status"] == "PENDING"
    assert delivery["log"][0]["outcome"] == "RETRY"
    assert "refused" in delivery["log"][0]["error"]
    assert "link-local" in delivery["log"][0]["error"]
