"""client.users, client.api_keys and client.issue_token against a real server (docs/auth.md):
an account made, changed and given a new password, a key made for it and revoked, a token
issued for its password; every accounts operation reached, results mirroring the API."""

from __future__ import annotations

from typing import Any

import pytest

from k8s_gpu_client import (
    GpuManagementClient,
    ResourceAlreadyExistsError,
    UnauthorizedError,
)
from k8s_gpu_client.models import accounts
from tests.analytics.conftest import ADMIN_KEY, LiveServerFactory
from tests.sdk.recording import Recorder, assert_mirrors, mirrored_models, missing_operations

PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "another horse battery staple"
ACCOUNT_AREAS = ("/users", "/api-keys", "/auth/token")


def test_an_account_its_key_and_its_token(
    live_server: LiveServerFactory, recorder: Recorder, openapi: dict[str, Any]
) -> None:
    server = live_server(workers=1, jwt_secret="s" * 40)
    with GpuManagementClient(server.api, api_key=ADMIN_KEY, session=recorder.session) as admin:
        created = admin.users.create(
            username="sdk-alice", password=PASSWORD, role="operator", team="ml-platform"
        )
        assert (created.username, created.role, created.team) == (
            "sdk-alice",
            "operator",
            "ml-platform",
        )
        assert created.disabled is False and created.created_at is not None
        with pytest.raises(ResourceAlreadyExistsError):
            admin.users.create(username="sdk-alice", password=PASSWORD, role="viewer")
        assert [u.username for u in admin.users.list()] == ["sdk-alice"]
        changed = admin.users.update("sdk-alice", role="viewer", team="")
        assert changed.role == "viewer" and changed.team is None
        assert admin.users.get("sdk-alice") == changed
        admin.users.set_password("sdk-alice", NEW_PASSWORD)

        made = admin.api_keys.create(role="viewer", name="sdk-ci", username="sdk-alice")
        assert made.key and made.key_id and made.username == "sdk-alice"
        listed = admin.api_keys.list(username="sdk-alice")
        assert [k.key_id for k in listed] == [made.key_id] and listed[0].revoked_at is None

        with GpuManagementClient(server.api, api_key=made.key) as by_key:
            assert by_key.devices.list() == []
        # A session of its own: a client sets its credentials on the session it is given.
        by_password_recorder = Recorder()
        with GpuManagementClient(
            server.api,
            username="sdk-alice",
            password=NEW_PASSWORD,
            session=by_password_recorder.session,
        ) as by_password:
            token = by_password.issue_token()
        recorder.calls += by_password_recorder.calls
        assert token.role == "viewer" and token.subject == "sdk-alice"
        assert token.token_type == "Bearer" and (token.expires_in or 0) > 0
        with GpuManagementClient(server.api, token=token.access_token) as by_token:
            assert by_token.devices.list() == []

        revoked = admin.api_keys.revoke(made.key_id)
        assert revoked.key_id == made.key_id and revoked.revoked_at is not None
        with (
            GpuManagementClient(server.api, api_key=made.key) as by_key,
            pytest.raises(UnauthorizedError),
        ):
            by_key.devices.list()
        assert_mirrors([created, changed, made, *listed, token, revoked])
    assert missing_operations(recorder, openapi, ACCOUNT_AREAS) == set()


def test_accounts_models_mirror_the_openapi_schemas(openapi: dict[str, Any]) -> None:
    assert mirrored_models(accounts, openapi) == 4
