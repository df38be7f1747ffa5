"""The chart's auth values (docs/auth.md) become settings the service reads: secrets from
Secrets, OIDC from values; the migration Job gets the secrets key (it seals webhook secrets)."""

from __future__ import annotations

from typing import Any

import helm_python as helm
import pytest

from analytics.settings import Settings
from tests.chart.chart import POSTGRESQL_3, containers, env_of, render, render_raw

KEY = "q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA="
AUTH: dict[str, Any] = {
    "secretsKey": {"name": "gpu-secrets", "key": "aes"},
    "secretsKeyPrevious": {"name": "gpu-secrets", "key": "aes-old"},
    "jwtSecret": {"name": "gpu-secrets", "key": "jwt"},
    "tokenLifetimeSeconds": 600,
    "loginFailures": {"perUser": 3, "perAddress": 10, "windowSeconds": 120},
    "oidc": {
        "issuer": "https://kubernetes.default.svc.cluster.local",
        "jwksUrl": "https://kubernetes.default.svc/openid/v1/jwks",
        "audience": "gpu-analytics",
        "roleClaim": "groups",
        "roleMap": {"system:serviceaccounts:ml": "operator", "gpu-admins": "admin"},
        "defaultRole": "viewer",
        "inClusterJwks": True,
    },
}
SECRETS = {
    "gpu-secrets/aes-old": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
    "gpu-secrets/aes": KEY,
    "gpu-secrets/jwt": "j" * 40,
    "gpu-admin/key": "admin-key",
}


def _resolved(container: dict[str, Any]) -> dict[str, str]:
    env: dict[str, str] = {}
    for name, item in env_of(container).items():
        if "value" in item:
            env[name] = item["value"]
        elif "secretKeyRef" in item.get("valueFrom", {}):
            ref = item["valueFrom"]["secretKeyRef"]
            env[name] = SECRETS.get(f"{ref['name']}/{ref['key']}", "x")
    return env


def test_auth_values_become_the_services_settings() -> None:
    values = {"analytics": {**POSTGRESQL_3["analytics"], "auth": AUTH}}
    rendered = render(values)
    (server,) = containers(rendered.one("Deployment", "k8s-gpu-management"))
    settings = Settings.load(_resolved(server))
    assert settings.secrets_key_bytes is not None and len(settings.secrets_key_bytes) == 32
    assert settings.secrets_key_previous_bytes == bytes(range(32))
    assert settings.jwt_secret is not None and settings.jwt_secret.value == "j" * 40
    assert settings.jwt_lifetime_seconds == 600
    assert (
        settings.login_failures_per_user,
        settings.login_failures_per_address,
        settings.login_failure_window_seconds,
    ) == (3, 10, 120)
    assert settings.oidc_issuer == "https://kubernetes.default.svc.cluster.local"
    assert settings.oidc_role_map == {
        "system:serviceaccounts:ml": "operator",
        "gpu-admins": "admin",
    }
    assert settings.oidc_default_role == "viewer"
    assert str(settings.oidc_jwks_token_file).endswith("serviceaccount/token")
    # The secrets come from Secrets, never as values in the manifest.
    env = env_of(server)
    for name in ("GPU_ANALYTICS_SECRETS_KEY", "GPU_ANALYTICS_JWT_SECRET"):
        assert "value" not in env[name] and "secretKeyRef" in env[name]["valueFrom"]
    (job,) = containers(rendered.one("Job"))
    assert "secretKeyRef" in env_of(job)["GPU_ANALYTICS_SECRETS_KEY"]["valueFrom"]


def test_defaults_set_no_secret_and_no_issuer() -> None:
    (server,) = containers(render({}).one("Deployment", "k8s-gpu-management"))
    env = env_of(server)
    assert "GPU_ANALYTICS_SECRETS_KEY" not in env and "GPU_ANALYTICS_JWT_SECRET" not in env
    assert "GPU_ANALYTICS_OIDC_ISSUER" not in env
    settings = Settings.load(_resolved(server))
    assert settings.login_failures_per_user == 5 and settings.jwt_lifetime_seconds == 900


def test_an_issuer_without_a_jwks_url_fails_the_render() -> None:
    with pytest.raises(helm.HelmRenderError, match="jwksUrl is required"):
        render_raw({"analytics": {"auth": {"oidc": {"issuer": "https://dex.example.com"}}}})
