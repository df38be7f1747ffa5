"""Settings: defaults, file, GPU_ANALYTICS_* variables, validation, secrets kept out of repr."""

from __future__ import annotations

from pathlib import Path

import pytest

from analytics.settings import Secret, Settings, SettingsError


def test_environment_overrides_file_and_defaults(tmp_path: Path) -> None:
    config = tmp_path / "analytics.yaml"
    config.write_text(
        "prometheus_url: http://prom:9090\nrate_limit_batch_per_minute: 7\n"
        "price_overrides: {A100_80GB: 2.5}\n"
    )
    settings = Settings.load(
        {
            "GPU_ANALYTICS_CONFIG": str(config),
            "GPU_ANALYTICS_DATABASE_URL": "sqlite:////tmp/x.db",
            "GPU_ANALYTICS_RATE_LIMIT_BATCH_PER_MINUTE": "9",
            "GPU_ANALYTICS_ANONYMOUS_READ": "false",
            "GPU_ANALYTICS_ADMIN_API_KEY": "s3cret",
            "UNRELATED": "ignored",
        }
    )
    assert settings.prometheus_url == "http://prom:9090"
    assert settings.database_url == "sqlite:////tmp/x.db"
    assert settings.rate_limit_batch_per_minute == 9
    assert settings.anonymous_read is False
    assert settings.price_overrides == {"A100_80GB": 2.5}
    assert settings.admin_api_key == Secret("s3cret")
    assert settings.rate_limit_anonymous_per_minute == 1000


def test_toml_file_and_price_list_variable(tmp_path: Path) -> None:
    config = tmp_path / "analytics.toml"
    config.write_text('mig_pricing = "max"\n')
    settings = Settings.load(
        {
            "GPU_ANALYTICS_CONFIG": str(config),
            "GPU_ANALYTICS_PRICE_OVERRIDES": "A100_80GB=2.5, H100_80GB=4",
        }
    )
    assert settings.mig_pricing == "max"
    assert settings.price_overrides == {"A100_80GB": 2.5, "H100_80GB": 4.0}


def test_secrets_never_show_in_repr() -> None:
    settings = Settings(admin_api_key=Secret("top-secret-value"))
    assert "top-secret-value" not in repr(settings)
    assert "top-secret-value" not in str(settings.admin_api_key)


@pytest.mark.parametrize(
    "environ",
    [
        {"GPU_ANALYTICS_RATE_LIMIT_STORAGE": "redis"},
        {"GPU_ANALYTICS_MAX_REQUEST_BYTES": "-1"},
        {"GPU_ANALYTICS_ANONYMOUS_READ": "maybe"},
        {"GPU_ANALYTICS_DATABASE_BUSY_TIMEOUT_MS": "soon"},
        {"GPU_ANALYTICS_PROMETHEUS_FLAVOR": "thanos"},
    ],
)
def test_bad_values_name_the_setting(environ: dict[str, str]) -> None:
    with pytest.raises(SettingsError):
        Settings.load(environ)


def test_prometheus_flavor_from_the_environment() -> None:
    assert Settings.load({}).prometheus_flavor == "prometheus"
    loaded = Settings.load({"GPU_ANALYTICS_PROMETHEUS_FLAVOR": "victoriametrics"})
    assert loaded.prometheus_flavor == "victoriametrics"


def test_unknown_setting_in_file_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "analytics.yaml"
    config.write_text("databse_url: sqlite://\n")
    with pytest.raises(SettingsError, match="databse_url"):
        Settings.load({"GPU_ANALYTICS_CONFIG": str(config)})
