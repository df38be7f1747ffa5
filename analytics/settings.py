"""The service's settings: one typed object from defaults, an optional file and GPU_ANALYTICS_*."""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, get_args

import yaml

ENV_PREFIX = "GPU_ANALYTICS_"
CONFIG_FILE_VARIABLE = ENV_PREFIX + "CONFIG"

RateLimitStorage = Literal["file", "database", "memory"]
MigPricing = Literal["compute", "memory", "max"]


class SettingsError(ValueError):
    """A setting that cannot be read; the message names the setting and its source."""


@dataclass(frozen=True)
class Secret:
    """A secret string that never shows itself in repr, str or logs."""

    value: str = field(repr=False)

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__


@dataclass(frozen=True)
class Settings:
    """Every knob of the analytics service; docs/analytics.md lists each with its variable."""

    # Where state lives. Empty database_url means SQLite at <data_dir>/analytics.db.
    data_dir: Path = Path("data")
    database_url: str = ""
    # SQLite: how long a writer waits for the lock before SQLITE_BUSY, milliseconds.
    database_busy_timeout_ms: int = 5000
    migrate_on_start: bool = True
    # Prometheus (or a compatible API) that metric-backed endpoints query (issue 4).
    prometheus_url: str = "http://localhost:9090"
    # Upper bound of one Prometheus request, all retries included; beyond it the endpoint
    # answers 503 METRICS_UNAVAILABLE.
    prometheus_timeout_seconds: float = 5.0
    # Auth for a protected Prometheus-compatible server (at most one of token and basic auth).
    prometheus_bearer_token: Secret | None = None
    prometheus_basic_auth_user: str = ""
    prometheus_basic_auth_password: Secret | None = None
    # Tenant for Mimir/Cortex (sent as X-Scope-OrgID); empty: none.
    prometheus_org_id: str = ""
    # Ask Prometheus for query statistics (samples read) and report them in response headers.
    prometheus_query_stats: bool = False
    # Inventory sync from the exporter's series: every N seconds (0: only on demand).
    sync_interval_seconds: int = 60
    # Auth: an API key with the admin role, and whether GETs may be anonymous.
    admin_api_key: Secret | None = None
    anonymous_read: bool = True
    # Rate limits, requests per minute per client (API key or, anonymous, client address).
    rate_limit_enabled: bool = True
    rate_limit_anonymous_per_minute: int = 1000
    rate_limit_authenticated_per_minute: int = 5000
    rate_limit_batch_per_minute: int = 100
    rate_limit_storage: RateLimitStorage = "file"
    # Reverse proxies in front of the service whose X-Forwarded-For is trusted (0: none).
    trusted_proxies: int = 0
    # Largest request body accepted, bytes (413 beyond).
    max_request_bytes: int = 1_048_576
    # How a MIG instance is priced from its GPU's price: compute share C/7, memory share M/8,
    # or the larger of the two.
    mig_pricing: MigPricing = "compute"
    # USD per GPU-hour overriding the catalogue's default, by model id.
    price_overrides: Mapping[str, float] = field(default_factory=dict)
    # prometheus_client multiprocess directory (gunicorn with several workers); empty: off.
    metrics_multiprocess_dir: Path | None = None
    log_level: str = "INFO"

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'analytics.db').resolve()}"

    @property
    def rate_limit_file(self) -> Path:
        """The shared, memory-mapped counter file of the ``file`` rate-limit storage."""
        return self.data_dir / "ratelimit.counters"

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], source: str = "settings") -> Settings:
        """Settings from ``{field_name: value}``; values may be strings (as from the environment)."""
        known = {f.name: f for f in fields(cls)}
        kwargs: dict[str, Any] = {}
        for name, raw in values.items():
            if name not in known:
                raise SettingsError(f"{source}: unknown setting {name!r}")
            kwargs[name] = _convert(name, known[name].type, raw, source)
        settings = cls(**kwargs)
        settings.validate()
        return settings

    @classmethod
    def load(cls, environ: Mapping[str, str]) -> Settings:
        """Defaults, then the file named by GPU_ANALYTICS_CONFIG, then GPU_ANALYTICS_* variables."""
        values: dict[str, Any] = {}
        config_file = environ.get(CONFIG_FILE_VARIABLE)
        if config_file:
            values.update(_read_file(Path(config_file)))
        for name in (f.name for f in fields(cls)):
            variable = ENV_PREFIX + name.upper()
            if variable in environ:
                values[name] = environ[variable]
        if "metrics_multiprocess_dir" not in values and environ.get("PROMETHEUS_MULTIPROC_DIR"):
            values["metrics_multiprocess_dir"] = environ["PROMETHEUS_MULTIPROC_DIR"]
        return cls.from_mapping(values, source="configuration")

    def validate(self) -> None:
        positive = (
            "database_busy_timeout_ms",
            "rate_limit_anonymous_per_minute",
            "rate_limit_authenticated_per_minute",
            "rate_limit_batch_per_minute",
            "max_request_bytes",
        )
        for name in positive:
            if getattr(self, name) <= 0:
                raise SettingsError(f"{name} must be positive")
        if self.prometheus_timeout_seconds <= 0:
            raise SettingsError("prometheus_timeout_seconds must be positive")
        if self.sync_interval_seconds < 0:
            raise SettingsError("sync_interval_seconds must not be negative (0: off)")
        if self.prometheus_bearer_token and self.prometheus_basic_auth_user:
            raise SettingsError(
                "prometheus_bearer_token and prometheus_basic_auth_user are exclusive"
            )
        if self.trusted_proxies < 0:
            raise SettingsError("trusted_proxies must not be negative")
        for model_id, price in self.price_overrides.items():
            if price < 0:
                raise SettingsError(f"price_overrides: {model_id} has a negative price")


def _read_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text()
    except OSError as exc:
        raise SettingsError(f"{CONFIG_FILE_VARIABLE}: cannot read {path}: {exc}") from exc
    try:
        data = tomllib.loads(text) if path.suffix == ".toml" else yaml.safe_load(text)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise SettingsError(
            f"{path}: not valid {path.suffix.lstrip('.') or 'YAML'}: {exc}"
        ) from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SettingsError(f"{path}: expected a mapping of settings")
    return {str(k).replace("-", "_"): v for k, v in data.items()}


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _convert(name: str, annotation: Any, raw: Any, source: str) -> Any:
    text_type = str(annotation)
    try:
        if text_type == "bool":
            if isinstance(raw, bool):
                return raw
            lowered = str(raw).strip().lower()
            if lowered in _TRUE | _FALSE:
                return lowered in _TRUE
            raise ValueError(f"expected true or false, got {raw!r}")
        if text_type == "int":
            if isinstance(raw, bool):
                raise ValueError("expected an integer")
            return int(raw)
        if text_type == "float":
            if isinstance(raw, bool):
                raise ValueError("expected a number")
            return float(raw)
        if text_type == "Path":
            return Path(str(raw))
        if text_type == "Path | None":
            return Path(str(raw)) if raw not in (None, "") else None
        if text_type == "Secret | None":
            if isinstance(raw, Secret):
                return raw
            return Secret(str(raw)) if raw not in (None, "") else None
        if text_type == "Mapping[str, float]":
            return _price_map(raw)
        if text_type in ("RateLimitStorage", "MigPricing"):
            choices = get_args(RateLimitStorage if text_type == "RateLimitStorage" else MigPricing)
            if raw not in choices:
                raise ValueError(f"expected one of {', '.join(choices)}, got {raw!r}")
            return raw
        return str(raw)
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"{source}: {name}: {exc}") from exc


def _price_map(raw: Any) -> dict[str, float]:
    """``{"A100_80GB": 2.5}`` from a file, or ``A100_80GB=2.5,H100_80GB=4`` from a variable."""
    if isinstance(raw, Mapping):
        return {str(k): float(v) for k, v in raw.items()}
    prices: dict[str, float] = {}
    for item in str(raw).split(","):
        if not item.strip():
            continue
        model_id, sep, price = item.partition("=")
        if not sep:
            raise ValueError(f"expected MODEL=PRICE, got {item!r}")
        prices[model_id.strip()] = float(price)
    return prices
