"""Accounts (docs/auth.md): users with passwords over HTTP basic, the admin endpoints for users
and API keys, keys tied to users and revoked, failed-login limits, the gpu-analytics commands.

Against the real app on real SQLite (and PostgreSQL where marked). Errors are checked by status
and error.code only."""

from __future__ import annotations

import base64
import io
import logging
import sys
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from analytics import cli
from analytics.services.access.passwords import verify_password
from analytics.settings import Settings
from analytics.store.tables import users
from tests.analytics.conftest import ADMIN, ADMIN_KEY, API, AppFactory, FakeClock, assert_error

DEVICE = {"nodeName": "gpu-worker-1", "modelId": "A100_80GB", "deviceIndex": 0}
PASSWORD = "correct horse battery staple"


def basic(username: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def create_user(
    client: FlaskClient, username: str, role: str, password: str = PASSWORD, **extra: Any
) -> dict[str, Any]:
    body = {"username": username, "password": password, "role": role, **extra}
    response = client.post(f"{API}/users", json=body, headers=ADMIN)
    assert response.status_code == 201, response.get_json()
    data: dict[str, Any] = response.get_json()["data"]
    return data


def create_key(
    client: FlaskClient, username: str, role: str, headers: dict[str, str] = ADMIN
) -> dict[str, Any]:
    response = client.post(
        f"{API}/api-keys", json={"role": role, "username": username}, headers=headers
    )
    assert response.status_code == 201, response.get_json()
    data: dict[str, Any] = response.get_json()["data"]
    return data


def register_device(client: FlaskClient, headers: dict[str, str], index: int = 0) -> int:
    body = {**DEVICE, "deviceIndex": index}
    return client.post(f"{API}/gpu/devices", json=body, headers=headers).status_code


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def accounts(make_app: AppFactory, clock: FakeClock) -> FlaskClient:
    return make_app(clock=clock).test_client()


# -- HTTP basic with a user's password ---------------------------------------------------------


def test_basic_with_a_users_password_reads_and_writes_with_its_role(
    accounts: FlaskClient,
) -> None:
    created = create_user(accounts, "alice", "operator", team="ml-platform")
    assert created == {
        "username": "alice",
        "role": "operator",
        "team": "ml-platform",
        "disabled": False,
        "createdAt": "2026-01-05T12:00:00Z",
        "updatedAt": "2026-01-05T12:00:00Z",
    }
    assert accounts.get(f"{API}/gpu/devices", headers=basic("alice", PASSWORD)).status_code == 200
    assert register_device(accounts, basic("alice", PASSWORD)) == 201
    assert_error(
        accounts.get(f"{API}/gpu/devices", headers=basic("alice", PASSWORD + "x")),
        401,
        "UNAUTHORIZED",
    )
    # User names are exact: another case is another (unknown) name.
    assert_error(
        accounts.get(f"{API}/gpu/devices", headers=basic("Alice", PASSWORD)), 401, "UNAUTHORIZED"
    )


def test_the_password_is_stored_as_a_scrypt_hash_and_never_shown(accounts: FlaskClient) -> None:
    create_user(accounts, "bob", "viewer")
    database = accounts.application.extensions["gpu_analytics.database"]
    with database.read() as conn:
        (stored,) = conn.execute(select(users.c.password_hash)).scalars()
    assert stored.startswith("scrypt$16384$8$1$") and PASSWORD not in stored
    assert verify_password(PASSWORD, stored) and not verify_password("wrong", stored)
    for path in ("/users", "/users/bob"):
        text = accounts.get(f"{API}{path}", headers=ADMIN).get_data(as_text=True)
        assert "scrypt" not in text and "password" not in text.lower()


def test_basic_keeps_taking_api_keys(accounts: FlaskClient) -> None:
    create_user(accounts, "carol", "operator")
    key = create_key(accounts, "carol", "operator")["key"]
    # A key as the password (whatever the name), a key as the name with no password, and
    # the settings' admin key (no gak_ prefix) under a name that is no account.
    for headers in (basic("carol", key), basic(key, ""), basic("ci-bot", ADMIN_KEY)):
        assert accounts.get(f"{API}/gpu/devices", headers=headers).status_code == 200
    assert accounts.get(f"{API}/users", headers=basic("ci-bot", ADMIN_KEY)).status_code == 200


def test_users_may_change_their_own_password_with_the_current_one(
    accounts: FlaskClient,
) -> None:
    create_user(accounts, "dave", "viewer")
    create_user(accounts, "erin", "viewer")
    own = f"{API}/users/dave/password"
    new = "a new and long password"
    auth = basic("dave", PASSWORD)
    assert_error(accounts.put(own, json={"password": new}, headers=auth), 400, "VALIDATION_ERROR")
    assert_error(
        accounts.put(
            own, json={"password": new, "currentPassword": "nope-nope-nope"}, headers=auth
        ),
        401,
        "UNAUTHORIZED",
    )
    assert_error(
        accounts.put(
            f"{API}/users/erin/password",
            json={"password": new, "currentPassword": PASSWORD},
            headers=auth,
        ),
        403,
        "FORBIDDEN",
    )
    response = accounts.put(own, json={"password": new, "currentPassword": PASSWORD}, headers=auth)
    assert response.status_code == 200
    assert accounts.get(f"{API}/gpu/devices", headers=basic("dave", new)).status_code == 200
    assert_error(accounts.get(f"{API}/gpu/devices", headers=auth), 401, "UNAUTHORIZED")
    # An admin sets anyone's password without the current one (rotation).
    rotated = accounts.put(f"{API}/users/erin/password", json={"password": new}, headers=ADMIN)
    assert rotated.status_code == 200
    assert accounts.get(f"{API}/gpu/devices", headers=basic("erin", new)).status_code == 200


# -- roles -------------------------------------------------------------------------------------


def test_a_viewer_cannot_write_and_only_admins_manage_accounts(accounts: FlaskClient) -> None:
    create_user(accounts, "vera", "viewer")
    create_user(accounts, "oscar", "operator")
    viewer, operator = basic("vera", PASSWORD), basic("oscar", PASSWORD)
    assert_error(accounts.post(f"{API}/gpu/devices", json=DEVICE, headers=viewer), 403, "FORBIDDEN")
    body = {"username": "mallory", "password": PASSWORD, "role": "admin"}
    for headers in (viewer, operator):
        assert_error(accounts.get(f"{API}/users", headers=headers), 403, "FORBIDDEN")
        assert_error(accounts.post(f"{API}/users", json=body, headers=headers), 403, "FORBIDDEN")
        assert_error(accounts.get(f"{API}/api-keys", headers=headers), 403, "FORBIDDEN")
        assert_error(
            accounts.post(f"{API}/api-keys", json={"role": "viewer"}, headers=headers),
            403,
            "FORBIDDEN",
        )
        assert_error(
            accounts.patch(f"{API}/users/vera", json={"disabled": True}, headers=headers),
            403,
            "FORBIDDEN",
        )
    assert_error(accounts.get(f"{API}/users"), 401, "UNAUTHORIZED")
    assert_error(accounts.delete(f"{API}/api-keys/abcdefgh"), 401, "UNAUTHORIZED")
    # An admin user manages accounts like the settings' admin key.
    create_user(accounts, "root", "admin")
    assert (
        accounts.post(f"{API}/users", json=body, headers=basic("root", PASSWORD)).status_code == 201
    )


def test_user_admin_errors(accounts: FlaskClient) -> None:
    create_user(accounts, "frank", "viewer")
    again = {"username": "frank", "password": PASSWORD, "role": "viewer"}
    assert_error(
        accounts.post(f"{API}/users", json=again, headers=ADMIN), 409, "RESOURCE_ALREADY_EXISTS"
    )
    for bad in (
        {**again, "username": "has:colon"},
        {**again, "username": "new", "password": "short"},
        {**again, "username": "new", "role": "root"},
        {**again, "username": "new", "password": "gak_looks-like-a-key"},
        {**again, "username": "new", "team": "ml\u202eplatform"},
        {"username": "new", "role": "viewer"},
    ):
        assert_error(
            accounts.post(f"{API}/users", json=bad, headers=ADMIN), 400, "VALIDATION_ERROR"
        )
    assert_error(accounts.get(f"{API}/users/nobody", headers=ADMIN), 404, "RESOURCE_NOT_FOUND")
    assert_error(
        accounts.patch(f"{API}/users/nobody", json={"disabled": True}, headers=ADMIN),
        404,
        "RESOURCE_NOT_FOUND",
    )
    listed = accounts.get(f"{API}/users", headers=ADMIN).get_json()["data"]
    assert [user["username"] for user in listed] == ["frank"]


# -- API keys tied to users --------------------------------------------------------------------


def test_a_key_carries_at_most_its_users_role_and_follows_a_demotion(
    accounts: FlaskClient,
) -> None:
    create_user(accounts, "gina", "operator")
    assert_error(
        accounts.post(f"{API}/api-keys", json={"role": "admin", "username": "gina"}, headers=ADMIN),
        403,
        "FORBIDDEN",
    )
    assert_error(
        accounts.post(
            f"{API}/api-keys", json={"role": "viewer", "username": "ghost"}, headers=ADMIN
        ),
        404,
        "RESOURCE_NOT_FOUND",
    )
    created = create_key(accounts, "gina", "operator")
    assert created["key"].startswith("gak_") and created["username"] == "gina"
    key = {"X-API-Key": created["key"]}
    assert register_device(accounts, key) == 201
    demoted = accounts.patch(f"{API}/users/gina", json={"role": "viewer"}, headers=ADMIN)
    assert demoted.status_code == 200
    assert_error(
        accounts.post(f"{API}/gpu/devices", json={**DEVICE, "deviceIndex": 1}, headers=key),
        403,
        "FORBIDDEN",
    )
    # The key is listed with its user, never in full.
    listed = accounts.get(f"{API}/api-keys", headers=ADMIN, query_string={"username": "gina"})
    (entry,) = listed.get_json()["data"]
    assert entry["keyId"] == created["keyId"] and entry["revokedAt"] is None
    assert created["key"] not in listed.get_data(as_text=True)


def test_an_admin_user_creates_keys_for_themselves_by_default(accounts: FlaskClient) -> None:
    create_user(accounts, "hank", "admin")
    response = accounts.post(
        f"{API}/api-keys", json={"role": "operator", "name": "ci"}, headers=basic("hank", PASSWORD)
    )
    assert response.status_code == 201
    assert response.get_json()["data"]["username"] == "hank"
    # The settings' admin key is nobody: it must name the user.
    assert_error(
        accounts.post(f"{API}/api-keys", json={"role": "viewer"}, headers=ADMIN),
        400,
        "VALIDATION_ERROR",
    )


def test_a_revoked_key_is_refused(accounts: FlaskClient) -> None:
    create_user(accounts, "ivy", "operator")
    created = create_key(accounts, "ivy", "operator")
    key = {"Authorization": f"Bearer {created['key']}"}
    assert accounts.get(f"{API}/gpu/devices", headers=key).status_code == 200
    revoked = accounts.delete(f"{API}/api-keys/{created['keyId']}", headers=ADMIN)
    assert revoked.status_code == 200
    assert revoked.get_json()["data"]["revokedAt"] == "2026-01-05T12:00:00Z"
    assert_error(accounts.get(f"{API}/gpu/devices", headers=key), 401, "UNAUTHORIZED")
    assert_error(
        accounts.get(f"{API}/gpu/devices", headers=basic("ivy", created["key"])),
        401,
        "UNAUTHORIZED",
    )
    assert_error(
        accounts.delete(f"{API}/api-keys/nokey123", headers=ADMIN), 404, "RESOURCE_NOT_FOUND"
    )
    # Revoking again is harmless; the password still works.
    assert accounts.delete(f"{API}/api-keys/{created['keyId']}", headers=ADMIN).status_code == 200
    assert accounts.get(f"{API}/gpu/devices", headers=basic("ivy", PASSWORD)).status_code == 200


def test_a_disabled_users_password_and_keys_are_refused_until_enabled(
    accounts: FlaskClient,
) -> None:
    create_user(accounts, "jack", "operator")
    key = {"X-API-Key": create_key(accounts, "jack", "viewer")["key"]}
    password = basic("jack", PASSWORD)
    disabled = accounts.patch(f"{API}/users/jack", json={"disabled": True}, headers=ADMIN)
    assert disabled.status_code == 200 and disabled.get_json()["data"]["disabled"] is True
    for headers in (key, password):
        assert_error(accounts.get(f"{API}/gpu/devices", headers=headers), 401, "UNAUTHORIZED")
    assert_error(
        accounts.post(
            f"{API}/api-keys", json={"role": "viewer", "username": "jack"}, headers=ADMIN
        ),
        400,
        "INVALID_PARAMETER",
    )
    accounts.patch(f"{API}/users/jack", json={"disabled": False}, headers=ADMIN)
    for headers in (key, password):
        assert accounts.get(f"{API}/gpu/devices", headers=headers).status_code == 200


def test_writes_by_a_user_are_recorded_with_their_name(accounts: FlaskClient) -> None:
    create_user(accounts, "kate", "operator")
    assert register_device(accounts, basic("kate", PASSWORD)) == 201
    body = {"namespace": "ml", "podName": "train-0", "requiredMemoryGb": 10, "userId": "kate"}
    response = accounts.post(f"{API}/gpu/allocations", json=body, headers=basic("kate", PASSWORD))
    assert response.status_code == 201, response.get_json()
    database = accounts.application.extensions["gpu_analytics.database"]
    from analytics.store.tables import allocation_events

    with database.read() as conn:
        actors = set(conn.execute(select(allocation_events.c.actor)).scalars())
    assert actors == {"user:kate"}


# -- failed logins -----------------------------------------------------------------------------


@pytest.mark.databases
def test_failed_logins_are_limited_per_user(make_app: AppFactory, clock: FakeClock) -> None:
    client = make_app(clock=clock, login_failures_per_user=5).test_client()
    create_user(client, "liam", "viewer")
    wrong = basic("liam", "not the password")
    codes = [client.get(f"{API}/gpu/devices", headers=wrong).status_code for _ in range(5)]
    assert codes == [401] * 5
    # Locked: the right password too, for the rest of the window.
    locked = client.get(f"{API}/gpu/devices", headers=basic("liam", PASSWORD))
    error = assert_error(locked, 429, "RATE_LIMIT_EXCEEDED")
    retry = int(locked.headers["Retry-After"])
    assert 1 <= retry <= 300 and error["retryAfter"] == retry
    assert "X-RateLimit-Limit" in locked.headers
    assert_error(
        client.post(f"{API}/auth/token", headers=basic("liam", PASSWORD)),
        429,
        "RATE_LIMIT_EXCEEDED",
    )
    # Another user from the same address is not locked by liam's failures.
    create_user(client, "mia", "viewer")
    assert client.get(f"{API}/gpu/devices", headers=basic("mia", PASSWORD)).status_code == 200
    clock.advance(seconds=retry)
    assert client.get(f"{API}/gpu/devices", headers=basic("liam", PASSWORD)).status_code == 200


def test_failed_logins_are_limited_per_address(make_app: AppFactory, clock: FakeClock) -> None:
    client = make_app(clock=clock, login_failures_per_address=3).test_client()
    create_user(client, "noah", "viewer")
    for name in ("u1", "u2", "u3"):
        assert_error(
            client.get(f"{API}/gpu/devices", headers=basic(name, "guess-guess")),
            401,
            "UNAUTHORIZED",
        )
    assert_error(
        client.get(f"{API}/gpu/devices", headers=basic("noah", PASSWORD)),
        429,
        "RATE_LIMIT_EXCEEDED",
    )
    # Another address is not locked (the limit counts the client's address).
    other = client.get(
        f"{API}/gpu/devices",
        headers=basic("noah", PASSWORD),
        environ_base={"REMOTE_ADDR": "10.1.2.3"},
    )
    assert other.status_code == 200
    # API keys are not passwords: they are not locked out.
    assert client.get(f"{API}/gpu/devices", headers=ADMIN).status_code == 200


def test_a_failed_login_logs_no_credentials(
    accounts: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    create_user(accounts, "olga", "viewer")
    accounts.get(f"{API}/gpu/devices", headers=basic("olga", "secret-guess-123"))
    accounts.get(f"{API}/gpu/devices", headers=basic("olga", PASSWORD))
    assert "secret-guess-123" not in caplog.text and PASSWORD not in caplog.text


# -- the gpu-analytics commands ----------------------------------------------------------------


def run_cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], stdin: str, *argv: str
) -> tuple[int, str]:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = cli.main(list(argv))
    return code, capsys.readouterr().out


@pytest.mark.databases
def test_commands_manage_users_and_keys_on_the_configured_database(
    make_app: AppFactory,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name in [v for v in __import__("os").environ if v.startswith("GPU_ANALYTICS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("GPU_ANALYTICS_DATA_DIR", str(settings.data_dir))
    if settings.database_url:
        monkeypatch.setenv("GPU_ANALYTICS_DATABASE_URL", settings.database_url)
    code, out = run_cli(
        monkeypatch,
        capsys,
        PASSWORD + "\n",
        "create-user",
        "pat",
        "--role",
        "operator",
        "--team",
        "infra",
        "--password-stdin",
    )
    assert (code, out) == (0, "")
    code, generated = run_cli(monkeypatch, capsys, "", "create-user", "quinn", "--role", "viewer")
    generated = generated.strip()
    assert code == 0 and len(generated) >= 24
    code, key = run_cli(
        monkeypatch, capsys, "", "create-api-key", "--role", "operator", "--user", "pat"
    )
    key = key.strip()
    assert code == 0 and key.startswith("gak_")
    assert (
        run_cli(monkeypatch, capsys, "", "create-api-key", "--role", "admin", "--user", "pat")[0]
        == 2
    )
    assert run_cli(monkeypatch, capsys, "", "create-user", "pat", "--role", "viewer")[0] == 2

    client = make_app().test_client()
    assert register_device(client, basic("pat", PASSWORD)) == 201
    assert client.get(f"{API}/gpu/devices", headers=basic("quinn", generated)).status_code == 200
    assert register_device(client, {"X-API-Key": key}, index=1) == 201

    code, listing = run_cli(monkeypatch, capsys, "", "list-users")
    assert listing.splitlines() == ["pat\toperator\tinfra\tenabled", "quinn\tviewer\t-\tenabled"]
    code, rotated = run_cli(monkeypatch, capsys, "", "set-password", "quinn")
    assert code == 0 and rotated.strip() != generated
    assert_error(
        client.get(f"{API}/gpu/devices", headers=basic("quinn", generated)), 401, "UNAUTHORIZED"
    )
    assert (
        client.get(f"{API}/gpu/devices", headers=basic("quinn", rotated.strip())).status_code == 200
    )

    assert run_cli(monkeypatch, capsys, "", "disable-user", "pat")[0] == 0
    assert_error(
        client.get(f"{API}/gpu/devices", headers=basic("pat", PASSWORD)), 401, "UNAUTHORIZED"
    )
    assert_error(client.get(f"{API}/gpu/devices", headers={"X-API-Key": key}), 401, "UNAUTHORIZED")
    assert run_cli(monkeypatch, capsys, "", "enable-user", "pat")[0] == 0
    assert client.get(f"{API}/gpu/devices", headers={"X-API-Key": key}).status_code == 200

    code, keys = run_cli(monkeypatch, capsys, "", "list-api-keys", "--user", "pat")
    (line,) = keys.splitlines()
    key_id = line.split("\t")[0]
    assert key.startswith(f"gak_{key_id}_") and key not in keys and line.endswith("active")
    assert run_cli(monkeypatch, capsys, "", "revoke-api-key", key_id)[0] == 0
    assert_error(client.get(f"{API}/gpu/devices", headers={"X-API-Key": key}), 401, "UNAUTHORIZED")
    assert run_cli(monkeypatch, capsys, "", "revoke-api-key", "unknown1")[0] == 2
    assert run_cli(monkeypatch, capsys, "", "disable-user", "nobody")[0] == 2


def test_a_proven_password_is_not_hashed_again_and_nothing_else_is_kept() -> None:
    """verify_password keeps the matches it proved (basic sends the password on every
    request), and only those: a kept pair answers without hashing (here a hash nobody could
    check), a wrong password or the old password against a new hash is never kept."""
    from analytics.services.access.passwords import VerifiedPasswords, hash_password

    verified = VerifiedPasswords(size=2)
    stored = hash_password(PASSWORD)
    assert verify_password(PASSWORD, stored, verified)
    assert (PASSWORD, stored) in verified
    assert not verify_password("wrong", stored, verified)
    assert ("wrong", stored) not in verified
    rotated = hash_password(PASSWORD + "!")
    assert not verify_password(PASSWORD, rotated, verified)
    assert (PASSWORD, rotated) not in verified
    # What is kept is answered from the cache: the same pair with a hash in no known format.
    verified.add(PASSWORD, "not-a-hash")
    assert verify_password(PASSWORD, "not-a-hash", verified)
    assert not verify_password(PASSWORD, "not-a-hash", VerifiedPasswords())
    # Bounded: the least recently proven pair goes first.
    assert verify_password(PASSWORD + "!", rotated, verified)
    assert (PASSWORD, stored) not in verified
    assert (PASSWORD, "not-a-hash") in verified
