"""The application factory: settings -> database -> services -> Flask app with every blueprint."""

from __future__ import annotations

import logging
import os
import weakref
from collections.abc import Mapping
from typing import Any

from flask import Flask
from sqlalchemy import text
from werkzeug.middleware.proxy_fix import ProxyFix

from analytics.api.boundary import init_request_boundary
from analytics.api.context import SERVICES_KEY
from analytics.api.errors import register_error_handlers
from analytics.api.expensive import init_expensive_gate
from analytics.api.guard import init_request_guard
from analytics.api.headers import init_security_headers
from analytics.api.json_body import OrjsonProvider
from analytics.api.openapi import api_config, make_api, swagger_assets_blueprint
from analytics.api.ops import ops_blueprint
from analytics.api.prom import init_prom
from analytics.api.ratelimit import Limits
from analytics.api.telemetry import Telemetry, budget_gauge, init_telemetry, state_sources
from analytics.clock import Clock, SystemClock
from analytics.prom import PromClient, prom_client_for
from analytics.resources.alerts_receiver.routes import blp as alerts_receiver_blp
from analytics.resources.allocations.routes import blp as allocations_blp
from analytics.resources.auth.routes import blp as auth_blp
from analytics.resources.batch.routes import blp as batch_blp
from analytics.resources.cluster.routes import blp as cluster_blp
from analytics.resources.cost.routes import blp as cost_blp
from analytics.resources.devices.routes import blp as devices_blp
from analytics.resources.forecast.routes import blp as forecast_blp
from analytics.resources.gpu.metrics import blp as metrics_blp
from analytics.resources.gpu.overview import blp as overview_blp
from analytics.resources.mig.routes import blp as mig_blp
from analytics.resources.webhooks.routes import blp as webhooks_blp
from analytics.services import Services
from analytics.services.access.apikeys import ApiKeyService
from analytics.services.access.authenticator import Authenticator
from analytics.services.access.logins import LoginThrottle
from analytics.services.access.ratelimits import RateLimiter
from analytics.services.access.tokens import OidcConfig, OidcVerifier, TokenIssuer, signing_key
from analytics.services.access.users import UserService
from analytics.services.cluster.health import ClusterHealthService
from analytics.services.cluster.service import ClusterService
from analytics.services.cost.budget_schedule import BudgetSchedule
from analytics.services.cost.budgets import BudgetService
from analytics.services.cost.service import CostService
from analytics.services.events.alertmanager import AlertReceiver
from analytics.services.events.recorder import EventRecorder
from analytics.services.events.webhooks import build_webhooks, encrypt_stored_secrets, secret_box
from analytics.services.forecast.service import ForecastCache, ForecastService
from analytics.services.forecast.warmup import ForecastWarmup
from analytics.services.gpu.metrics import GpuMetricsService
from analytics.services.inventory.devices import DeviceService
from analytics.services.inventory.mig import MigService
from analytics.services.inventory.migconfig import KubeClient, MigConfigPublisher
from analytics.services.inventory.sync import InventorySync, sync_schedule
from analytics.services.kernel.answer_cache import AnswerCache
from analytics.services.kernel.catalog import Catalogue
from analytics.services.kernel.live import LiveMetricsProvider, PrometheusLiveMetrics
from analytics.services.kernel.live_views import LiveViews
from analytics.services.kernel.partial import MetricsGate
from analytics.services.kernel.pricebook import PriceBook
from analytics.services.ledger.allocations import AllocationService
from analytics.services.ledger.expiry import expire_due
from analytics.services.ledger.reconciliation import ReconciliationService
from analytics.services.ledger.sweep import AllocationEvents
from analytics.services.state_metrics import StateMetrics
from analytics.settings import Settings
from analytics.store import catalog as catalog_store
from analytics.store import migrate
from analytics.store.db import Database
from analytics.store.ratelimits import (
    CounterStore,
    FileCounterStore,
    MemoryCounterStore,
    SqlCounterStore,
)
from gpucatalog.release import release_version

# The OpenAPI document's info.version: the release (VERSION at the checkout's root).
VERSION = release_version()


def open_database(settings: Settings) -> Database:
    if not settings.database_url:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    return Database(
        settings.effective_database_url, busy_timeout_ms=settings.database_busy_timeout_ms
    )


def prepare_database(database: Database, settings: Settings, clock: Clock) -> None:
    """Migrate to the newest schema, sync the catalogue and price book, and seal webhook
    secrets stored in plain text once a secrets key is set."""
    migrate.upgrade(database)
    now = clock.now()
    database.write(lambda conn: catalog_store.sync_catalogue(conn, settings.price_overrides, now))
    encrypt_stored_secrets(database, secret_box(settings))


def build_authenticator(
    settings: Settings, database: Database, clock: Clock, api_keys: ApiKeyService
) -> Authenticator:
    oidc = OidcConfig.from_settings(settings)
    return Authenticator(
        api_keys,
        UserService(database, clock),
        LoginThrottle(
            database,
            clock,
            settings.login_failures_per_user,
            settings.login_failures_per_address,
            settings.login_failure_window_seconds,
        ),
        TokenIssuer(
            signing_key(settings), settings.jwt_issuer, settings.jwt_lifetime_seconds, clock
        ),
        OidcVerifier(oidc, clock) if oidc is not None else None,
    )


def _counter_store(settings: Settings, database: Database) -> CounterStore:
    if settings.rate_limit_storage == "memory":
        return MemoryCounterStore()
    if settings.rate_limit_storage == "database":
        return SqlCounterStore(database)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    # A memory-mapped slot file shared by every worker on the host (mapped after the fork).
    return FileCounterStore(settings.rate_limit_file.resolve())


def create_app(
    config: Settings | Mapping[str, Any] | None = None,
    *,
    clock: Clock | None = None,
    live_metrics: LiveMetricsProvider | None = None,
    prom: PromClient | None = None,
) -> Flask:
    """Build the service. ``config``: Settings, a mapping of setting names, or None to read
    GPU_ANALYTICS_* from the environment (the gunicorn entry point ``analytics:create_app()``).
    """
    if config is None:
        settings = Settings.load(os.environ)
    elif isinstance(config, Settings):
        settings = config
    else:
        settings = Settings.from_mapping(config)
    clock = clock or SystemClock()
    logging.getLogger("analytics").setLevel(settings.log_level.upper())

    database = open_database(settings)
    if settings.migrate_on_start:
        prepare_database(database, settings, clock)
    catalogue = Catalogue(database)
    # One client per app, i.e. per gunicorn worker (create_app runs after the fork); its
    # HTTP session is opened on first use.
    prom_client = prom or prom_client_for(settings)

    live_views = LiveViews(settings.live_view_seconds)
    price_book = PriceBook(
        database, clock, settings.mig_pricing, settings.amortization_lifetime_years
    )
    # After a Prometheus failure, every partial answer leaves the metrics out for a while.
    metrics_gate = MetricsGate()
    gpu_metrics = GpuMetricsService(
        database, catalogue, clock, prom_client, price_book, live_views, metrics_gate
    )
    if live_metrics is None:
        live_metrics = PrometheusLiveMetrics(gpu_metrics.live_values, metrics_gate)
    events = EventRecorder(database, clock)
    cost = CostService(
        database,
        clock,
        prom_client,
        price_book,
        settings.cost_idle_utilization,
        {
            "team": settings.cost_team_label,
            "user": settings.cost_user_label,
            "project": settings.cost_project_label,
        },
        AnswerCache(settings.cost_cache_seconds, max_entries=64),
    )
    sweep = []
    if settings.allocation_events_interval_seconds > 0:
        sweep.append(
            AllocationEvents(
                database,
                clock,
                events,
                settings.allocation_expiring_notice_hours,
                settings.allocation_events_interval_seconds,
            )
        )
    webhooks, webhook_background = build_webhooks(settings, database, clock, events, sweep)
    api_keys = ApiKeyService(database, clock, settings.admin_api_key)
    auth = build_authenticator(settings, database, clock, api_keys)
    publisher = (
        MigConfigPublisher(
            database, clock, KubeClient(settings.kube_api_url), settings.mig_config_map
        )
        if settings.mig_apply
        else None
    )
    inventory_sync = InventorySync(
        database,
        catalogue,
        clock,
        prom_client,
        settings.sync_interval_seconds,
        republish=publisher.republish if publisher is not None else None,
    )
    mig = MigService(
        database,
        catalogue,
        clock,
        settings.mig_pricing,
        price_book,
        expire_due,
        events,
        publisher=publisher,
    )
    services = Services(
        clock=clock,
        catalogue=catalogue,
        devices=DeviceService(database, catalogue, clock, live_metrics, price_book),
        mig=mig,
        allocations=AllocationService(
            database,
            catalogue,
            clock,
            settings.mig_pricing,
            events,
            carver=mig if settings.mig_on_demand else None,
        ),
        api_keys=api_keys,
        users=auth.users,
        auth=auth,
        rate_limiter=RateLimiter(_counter_store(settings, database), clock),
        gpu_metrics=gpu_metrics,
        inventory_sync=inventory_sync,
        reconciliation=ReconciliationService(database, clock, prom_client, metrics_gate),
        events=events,
        webhooks=webhooks,
        alert_receiver=AlertReceiver(events, catalogue, prom_client),
        forecast=ForecastService(
            clock,
            prom_client,
            ForecastCache(settings.forecast_cache_entries),
            history_hours=settings.forecast_history_days * 24,
        ),
        price_book=price_book,
        cost=cost,
        budgets=BudgetService(
            database, clock, cost.scope_costs, events, settings.budget_projection_days
        ),
        live_views=live_views,
        cluster=ClusterService(prom_client, clock, live_views),
        cluster_health=ClusterHealthService(prom_client, clock, live_views),
        metrics_gate=metrics_gate,
    )

    app = Flask("analytics")
    app.json = OrjsonProvider(app)
    app.config.update(api_config(VERSION))
    app.config["MAX_CONTENT_LENGTH"] = settings.max_request_bytes
    app.extensions[SERVICES_KEY] = services
    app.extensions["gpu_analytics.database"] = database
    # create_app runs in each gunicorn worker after the fork: its threads are the worker's.
    webhook_background.start()
    weakref.finalize(app, webhook_background.stop)
    if settings.trusted_proxies:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=settings.trusted_proxies, x_proto=settings.trusted_proxies
        )

    if settings.forecast_warmup:
        warmup = ForecastWarmup(services.forecast, clock)
        warmup.start()
        weakref.finalize(app, warmup.stop)

    sync_job = sync_schedule(inventory_sync, settings.sync_interval_seconds)
    sync_job.start()
    weakref.finalize(app, sync_job.stop)

    budget_schedule = BudgetSchedule(
        database, clock, services.budgets, settings.budget_check_interval_seconds
    )
    budget_schedule.start()
    weakref.finalize(app, budget_schedule.stop)

    telemetry = Telemetry(settings.metrics_multiprocess_dir)
    for source in state_sources(StateMetrics(database, clock)):
        telemetry.state.add(source)
    telemetry.state.add(budget_gauge(services.budgets))
    init_telemetry(app, telemetry)
    limits = Limits(
        anonymous=settings.rate_limit_anonymous_per_minute,
        authenticated=settings.rate_limit_authenticated_per_minute,
        batch=settings.rate_limit_batch_per_minute,
        enabled=settings.rate_limit_enabled,
    )
    init_request_guard(app, limits, settings.anonymous_read)
    init_expensive_gate(
        app, settings.expensive_requests_per_client, settings.expensive_requests_per_worker
    )
    # After the guard: a malformed request is counted and authenticated like any other.
    init_request_boundary(app)
    init_prom(app, prom_client)
    register_error_handlers(app)
    init_security_headers(app)

    heads = migrate.head_revisions()

    def readiness() -> dict[str, Any]:
        try:
            with database.read() as conn:
                conn.execute(text("SELECT 1"))
            revisions = migrate.current_revisions(database)
        except Exception as exc:
            return {"db": {"status": "DOWN", "error": type(exc).__name__}}
        schema = {"status": "UP" if revisions == heads else "DOWN"}
        schema.update({"revision": ",".join(revisions) or "none", "expected": ",".join(heads)})
        return {"db": {"status": "UP"}, "migrations": schema}

    app.register_blueprint(ops_blueprint(readiness, telemetry))
    app.register_blueprint(swagger_assets_blueprint())
    api = make_api(app)
    for blueprint in (
        devices_blp,
        mig_blp,
        allocations_blp,
        batch_blp,
        cluster_blp,
        metrics_blp,
        overview_blp,
        webhooks_blp,
        alerts_receiver_blp,
        forecast_blp,
        cost_blp,
        auth_blp,
    ):
        api.register_blueprint(blueprint)
    return app
