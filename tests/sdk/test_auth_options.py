"""The SDK's credentials against a real server: a user's password (HTTP basic), a token from
POST /auth/token, and the API key as before."""

from __future__ import annotations

import pytest
import requests

from k8s_gpu_client import ForbiddenError, GpuManagementClient, UnauthorizedError
from tests.analytics.conftest import ADMIN, ADMIN_KEY, LiveServerFactory

PASSWORD = "correct horse battery staple"


def test_password_token_and_key_credentials(live_server: LiveServerFactory) -> None:
    server = live_server(workers=1, jwt_secret="s" * 40)
    created = requests.post(
        f"{server.api}/users",
        json={"username": "sdk-user", "password": PASSWORD, "role": "viewer"},
        headers=ADMIN,
        timeout=10,
    )
    assert created.status_code == 201
    with GpuManagementClient(server.api, username="sdk-user", password=PASSWORD) as client:
        assert client.devices.list() == []
        issued = client.issue_token()
        assert issued.role == "viewer"
    with GpuManagementClient(server.api, token=issued.access_token) as client:
        assert client.devices.list() == []
        with pytest.raises(ForbiddenError):
            client.webhooks.list()
    with GpuManagementClient(server.api, api_key=ADMIN_KEY) as client:
        assert client.webhooks.list() == []
    with (
        GpuManagementClient(server.api, username="sdk-user", password="wrong password") as client,
        pytest.raises(UnauthorizedError),
    ):
        client.devices.list()
    from_env = GpuManagementClient.from_env(
        {"GPUCTL_BASE_URL": server.api, "GPUCTL_TOKEN": issued.access_token}
    )
    with from_env:
        assert from_env.devices.list() == []
    with pytest.raises(ValueError):
        GpuManagementClient(server.api, api_key=ADMIN_KEY, token=issued.access_token)
