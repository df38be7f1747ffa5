"""Fixtures for webhook tests: an app on a real SQLite file with a movable clock, a dispatcher
driven by hand (``run_once``), and real local HTTP receivers."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from analytics import create_app
from analytics.services.events.webhooks import guard_from, policy_from
from analytics.settings import Secret, Settings
from analytics.store.db import Database
from analytics.webhooks.dispatcher import Dispatcher
from tests.analytics.conftest import ADMIN, ADMIN_KEY, API, FakeClock
from tests.webhooks.receiver import WebhookReceiver

__all__ = ["ADMIN", "API"]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path,
        admin_api_key=Secret(ADMIN_KEY),
        rate_limit_storage="memory",
        sync_interval_seconds=0,
        forecast_warmup=False,
        # No background threads: tests drive the dispatcher and the sweep themselves.
        webhook_dispatch_interval_seconds=0,
        allocation_events_interval_seconds=0,
        webhook_allowed_cidrs="127.0.0.0/8,::1/128",
        webhook_timeout_seconds=2.0,
        webhook_max_attempts=4,
        webhook_backoff_base_seconds=10.0,
        webhook_backoff_max_seconds=25.0,
    )


@pytest.fixture
def app(settings: Settings, clock: FakeClock) -> Flask:
    return create_app(settings, clock=clock)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def database(app: Flask) -> Database:
    db: Database = app.extensions["gpu_analytics.database"]
    return db


DispatcherFactory = Callable[..., Dispatcher]


@pytest.fixture
def make_dispatcher(app: Flask, settings: Settings, clock: FakeClock) -> DispatcherFactory:
    def make(**kwargs: Any) -> Dispatcher:
        return Dispatcher(
            kwargs.pop("database", None) or database(app),
            kwargs.pop("clock", clock),
            guard_from(settings),
            policy_from(settings),
            rng=random.Random(7),
            **kwargs,
        )

    return make


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as server:
        yield server


def register_webhook(
    client: FlaskClient, url: str, events: list[str] | None = None, secret: str = "s3cret-key"
) -> dict[str, Any]:
    response = client.post(
        f"{API}/webhooks",
        json={
            "name": "test",
            "url": url,
            "events": events or ["GPU_OVERHEATING"],
            "secret": secret,
        },
        headers=ADMIN,
    )
    assert response.status_code == 201, response.get_json()
    data: dict[str, Any] = response.get_json()["data"]
    return data
