"""``--web.config.file``: HTTPS, client certificates and basic auth on the real exporter.

The exporter runs its own pipeline on the simulated node's fake NVML; a real TLS client
(``requests`` over Python's ``ssl``) talks to it with certificates made here by a throwaway CA.
"""

from __future__ import annotations

import base64
import contextlib
import ipaddress
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import bcrypt
import pytest
import requests
from cryptography import x509

from exporter.config import load_settings
from exporter.main import run, serve
from exporter.pipeline import NodeExporter, start_exporter
from exporter.webconfig import BasicAuth, WebConfigError, WebConfigFile, load_web_config
from simulator.clock import ManualClock
from simulator.node import SimulatedFleet, SimulatedNode
from tests.conftest import FLEETS
from tests.pki import Key, issue, new_key, write_pem

PASSWORD = "s3cret-scrape"
# Cost 4 keeps the tests fast; the cache test below uses a realistic cost.
HASH = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()


@dataclass(frozen=True)
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    stranger_cert: Path  # a client certificate from a CA the exporter does not trust
    stranger_key: Path


def _write(directory: Path, name: str, cert: x509.Certificate, key: Key) -> tuple[Path, Path]:
    cert_path, key_path = directory / f"{name}.crt", directory / f"{name}.key"
    write_pem(cert, cert_path, key, key_path)
    return cert_path, key_path


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    directory = tmp_path_factory.mktemp("pki")
    ca_key, other_ca_key = new_key(), new_key()
    ca = issue("test CA", ca_key, None, ca=True)
    other_ca = issue("other CA", other_ca_key, None, ca=True)
    ca_path, _ = _write(directory, "ca", ca, ca_key)
    server_key = new_key()
    server = issue(
        "gpu-exporter",
        server_key,
        (ca.subject, ca_key),
        sans=[x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))],
    )
    client_key = new_key()
    client = issue(
        "prometheus",
        client_key,
        (ca.subject, ca_key),
        sans=[x509.DNSName("prometheus.monitoring.svc")],
    )
    stranger_key = new_key()
    stranger = issue(
        "stranger",
        stranger_key,
        (other_ca.subject, other_ca_key),
        sans=[x509.DNSName("prometheus.monitoring.svc")],
    )
    server_cert, server_key_path = _write(directory, "server", server, server_key)
    client_cert, client_key_path = _write(directory, "client", client, client_key)
    stranger_cert, stranger_key_path = _write(directory, "stranger", stranger, stranger_key)
    return Pki(
        ca_path,
        server_cert,
        server_key_path,
        client_cert,
        client_key_path,
        stranger_cert,
        stranger_key_path,
    )


@pytest.fixture(scope="module")
def node() -> SimulatedNode:
    probe = SimulatedFleet.from_file(FLEETS / "test-small.yaml", ManualClock(0.0))
    fleet = SimulatedFleet.from_file(
        FLEETS / "test-small.yaml", ManualClock(probe.spec.epoch_seconds + 600)
    )
    return fleet.node(fleet.nodes[0])


def _flags(node: SimulatedNode, web_config: Path) -> list[str]:
    return [
        "--node-name",
        node.name,
        "--listen",
        "127.0.0.1:0",
        "--pod-resources-socket",
        "",
        "--kubernetes",
        "false",
        "--web.config.file",
        str(web_config),
    ]


@contextlib.contextmanager
def _exporter(node: SimulatedNode, tmp_path: Path, config: str) -> Iterator[NodeExporter]:
    path = tmp_path / "web-config.yml"
    path.write_text(config)
    settings = load_settings(_flags(node, path), {})
    with contextlib.ExitStack() as stack:
        yield start_exporter(stack, settings, node.nvml, http_poll_seconds=0.05)


def _tls(pki: Pki, extra: str = "") -> str:
    return (
        "tls_server_config:\n"
        f"  cert_file: {pki.server_cert}\n"
        f"  key_file: {pki.server_key}\n" + extra
    )


def test_tls_serves_metrics_and_refuses_plain_http(
    node: SimulatedNode, pki: Pki, tmp_path: Path
) -> None:
    with _exporter(node, tmp_path, _tls(pki)) as exporter:
        url = exporter.server.url
        assert url.startswith("https://127.0.0.1:")
        response = requests.get(f"{url}/metrics", verify=str(pki.ca), timeout=10)
        assert response.status_code == 200
        assert "gpu_up{" in response.text
        plain = requests.get(url.replace("https://", "http://") + "/metrics", timeout=10)
        assert plain.status_code == 400
        assert "HTTP request to an HTTPS server" in plain.text
        assert "gpu_up" not in plain.text
        with pytest.raises(requests.exceptions.SSLError):  # the client does not trust it
            requests.get(f"{url}/metrics", timeout=10)


def test_basic_auth_over_tls(node: SimulatedNode, pki: Pki, tmp_path: Path) -> None:
    config = _tls(pki) + f"basic_auth_users:\n  prometheus: {HASH}\n"
    with _exporter(node, tmp_path, config) as exporter:
        url = exporter.server.url + "/metrics"
        ca = str(pki.ca)
        good = requests.get(url, verify=ca, auth=("prometheus", PASSWORD), timeout=10)
        assert good.status_code == 200 and "gpu_up{" in good.text
        for auth in (("prometheus", "wrong"), ("nobody", PASSWORD), None):
            refused = requests.get(url, verify=ca, auth=auth, timeout=10)
            assert refused.status_code == 401, auth
            assert refused.headers["WWW-Authenticate"].startswith("Basic ")
            assert "gpu_up" not in refused.text
        # Liveness needs no credentials (kubelet probes carry none); it still needs TLS.
        health = requests.get(exporter.server.url + "/healthz", verify=ca, timeout=10)
        assert health.status_code == 200


def test_basic_auth_without_tls_and_response_headers(node: SimulatedNode, tmp_path: Path) -> None:
    config = (
        f"basic_auth_users:\n  prometheus: {HASH}\n"
        "http_server_config:\n  headers:\n    X-Content-Type-Options: nosniff\n"
    )
    with _exporter(node, tmp_path, config) as exporter:
        url = exporter.server.url + "/metrics"
        assert url.startswith("http://")
        assert requests.get(url, timeout=10).status_code == 401
        good = requests.get(url, auth=("prometheus", PASSWORD), timeout=10)
        assert good.status_code == 200
        assert good.headers["X-Content-Type-Options"] == "nosniff"


def test_client_certificate_required(node: SimulatedNode, pki: Pki, tmp_path: Path) -> None:
    extra = f"  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: {pki.ca}\n"
    with _exporter(node, tmp_path, _tls(pki, extra)) as exporter:
        url = exporter.server.url + "/metrics"
        ca = str(pki.ca)
        good = requests.get(url, verify=ca, cert=(str(pki.client_cert), str(pki.client_key)))
        assert good.status_code == 200 and "gpu_up{" in good.text
        for cert in (None, (str(pki.stranger_cert), str(pki.stranger_key))):
            with pytest.raises(requests.exceptions.ConnectionError):  # SSLError is one too
                requests.get(url, verify=ca, cert=cert, timeout=10)


def test_client_certificate_sans(node: SimulatedNode, pki: Pki, tmp_path: Path) -> None:
    extra = (
        f"  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: {pki.ca}\n"
        "  client_allowed_sans: [grafana.monitoring.svc]\n"
    )
    client = (str(pki.client_cert), str(pki.client_key))
    with (
        _exporter(node, tmp_path, _tls(pki, extra)) as exporter,
        pytest.raises(requests.exceptions.ConnectionError),
    ):
        requests.get(exporter.server.url + "/metrics", verify=str(pki.ca), cert=client)
    allowed = extra.replace("grafana.monitoring.svc", "prometheus.monitoring.svc")
    with _exporter(node, tmp_path, _tls(pki, allowed)) as exporter:
        url = exporter.server.url + "/metrics"
        assert requests.get(url, verify=str(pki.ca), cert=client).status_code == 200


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("tls_server_config: {cert_file: /nonexistent.crt, key_file: /x.key}\n", "cert_file"),
        ("tls_server_config:\n  cert_file: {cert}\n", "needs a certificate and its key"),
        ("{tls}  client_auth_type: RequireAnyClientCert\n", "unverified certificates"),
        ("{tls}  client_auth_type: Sometimes\n", "is not one of"),
        ("{tls}  client_auth_type: RequireAndVerifyClientCert\n", "needs client_ca_file"),
        ("{tls}  client_ca_file: {ca}\n", "NoClientCert"),
        ("{tls}  min_version: TLS99\n", "min_version"),
        ("{tls}  min_version: TLS13\n  max_version: TLS12\n", "above max_version"),
        ("{tls}  cipher_suites: [TLS_FAKE]\n", "unknown cipher suite"),
        ("{tls}  curve_preferences: [X25519]\n", "curve_preferences"),
        ("basic_auth_users:\n  prometheus: plaintext\n", "not a bcrypt hash"),
        ("basic_auth_user:\n  prometheus: x\n", "unknown field(s) basic_auth_user"),
        ("http_server_config:\n  headers:\n    X-Frame-Options: always\n", "X-Frame-Options"),
        ("rate_limit: {interval: 1s, burst: 5}\n", "rate_limit"),
        ("tls_server_config: [\n", "not YAML"),
    ],
)
def test_invalid_web_configs_fail_at_startup(
    pki: Pki, tmp_path: Path, config: str, message: str
) -> None:
    text = config.replace("{tls}", _tls(pki)).replace("{cert}", str(pki.server_cert))
    path = tmp_path / "web-config.yml"
    path.write_text(text.replace("{ca}", str(pki.ca)))
    with pytest.raises(WebConfigError) as raised:
        load_web_config(path)
    assert message in str(raised.value)


def test_an_invalid_web_config_stops_the_exporter_with_one_line(
    node: SimulatedNode, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "web-config.yml"
    path.write_text("basic_auth_users:\n  prometheus: plaintext\n")
    settings = load_settings(_flags(node, path), {})
    status = serve(settings, lambda stop: run(settings, stop, nvml=node.nvml))
    assert status == 1
    assert capsys.readouterr().err.strip().endswith("not a bcrypt hash")


def test_the_flag_has_an_environment_twin(tmp_path: Path) -> None:
    settings = load_settings([], {"GPU_EXPORTER_WEB_CONFIG_FILE": str(tmp_path / "w.yml")})
    assert settings.web_config_file == tmp_path / "w.yml"
    assert load_settings([], {}).web_config_file is None


def test_a_proven_password_is_not_hashed_again() -> None:
    # Cost 12: ~0.2 s per bcrypt check; Prometheus sends the password on every scrape.
    auth = BasicAuth({"prometheus": bcrypt.hashpw(b"pw", bcrypt.gensalt(rounds=12))})
    header = "Basic " + base64.b64encode(b"prometheus:pw").decode()
    started = time.perf_counter()
    assert auth.check(header)
    first = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(20):
        assert auth.check(header)
    cached = time.perf_counter() - started
    assert cached < first / 4
    wrong = "Basic " + base64.b64encode(b"prometheus:nope").decode()
    assert not auth.check(wrong)
    assert not auth.check("Bearer token")
    assert not auth.check("Basic !!notbase64")


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_a_changed_web_config_is_read_again(
    pki: Pki, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = ManualClock(100.0)
    path = tmp_path / "web-config.yml"
    path.write_text(_tls(pki) + f"basic_auth_users:\n  prometheus: {HASH}\n")
    source = WebConfigFile(path, check_seconds=5.0, clock=clock.now)
    first = source.current()
    assert first.scheme == "https" and first.files == (pki.server_cert, pki.server_key)
    assert first.basic_auth is not None and first.basic_auth.check(_basic("prometheus", PASSWORD))

    other = bcrypt.hashpw(b"rotated", bcrypt.gensalt(rounds=4)).decode()
    path.write_text(f"basic_auth_users:\n  grafana: {other}\n")
    assert source.current() is first  # not looked at again before check_seconds
    clock.set(105.0)
    second = source.current()
    assert second.scheme == "http" and second.basic_auth is not None
    assert second.basic_auth.check(_basic("grafana", "rotated"))
    assert not second.basic_auth.check(_basic("prometheus", PASSWORD))

    path.write_text("basic_auth_users: [broken\n")  # a bad edit keeps the last good config
    clock.set(110.0)
    assert source.current() is second
    assert "does not load" in caplog.text
    clock.set(115.0)
    assert source.current() is second  # unchanged since: not read (or logged) again

    pki.server_cert.touch()  # a file the config names changes too (a renewed certificate)
    path.write_text(_tls(pki))
    clock.set(120.0)
    assert source.current().tls is not None
