"""The service's settings: one typed object from defaults, an optional file and GPU_ANALYTICS_*."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import ipaddress
import re
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
# What answers prometheus_url: Prometheus itself (or Thanos, Mimir, Cortex: PromQL engines), or
# VictoriaMetrics (MetricsQL; single node or vmselect), whose differences the client handles.
PrometheusFlavor = Literal["prometheus", "victoriametrics"]
_CHOICES: dict[str, Any] = {
    "RateLimitStorage": RateLimitStorage,
    "MigPricing": MigPricing,
    "PrometheusFlavor": PrometheusFlavor,
}
ROLES = ("viewer", "operator", "admin")


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
    database_url: str = field(default="", repr=False)  # may carry a password
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
    # "victoriametrics": instant queries carry nocache=1, so "now" is now (VictoriaMetrics
    # otherwise evaluates queries within -search.latencyOffset, 30 s, of now at now - 30 s).
    prometheus_flavor: PrometheusFlavor = "prometheus"
    # Ask Prometheus for query statistics (samples read) and report them in response headers.
    prometheus_query_stats: bool = False
    # Inventory sync from the exporter's series: every N seconds (0: only on demand).
    sync_interval_seconds: int = 60
    # Auth: an API key with the admin role, and whether GETs may be anonymous.
    admin_api_key: Secret | None = None
    anonymous_read: bool = True
    # Accounts and tokens (docs/auth.md). The HS256 key signing the tokens POST /auth/token
    # issues: at least 32 characters, the same on every replica. Unset: derived from
    # secrets_key; neither set: POST /auth/token is refused (other credentials work).
    jwt_secret: Secret | None = None
    # The iss claim of issued tokens, and their lifetime in seconds (60 to 86400).
    jwt_issuer: str = "gpu-analytics"
    jwt_lifetime_seconds: int = 900
    # An external OIDC issuer (Kubernetes service-account tokens, Dex, Keycloak) whose tokens are
    # accepted as Bearer; empty: none. Its keys are fetched from oidc_jwks_url and kept for
    # oidc_jwks_cache_seconds; tokens must name oidc_audience in aud.
    oidc_issuer: str = ""
    oidc_jwks_url: str = ""
    oidc_audience: str = ""
    oidc_algorithms: str = "RS256,ES256"
    oidc_jwks_cache_seconds: int = 300
    # For a JWKS behind TLS with a private CA and authentication, e.g. the Kubernetes API
    # server's /openid/v1/jwks from a pod: the CA bundle, and a file holding a bearer token
    # (re-read at each fetch: the kubelet rotates projected service-account tokens).
    oidc_jwks_ca_file: Path | None = None
    oidc_jwks_token_file: Path | None = None
    # Claims naming the caller, their team (empty: none) and their groups (dots walk into
    # objects: realm_access.roles); each value of the groups claim found in oidc_role_map
    # (GROUP=ROLE,...) grants that role, the highest wins; none: oidc_default_role (empty:
    # the token is refused).
    oidc_username_claim: str = "sub"
    oidc_team_claim: str = ""
    oidc_role_claim: str = "groups"
    oidc_role_map: Mapping[str, str] = field(default_factory=dict)
    oidc_default_role: str = ""
    # Failed logins (HTTP basic with a password, POST /auth/token): beyond this many in one
    # window per user name, or per client address, logins from it answer 429 until the
    # window ends, right password or not.
    login_failures_per_user: int = 5
    login_failures_per_address: int = 20
    login_failure_window_seconds: int = 300
    # AES-256-GCM key for secrets kept at rest (webhook secrets): base64 of 32 random bytes
    # (`openssl rand -base64 32`). Unset: they are stored in plain text (logged at start).
    secrets_key: Secret | None = None
    # Rotation: the key before secrets_key. Secrets it sealed still open, and are sealed again
    # under secrets_key at start; remove it once a start has done that (the log says how many).
    secrets_key_previous: Secret | None = None
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
    # MIG on demand: a useMig allocation that no free instance fits carves an idle MIG-capable
    # GPU (no allocation, no pod) through the declarative layout path (docs/analytics.md).
    mig_on_demand: bool = True
    # Publish desired MIG layouts to the cluster for the GPU operator's mig-manager: each
    # node's mig-parted config into the ConfigMap mig_config_map (namespace/name), then its
    # nvidia.com/mig.config label. Off: nothing writes to Kubernetes (layouts stay PENDING
    # until someone applies the migConfig the API shows).
    mig_apply: bool = False
    # The Kubernetes API for mig_apply; empty: in the cluster, with the pod's service account.
    kube_api_url: str = ""
    mig_config_map: str = "gpu-operator/gpu-analytics-mig-parted-config"
    # USD per GPU-hour overriding the catalogue's default, by model id.
    price_overrides: Mapping[str, float] = field(default_factory=dict)
    # Cost (README "Cost: how the numbers are made"). On-prem amortisation: a device with a
    # purchaseCost is priced at purchaseCost / (lifetime years x 8760 h); 0: off (book prices).
    amortization_lifetime_years: float = 0.0
    # A held GPU whose mean utilisation in a step is below this (a MIG instance: memory in use
    # below this fraction) is "allocated but idle" for that step, 0-1.
    cost_idle_utilization: float = 0.05
    # Pod labels (kube_pod_labels) naming the team, user and project a pod's cost goes to when
    # no ledger allocation names them.
    cost_team_label: str = "team"
    cost_user_label: str = "user"
    cost_project_label: str = "project"
    # Budgets: projected monthly cost = the last N days' cost / N x 30.
    budget_projection_days: int = 7
    # Budgets are evaluated every N seconds by one worker of all (0: only through the API).
    budget_check_interval_seconds: int = 900
    # Forecasts (/gpu/forecast, /resources/forecast): days of hourly history they learn from,
    # and fitted forecasts kept per worker process (series x hour of the last point; 0: none).
    forecast_history_days: int = 30
    forecast_cache_entries: int = 256
    # Fit the default forecasts in each worker's background at start and after every hour, so
    # no request pays for loading statsmodels and fitting (analytics.services.forecast.warmup).
    forecast_warmup: bool = True
    # Expensive reads (cost analysis and optimisation, forecasts, long statistics) in progress at
    # once in one worker: per client (API key or address) and in all. Keep the second below the
    # threads per worker, so cheap requests always find a thread; more answer 429.
    expensive_requests_per_client: int = 2
    expensive_requests_per_worker: int = 2
    # Seconds a cost analysis or optimisation answer is reused while its window, the ledger,
    # the prices and the devices are unchanged (per worker); 0: computed at every request.
    cost_cache_seconds: float = 300.0
    # Fleet-wide live views (every pod, node and GPU reading: analytics/services/kernel/live_views.py)
    # are built once per this many seconds per worker and shared; a request after that gets the
    # kept view while one background build makes the next. 0: built at every request. Set it
    # to Prometheus' scrape interval on large fleets (the Helm chart does: 15).
    live_view_seconds: float = 0.0
    # prometheus_client multiprocess directory (gunicorn with several workers); empty: off.
    metrics_multiprocess_dir: Path | None = None
    log_level: str = "INFO"
    # Webhooks (docs/webhooks.md). The outbox dispatcher polls every N seconds (0: no dispatcher
    # in this process); one POST may take webhook_timeout_seconds; a delivery is retried with
    # exponential backoff (base doubling to max, with jitter) until it succeeds, has been tried
    # webhook_max_attempts times or is older than webhook_max_age_seconds.
    webhook_dispatch_interval_seconds: float = 1.0
    webhook_timeout_seconds: float = 5.0
    webhook_max_attempts: int = 10
    webhook_max_age_seconds: int = 86_400
    webhook_backoff_base_seconds: float = 2.0
    webhook_backoff_max_seconds: float = 600.0
    # Comma-separated CIDRs webhook URLs may resolve to although they are loopback, private,
    # link-local or otherwise non-public (refused by default), e.g. 10.0.0.0/8,127.0.0.1/32.
    webhook_allowed_cidrs: str = ""
    # Allocation events: how often expiry is swept (0: off), and how long before the planned
    # release ALLOCATION_EXPIRING is sent.
    allocation_events_interval_seconds: int = 30
    allocation_expiring_notice_hours: float = 1.0

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'analytics.db').resolve()}"

    @property
    def secrets_key_bytes(self) -> bytes | None:
        """The decoded secrets_key (validated: 32 bytes), or None when unset."""
        return _key_bytes(self.secrets_key.value) if self.secrets_key else None

    @property
    def secrets_key_previous_bytes(self) -> bytes | None:
        previous = self.secrets_key_previous
        return _key_bytes(previous.value, "secrets_key_previous") if previous else None

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
            "expensive_requests_per_client",
            "expensive_requests_per_worker",
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
        if self.webhook_dispatch_interval_seconds < 0:
            raise SettingsError("webhook_dispatch_interval_seconds must not be negative (0: off)")
        for name in ("webhook_timeout_seconds", "webhook_backoff_base_seconds"):
            if getattr(self, name) <= 0:
                raise SettingsError(f"{name} must be positive")
        if self.webhook_max_attempts < 1 or self.webhook_max_age_seconds < 1:
            raise SettingsError("webhook_max_attempts and webhook_max_age_seconds must be >= 1")
        if self.webhook_backoff_max_seconds < self.webhook_backoff_base_seconds:
            raise SettingsError(
                "webhook_backoff_max_seconds must be >= webhook_backoff_base_seconds"
            )
        for cidr in filter(None, (c.strip() for c in self.webhook_allowed_cidrs.split(","))):
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError as exc:
                raise SettingsError(f"webhook_allowed_cidrs: {exc}") from exc
        if self.allocation_events_interval_seconds < 0:
            raise SettingsError("allocation_events_interval_seconds must not be negative (0: off)")
        if self.allocation_expiring_notice_hours < 0:
            raise SettingsError("allocation_expiring_notice_hours must not be negative")
        for model_id, price in self.price_overrides.items():
            if price < 0:
                raise SettingsError(f"price_overrides: {model_id} has a negative price")
        if self.amortization_lifetime_years < 0:
            raise SettingsError("amortization_lifetime_years must not be negative (0: off)")
        if not 0 <= self.cost_idle_utilization <= 1:
            raise SettingsError("cost_idle_utilization must be between 0 and 1")
        if not 1 <= self.budget_projection_days <= 90:
            raise SettingsError("budget_projection_days must be between 1 and 90")
        if self.budget_check_interval_seconds < 0:
            raise SettingsError("budget_check_interval_seconds must not be negative (0: off)")
        if not 1 <= self.forecast_history_days <= 90:
            raise SettingsError("forecast_history_days must be between 1 and 90")
        if self.forecast_cache_entries < 0:
            raise SettingsError("forecast_cache_entries must not be negative (0: no cache)")
        if self.cost_cache_seconds < 0:
            raise SettingsError("cost_cache_seconds must not be negative (0: no cache)")
        if not 0 <= self.live_view_seconds <= 3600:
            raise SettingsError("live_view_seconds must be between 0 (off) and 3600")
        self._validate_auth()
        namespace, _, name = self.mig_config_map.partition("/")
        if not re.fullmatch(r"[a-z0-9]([a-z0-9.-]*[a-z0-9])?", name or namespace) or (
            name and not re.fullmatch(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?", namespace)
        ):
            raise SettingsError("mig_config_map must be NAMESPACE/NAME (or NAME) of a ConfigMap")
        for name in ("cost_team_label", "cost_user_label", "cost_project_label"):
            if not re.fullmatch(r"[A-Za-z0-9_.\-/]+", getattr(self, name)):
                raise SettingsError(f"{name} must be a Kubernetes label name")

    def _validate_auth(self) -> None:
        if self.jwt_secret is not None and len(self.jwt_secret.value.encode()) < 32:
            # HS256 needs a key as long as its hash: a shorter one can be brute-forced.
            raise SettingsError("jwt_secret must be at least 32 characters")
        if not 60 <= self.jwt_lifetime_seconds <= 86_400:
            raise SettingsError("jwt_lifetime_seconds must be between 60 and 86400")
        if not self.jwt_issuer:
            raise SettingsError("jwt_issuer must not be empty")
        if self.oidc_issuer and not (self.oidc_jwks_url and self.oidc_audience):
            raise SettingsError("oidc_issuer needs oidc_jwks_url and oidc_audience")
        if self.oidc_issuer and self.oidc_issuer == self.jwt_issuer:
            raise SettingsError("oidc_issuer must differ from jwt_issuer")
        for group, role in self.oidc_role_map.items():
            if role not in ROLES:
                raise SettingsError(f"oidc_role_map: {group} maps to unknown role {role!r}")
        if self.oidc_default_role not in ("", *ROLES):
            raise SettingsError(f"oidc_default_role must be empty or one of {', '.join(ROLES)}")
        allowed = {"RS256", "RS384", "RS512", "ES256", "ES384", "PS256", "PS384", "PS512"}
        algorithms = [a.strip() for a in self.oidc_algorithms.split(",") if a.strip()]
        if not algorithms or not set(algorithms) <= allowed:
            raise SettingsError(
                "oidc_algorithms must name asymmetric algorithms: " + ", ".join(sorted(allowed))
            )
        if self.oidc_jwks_cache_seconds < 1:
            raise SettingsError("oidc_jwks_cache_seconds must be positive")
        for name in (
            "login_failures_per_user",
            "login_failures_per_address",
            "login_failure_window_seconds",
        ):
            if getattr(self, name) <= 0:
                raise SettingsError(f"{name} must be positive")
        if self.secrets_key is not None:
            _key_bytes(self.secrets_key.value)
        if self.secrets_key_previous is not None:
            if self.secrets_key is None:
                raise SettingsError("secrets_key_previous needs secrets_key")
            _key_bytes(self.secrets_key_previous.value, "secrets_key_previous")


def _key_bytes(text: str, name: str = "secrets_key") -> bytes:
    """A base64 (standard or URL-safe) 32-byte key; SettingsError otherwise (never echoing it)."""
    try:
        key = base64.b64decode(text.strip().replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        raise SettingsError(f"{name} must be base64 (openssl rand -base64 32)") from None
    if len(key) != 32:
        raise SettingsError(f"{name} must decode to 32 bytes, not {len(key)}")
    return key


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
        if text_type == "Mapping[str, str]":
            return _text_map(raw)
        if text_type in _CHOICES:
            choices = get_args(_CHOICES[text_type])
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


def _text_map(raw: Any) -> dict[str, str]:
    """``{"gpu-admins": "admin"}`` from a file, or ``gpu-admins=admin,devs=viewer`` from a
    variable (a key may hold ``:`` and ``/``, as group names and subjects do)."""
    if isinstance(raw, Mapping):
        return {str(k): str(v) for k, v in raw.items()}
    pairs: dict[str, str] = {}
    for item in str(raw).split(","):
        if not item.strip():
            continue
        key, sep, value = item.rpartition("=")
        if not sep or not key.strip():
            raise ValueError(f"expected NAME=VALUE, got {item!r}")
        pairs[key.strip()] = value.strip()
    return pairs
