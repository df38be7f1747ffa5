"""The SSRF guard: non-public targets are refused at registration and again at delivery."""

from __future__ import annotations

import re
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
    ("http://[fec0::1]/", "site-local"),
    ("http://192.88.99.1/", "6to4 relay anycast"),
]
# IPv6 forms that carry an IPv4 address: judged by the IPv4 address (the reason names it).
REFUSED_EMBEDDED = [
    # 6to4 (2002::/16) of 127.0.0.1, 169.254.169.254 and 10.0.0.1.
    ("http://[2002:7f00:1::]/", "loopback", "127.0.0.1 as 6to4"),
    ("http://[2002:a9fe:a9fe::]/", "link-local", "169.254.169.254 as 6to4"),
    ("http://[2002:0a00:0001::]/", "private", "10.0.0.1 as 6to4"),
    ("http://[2002:c058:6301::1]/", "6to4 relay anycast", "192.88.99.1 as 6to4"),
    # Teredo (2001::/32): a public server, and the client (stored inverted) 127.0.0.1.
    ("http://[2001:0:5db8:d70e::80ff:fffe]/", "loopback", "127.0.0.1 as Teredo client"),
    ("http://[2001:0:a9fe:a9fe::a201:2a04]/", "link-local", "169.254.169.254 as Teredo server"),
    # NAT64: the well-known prefix and the local-use one.
    ("http://[64:ff9b::7f00:1]/", "loopback", "127.0.0.1 as NAT64"),
    ("http://[64:ff9b::a9fe:a9fe]/", "link-local", "169.254.169.254 as NAT64"),
    ("http://[64:ff9b:1::a00:1]/", "private", "10.0.0.1 as NAT64"),
    # IPv4-mapped and IPv4-compatible.
    ("http://[::ffff:169.254.169.254]/", "link-local", "169.254.169.254 as IPv4-mapped"),
    ("http://[::ffff:a00:1]/", "private", "10.0.0.1 as IPv4-mapped"),
    ("http://[::127.0.0.1]/", "loopback", "127.0.0.1 as IPv4-compatible"),
    ("http://[::a9fe:a9fe]/", "link-local", "169.254.169.254 as IPv4-compatible"),
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
    assert f"a {reason} address" in error["fields"]["url"][0]


@pytest.mark.parametrize(("url", "reason", "carried"), REFUSED_EMBEDDED)
def test_registration_refuses_ipv6_forms_of_non_public_ipv4_addresses(
    strict_client: FlaskClient, url: str, reason: str, carried: str
) -> None:
    body = {"name": "x", "url": url, "events": ["GPU_LOST"], "secret": "s3cret-key"}
    error = assert_error(
        strict_client.post(f"{API}/webhooks", json=body, headers=ADMIN), 400, "VALIDATION_ERROR"
    )
    assert f"a {reason} address ({carried})" in error["fields"]["url"][0]


def test_ipv6_forms_of_public_ipv4_addresses_pass_but_local_use_nat64_does_not() -> None:
    guard = UrlGuard()
    for url in (
        "http://[2002:5db8:d70e::1]/",  # 6to4 of 93.184.215.14
        "http://[64:ff9b::5db8:d70e]/",  # NAT64 (DNS64 in an IPv6-only cluster)
        "http://[::ffff:93.184.215.14]/",
        "http://[2606:4700:4700::1111]/",
    ):
        assert guard.resolve(url)[1], url
    for url, reason in (
        ("http://[64:ff9b:1::5db8:d70e]/", "local-use NAT64"),
        # Teredo with public ends is still in 2001::/23 (IETF protocol assignments).
        ("http://[2001:0:5db8:d70e::a247:28f1]/", "private"),
        ("http://[::5db8:d70e]/", "reserved"),  # IPv4-compatible: deprecated
    ):
        with pytest.raises(UrlRefused, match=f"a {reason} address"):
            guard.resolve(url)
    # A resolver's answer in these forms is judged alike (at registration and at delivery).
    resolved = UrlGuard(resolver=lambda host, port: ["93.184.215.14", "2002:a9fe:a9fe::"])
    with pytest.raises(UrlRefused, match=re.escape("(169.254.169.254 as 6to4)")):
        resolved.resolve("http://hooks.example.com/")


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
    (delivery,) = client.get(
        f"{API}/webhooks/{hook['webhookId']}/deliveries", headers=ADMIN
    ).get_json()["data"]
    assert delivery["status"] == "PENDING"
    assert delivery["log"][0]["outcome"] == "RETRY"
    assert "refused" in delivery["log"][0]["error"]
    assert "link-local" in delivery["log"][0]["error"]
