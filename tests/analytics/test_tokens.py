"""Bearer tokens (docs/auth.md): the service's own, from POST /auth/token, and those of an
external OIDC issuer whose JWKS a real local HTTP server serves; expiry, foreign keys and
issuers, claims mapped to roles; and token issue and login limits across gunicorn workers."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from flask import Flask
from flask.testing import FlaskClient
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from analytics.settings import Secret
from tests.analytics.conftest import (
    ADMIN,
    API,
    AppFactory,
    FakeClock,
    LiveServerFactory,
    assert_error,
)
from tests.analytics.test_accounts import PASSWORD, basic, create_key, create_user

JWT_SECRET = "0123456789abcdef0123456789abcdef-test"
ISSUER = "https://dex.example.test"
AUDIENCE = "gpu-analytics"
DEVICE = {"nodeName": "gpu-worker-1", "modelId": "A100_80GB", "deviceIndex": 0}


class Jwks:
    """A real HTTP server on loopback serving a JWKS document (the issuer's public keys)."""

    def __init__(self) -> None:
        self.keys: list[dict[str, Any]] = []
        self.fetches = 0
        # When set, a fetch must carry "Authorization: Bearer <this>" (the Kubernetes API
        # server's JWKS wants a service-account token).
        self.required_token: str | None = None
        jwks = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                jwks.fetches += 1
                wanted = jwks.required_token
                if wanted and self.headers.get("Authorization") != f"Bearer {wanted}":
                    self.send_response(401)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = json.dumps({"keys": jwks.keys}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/keys"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def publish(self, kid: str, private_key: Any) -> None:
        public = private_key.public_key()
        algorithm = RSAAlgorithm if isinstance(public, rsa.RSAPublicKey) else ECAlgorithm
        jwk = algorithm.to_jwk(public, as_dict=True)
        self.keys.append({**jwk, "kid": kid, "use": "sig"})


@pytest.fixture
def jwks() -> Iterator[Jwks]:
    server = Jwks()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def app(make_app: AppFactory, clock: FakeClock, jwks: Jwks, rsa_key: rsa.RSAPrivateKey) -> Flask:
    jwks.publish("k1", rsa_key)
    return make_app(
        clock=clock,
        jwt_secret=Secret(JWT_SECRET),
        oidc_issuer=ISSUER,
        oidc_jwks_url=jwks.url,
        oidc_audience=AUDIENCE,
        oidc_role_map={"gpu-admins": "admin", "ml-engineers": "operator", "viewers": "viewer"},
        oidc_team_claim="team",
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def issue(client: FlaskClient, headers: dict[str, str]) -> dict[str, Any]:
    response = client.post(f"{API}/auth/token", headers=headers)
    assert response.status_code == 200, response.get_json()
    data: dict[str, Any] = response.get_json()["data"]
    return data


def oidc_token(
    clock: FakeClock, key: Any, kid: str = "k1", algorithm: str = "RS256", **claims: Any
) -> str:
    now = int(clock.now().timestamp())
    body = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "system:serviceaccount:ml:trainer",
        "groups": ["ml-engineers"],
        "iat": now,
        "exp": now + 600,
        **claims,
    }
    return jwt.encode(
        {k: v for k, v in body.items() if v is not None}, key, algorithm, headers={"kid": kid}
    )


# -- the service's own tokens ------------------------------------------------------------------


def test_a_token_for_a_password_is_accepted_until_it_expires(
    client: FlaskClient, clock: FakeClock
) -> None:
    create_user(client, "alice", "operator", team="ml-platform")
    issued = issue(client, basic("alice", PASSWORD))
    assert issued["tokenType"] == "Bearer" and issued["expiresIn"] == 900
    assert issued["expiresAt"] == "2026-01-05T12:15:00Z"
    assert (issued["role"], issued["subject"]) == ("operator", "alice")
    claims = jwt.decode(
        issued["accessToken"], JWT_SECRET, algorithms=["HS256"], options={"verify_exp": False}
    )
    assert {k: claims[k] for k in ("sub", "role", "team", "iss")} == {
        "sub": "alice",
        "role": "operator",
        "team": "ml-platform",
        "iss": "gpu-analytics",
    }
    assert claims["exp"] - claims["iat"] == 900
    token = bearer(issued["accessToken"])
    assert client.post(f"{API}/gpu/devices", json=DEVICE, headers=token).status_code == 201
    clock.advance(seconds=899)
    assert client.get(f"{API}/gpu/devices", headers=token).status_code == 200
    clock.advance(seconds=2)
    assert_error(client.get(f"{API}/gpu/devices", headers=token), 401, "UNAUTHORIZED")


def test_a_token_for_a_key_ends_with_the_key_and_a_users_with_the_user(
    client: FlaskClient,
) -> None:
    create_user(client, "bob", "operator")
    created = create_key(client, "bob", "viewer")
    from_key = issue(client, {"X-API-Key": created["key"]})
    assert from_key["role"] == "viewer"
    key_token = bearer(from_key["accessToken"])
    user_token = bearer(issue(client, basic("bob", PASSWORD))["accessToken"])
    assert_error(
        client.post(f"{API}/gpu/devices", json=DEVICE, headers=key_token), 403, "FORBIDDEN"
    )
    assert client.get(f"{API}/gpu/devices", headers=key_token).status_code == 200
    client.delete(f"{API}/api-keys/{created['keyId']}", headers=ADMIN)
    assert_error(client.get(f"{API}/gpu/devices", headers=key_token), 401, "UNAUTHORIZED")
    assert client.get(f"{API}/gpu/devices", headers=user_token).status_code == 200
    client.patch(f"{API}/users/bob", json={"disabled": True}, headers=ADMIN)
    assert_error(client.get(f"{API}/gpu/devices", headers=user_token), 401, "UNAUTHORIZED")


def test_forged_and_foreign_tokens_are_401(client: FlaskClient, clock: FakeClock) -> None:
    create_user(client, "carol", "viewer")
    now = int(clock.now().timestamp())
    claims = {"iss": "gpu-analytics", "sub": "carol", "role": "admin", "iat": now, "exp": now + 60}
    forged = [
        jwt.encode(claims, "another-secret-that-is-long-enough-too", algorithm="HS256"),
        jwt.encode(claims, None, algorithm="none"),
        jwt.encode({**claims, "iss": "https://elsewhere.test"}, JWT_SECRET, algorithm="HS256"),
        jwt.encode({k: v for k, v in claims.items() if k != "exp"}, JWT_SECRET, "HS256"),
        "eyJhbGciOiJIUzI1NiJ9.not-a-token.at-all",
    ]
    for token in forged:
        assert_error(client.get(f"{API}/gpu/devices", headers=bearer(token)), 401, "UNAUTHORIZED")
    # Tampered: a viewer's token with its role changed to admin.
    genuine = issue(client, basic("carol", PASSWORD))["accessToken"]
    header, payload, signature = genuine.split(".")
    body = json.loads(jwt.utils.base64url_decode(payload))
    body["role"] = "admin"
    tampered = jwt.utils.base64url_encode(json.dumps(body).encode()).decode()
    assert_error(
        client.get(f"{API}/users", headers=bearer(f"{header}.{tampered}.{signature}")),
        401,
        "UNAUTHORIZED",
    )
    # A token is not exchanged for another one.
    assert_error(client.post(f"{API}/auth/token", headers=bearer(genuine)), 403, "FORBIDDEN")
    assert_error(client.post(f"{API}/auth/token"), 401, "UNAUTHORIZED")


def test_token_issue_needs_a_configured_key(make_app: AppFactory) -> None:
    client = make_app().test_client()
    assert_error(client.post(f"{API}/auth/token", headers=ADMIN), 404, "RESOURCE_NOT_FOUND")
    # Derived from the secrets key when no jwt_secret is set: the same on every replica.
    derived = make_app(secrets_key=Secret("A" * 43 + "=")).test_client()
    token = bearer(issue(derived, ADMIN)["accessToken"])
    assert derived.get(f"{API}/users", headers=token).status_code == 200
    assert_error(
        make_app(secrets_key=Secret("B" * 43 + "="))
        .test_client()
        .get(f"{API}/users", headers=token),
        401,
        "UNAUTHORIZED",
    )


# -- an external OIDC issuer -------------------------------------------------------------------


def test_an_oidc_token_is_accepted_with_the_mapped_role(
    client: FlaskClient, clock: FakeClock, rsa_key: rsa.RSAPrivateKey, jwks: Jwks
) -> None:
    operator = bearer(oidc_token(clock, rsa_key, team="ml"))
    assert client.post(f"{API}/gpu/devices", json=DEVICE, headers=operator).status_code == 201
    assert_error(client.get(f"{API}/users", headers=operator), 403, "FORBIDDEN")
    # The highest mapped role of the groups wins.
    admin = bearer(oidc_token(clock, rsa_key, groups=["viewers", "gpu-admins", "other"]))
    assert client.get(f"{API}/users", headers=admin).status_code == 200
    # An external subject is no local account, even under a local account's name: it names
    # the user a key is for, and cannot set that user's password as its own.
    create_user(client, "mallory", "viewer")
    namesake = bearer(oidc_token(clock, rsa_key, sub="mallory", groups=["gpu-admins"]))
    assert_error(
        client.post(f"{API}/api-keys", json={"role": "viewer"}, headers=namesake),
        400,
        "VALIDATION_ERROR",
    )
    viewer_namesake = bearer(oidc_token(clock, rsa_key, sub="mallory", groups=["viewers"]))
    assert_error(
        client.put(
            f"{API}/users/mallory/password",
            json={"password": "x" * 16, "currentPassword": PASSWORD},
            headers=viewer_namesake,
        ),
        403,
        "FORBIDDEN",
    )
    viewer = bearer(oidc_token(clock, rsa_key, groups="viewers"))
    assert client.get(f"{API}/gpu/devices", headers=viewer).status_code == 200
    body = {**DEVICE, "deviceIndex": 1}
    assert_error(client.post(f"{API}/gpu/devices", json=body, headers=viewer), 403, "FORBIDDEN")
    # No mapped group and no default role: refused.
    unmapped = bearer(oidc_token(clock, rsa_key, groups=["someone-else"]))
    assert_error(client.get(f"{API}/gpu/devices", headers=unmapped), 401, "UNAUTHORIZED")
    # The keys were fetched once and kept.
    assert jwks.fetches == 1


def test_expired_foreign_or_misaddressed_oidc_tokens_are_401(
    client: FlaskClient, clock: FakeClock, rsa_key: rsa.RSAPrivateKey
) -> None:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    now = int(clock.now().timestamp())
    refused = [
        oidc_token(clock, rsa_key, exp=now - 60),  # expired (beyond the 30 s leeway)
        oidc_token(clock, stranger),  # a foreign key under the issuer's kid
        oidc_token(clock, stranger, kid="k9"),  # a key the JWKS does not hold
        oidc_token(clock, rsa_key, aud="another-service"),
        oidc_token(clock, rsa_key, aud=None),
        oidc_token(clock, rsa_key, iss="https://evil.example.test"),
        oidc_token(clock, rsa_key, sub=None),
    ]
    for token in refused:
        assert_error(client.get(f"{API}/gpu/devices", headers=bearer(token)), 401, "UNAUTHORIZED")
    # Algorithm confusion: HS256 with the issuer's public key as the secret.
    confused = jwt.encode(
        {"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "groups": ["gpu-admins"], "exp": now + 60},
        "x" * 40,  # replaced below
        "HS256",
        headers={"kid": "k1"},
    )
    header, payload, _ = confused.split(".")
    signature = hmac.new(public_pem, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    forged = f"{header}.{payload}.{jwt.utils.base64url_encode(signature).decode()}"
    assert_error(client.get(f"{API}/users", headers=bearer(forged)), 401, "UNAUTHORIZED")
    # Within the leeway a token just past exp still passes (clocks drift).
    late = oidc_token(clock, rsa_key, exp=now - 10)
    assert client.get(f"{API}/gpu/devices", headers=bearer(late)).status_code == 200


def test_es256_keys_nested_role_claims_and_a_default_role(
    make_app: AppFactory, clock: FakeClock, jwks: Jwks
) -> None:
    ec_key = ec.generate_private_key(ec.SECP256R1())
    jwks.publish("ec1", ec_key)
    client = make_app(
        clock=clock,
        oidc_issuer=ISSUER,
        oidc_jwks_url=jwks.url,
        oidc_audience=AUDIENCE,
        oidc_role_claim="realm_access.roles",
        oidc_username_claim="preferred_username",
        oidc_role_map={"gpu-operator": "operator"},
        oidc_default_role="viewer",
    ).test_client()
    keycloak = oidc_token(
        clock,
        ec_key,
        kid="ec1",
        algorithm="ES256",
        preferred_username="dana",
        realm_access={"roles": ["gpu-operator"]},
    )
    assert (
        client.post(f"{API}/gpu/devices", json=DEVICE, headers=bearer(keycloak)).status_code == 201
    )
    plain = oidc_token(clock, ec_key, kid="ec1", algorithm="ES256", preferred_username="eve")
    assert client.get(f"{API}/gpu/devices", headers=bearer(plain)).status_code == 200
    assert_error(
        client.post(f"{API}/gpu/devices", json={**DEVICE, "deviceIndex": 1}, headers=bearer(plain)),
        403,
        "FORBIDDEN",
    )


def test_oidc_tokens_are_refused_when_the_jwks_cannot_be_fetched(
    make_app: AppFactory, clock: FakeClock, rsa_key: rsa.RSAPrivateKey
) -> None:
    from tests.conftest import free_port

    client = make_app(
        clock=clock,
        oidc_issuer=ISSUER,
        oidc_jwks_url=f"http://127.0.0.1:{free_port()}/keys",
        oidc_audience=AUDIENCE,
        oidc_default_role="viewer",
    ).test_client()
    token = bearer(oidc_token(clock, rsa_key))
    assert_error(client.get(f"{API}/gpu/devices", headers=token), 401, "UNAUTHORIZED")


def test_the_jwks_is_fetched_with_the_token_of_a_file_when_configured(
    make_app: AppFactory,
    clock: FakeClock,
    jwks: Jwks,
    rsa_key: rsa.RSAPrivateKey,
    tmp_path: Path,
) -> None:
    jwks.publish("k1", rsa_key)
    jwks.required_token = "projected-sa-token"
    token_file = tmp_path / "token"
    oidc = {
        "oidc_issuer": ISSUER,
        "oidc_jwks_url": jwks.url,
        "oidc_audience": AUDIENCE,
        "oidc_default_role": "viewer",
    }
    token = bearer(oidc_token(clock, rsa_key))
    without = make_app(clock=clock, **oidc).test_client()
    assert_error(without.get(f"{API}/gpu/devices", headers=token), 401, "UNAUTHORIZED")
    token_file.write_text("projected-sa-token\n")
    with_file = make_app(clock=clock, oidc_jwks_token_file=token_file, **oidc).test_client()
    assert with_file.get(f"{API}/gpu/devices", headers=token).status_code == 200


# -- several workers ---------------------------------------------------------------------------


def test_tokens_and_login_limits_hold_across_gunicorn_workers(
    live_server: LiveServerFactory,
) -> None:
    server = live_server(
        workers=2,
        jwt_secret=JWT_SECRET,
        jwt_lifetime_seconds="60",
        login_failures_per_user="3",
        rate_limit_storage="database",
    )
    session = requests.Session()
    created = session.post(
        f"{server.api}/users",
        json={"username": "frank", "password": PASSWORD, "role": "operator"},
        headers=ADMIN,
        timeout=10,
    )
    assert created.status_code == 201
    token = session.post(f"{server.api}/auth/token", auth=("frank", PASSWORD), timeout=10)
    assert token.status_code == 200
    headers = bearer(token.json()["data"]["accessToken"])
    # Each request may land on either worker: all accept the token.
    for _ in range(6):
        fresh = requests.get(f"{server.api}/gpu/devices", headers=headers, timeout=10)
        assert fresh.status_code == 200
    codes = [
        requests.get(
            f"{server.api}/gpu/devices", auth=("frank", "wrong-wrong"), timeout=10
        ).status_code
        for _ in range(3)
    ]
    assert codes == [401] * 3
    locked = requests.get(f"{server.api}/gpu/devices", auth=("frank", PASSWORD), timeout=10)
    assert locked.status_code == 429
    assert locked.json()["error"]["code"] == "RATE_LIMIT_EXCEEDED"
    assert int(locked.headers["Retry-After"]) >= 1
    logs = server.read_logs()
    assert PASSWORD not in logs and "wrong-wrong" not in logs and JWT_SECRET not in logs
