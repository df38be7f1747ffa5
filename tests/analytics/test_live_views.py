"""Fleet-wide live views (analytics/services/kernel/live_views.py): kept for an interval, refreshed in
the background while the kept one serves, built once when several requests want it at once; and
the service's lists answered from them against a real Prometheus."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from analytics import create_app
from analytics.services.gpu import metrics as gpu_metrics
from analytics.services.kernel.live_views import LiveViews
from analytics.settings import Settings, SettingsError
from devstack.stack import Stack
from tests.analytics.conftest import ADMIN, ADMIN_KEY
from tests.stack_fixtures import history_stack

__all__ = ["history_stack"]  # the fixture, imported for pytest


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Builds:
    """A build function counting its calls, answering 1, 2, 3, ..."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> int:
        self.calls += 1
        return self.calls


def later() -> tuple[list[Callable[[], None]], Callable[[Callable[[], None]], None]]:
    """A ``start`` that keeps background work until the test runs it."""
    pending: list[Callable[[], None]] = []
    return pending, pending.append


def test_off_builds_at_every_request() -> None:
    views = LiveViews(0)
    build = Builds()
    assert [views.get("k", build).value for _ in range(3)] == [1, 2, 3]
    assert views.get("k", build).age_s == 0.0


def test_a_view_is_kept_then_refreshed_in_the_background_while_it_serves() -> None:
    clock = Clock()
    pending, start = later()
    views = LiveViews(15, max_age_s=60, monotonic=clock, start=start)
    build = Builds()

    assert views.get("pods", build).value == 1
    clock.now = 14.0
    kept = views.get("pods", build)
    assert (kept.value, kept.age_s, build.calls, pending) == (1, 14.0, 1, [])

    # Stale: the kept view still answers, and one background build is started, not one per
    # request.
    clock.now = 20.0
    assert views.get("pods", build).value == 1
    assert views.get("pods", build).value == 1
    assert len(pending) == 1 and views.refreshes == 1 and build.calls == 1
    pending.pop()()
    assert build.calls == 2
    kept = views.get("pods", build)
    assert (kept.value, kept.age_s) == (2, 0.0)
    # Other keys are other views.
    assert views.get(("usage", 1), build).value == 3


def test_a_view_older_than_max_age_is_rebuilt_by_the_request() -> None:
    clock = Clock()
    pending, start = later()
    views = LiveViews(15, max_age_s=60, monotonic=clock, start=start)
    build = Builds()
    views.get("k", build)
    clock.now = 61.0
    kept = views.get("k", build)
    assert (kept.value, kept.age_s, pending) == (2, 0.0, [])


def test_a_failed_refresh_keeps_the_view_until_max_age_then_the_error_shows() -> None:
    clock = Clock()
    pending, start = later()
    views = LiveViews(15, max_age_s=60, monotonic=clock, start=start)
    views.get("k", lambda: 1)

    def failing() -> int:
        raise RuntimeError("prometheus is down")

    clock.now = 30.0
    assert views.get("k", failing).value == 1
    pending.pop()()  # logged, not raised
    assert views.get("k", failing).value == 1
    assert len(pending) == 1  # a later request tries again
    clock.now = 61.0
    with pytest.raises(RuntimeError, match="down"):
        views.get("k", failing)


def test_concurrent_requests_for_a_missing_view_share_one_build() -> None:
    views = LiveViews(15)
    started, release = threading.Event(), threading.Event()
    calls: list[int] = []

    def slow() -> int:
        calls.append(1)
        started.set()
        release.wait(10)
        return 7

    with ThreadPoolExecutor(6) as pool:
        first = pool.submit(views.get, "k", slow)
        started.wait(10)
        others = [pool.submit(views.get, "k", slow) for _ in range(5)]
        time.sleep(0.2)
        release.set()
        assert [f.result().value for f in [first, *others]] == [7] * 6
    assert len(calls) == 1


def test_the_setting_is_bounded() -> None:
    assert Settings().live_view_seconds == 0.0
    assert Settings.from_mapping({"live_view_seconds": "15"}).live_view_seconds == 15.0
    for bad in ("-1", "3601"):
        with pytest.raises(SettingsError, match="live_view_seconds"):
            Settings.from_mapping({"live_view_seconds": bad})


# -- the service's lists from live views, on a real Prometheus ---------------------------------


API = "/k8s-monitor/api/v1"


def app_on(stack: Stack, data_dir: Path, live_view_seconds: float) -> Flask:
    return create_app(
        Settings.from_mapping(
            {
                "data_dir": str(data_dir),
                "prometheus_url": stack.prometheus_url,
                "rate_limit_storage": "memory",
                "forecast_warmup": False,
                "live_view_seconds": live_view_seconds,
                "admin_api_key": ADMIN_KEY,
                "sync_interval_seconds": 0,
            }
        )
    )


def get(app: Flask, path: str) -> tuple[Any, dict[str, str]]:
    response = app.test_client().get(API + path)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["data"], dict(response.headers)


def test_fleet_lists_come_from_one_view_and_say_how_old_it_is(
    history_stack: Stack, tmp_path: Path
) -> None:
    app = app_on(history_stack, tmp_path / "views", 300)
    every, first = get(app, "/resources/pods/all")
    assert every and "X-Prometheus-Queries" in first and int(first["Age"]) <= 5

    again, second = get(app, "/resources/pods/all")
    assert again == every
    assert "X-Prometheus-Queries" not in second and "Age" in second
    # The other fleet-wide pod answers are cut from the same view.
    serving, headers = get(app, "/resources/pods")
    assert serving == [p for p in every if p["modelType"] is not None]
    assert "X-Prometheus-Queries" not in headers
    top, _ = get(app, "/resources/pods/top?resourceType=cpu&limit=3")
    ranked = sorted(
        (p for p in every if p["cpuUsageCores"] is not None),
        key=lambda p: (-p["cpuUsageCores"], p["namespace"], p["name"]),
    )
    assert [t["name"] for t in top] == [p["name"] for p in ranked[:3]]
    usage, _ = get(app, "/resources/usage")
    assert usage["pods"] == every
    # A namespace's pods are read when asked.
    namespace = every[0]["namespace"]
    scoped, headers = get(app, f"/resources/pods/all?namespace={namespace}")
    assert "X-Prometheus-Queries" in headers and "Age" not in headers
    assert {p["name"] for p in scoped} == {p["name"] for p in every if p["namespace"] == namespace}

    # Without views every answer is read, and holds the same pods.
    fresh = app_on(history_stack, tmp_path / "fresh", 0)
    read, headers = get(fresh, "/resources/pods/all")
    assert "Age" not in headers and "X-Prometheus-Queries" in headers
    assert [(p["namespace"], p["name"]) for p in read] == [
        (p["namespace"], p["name"]) for p in every
    ]


def test_gpu_readings_and_findings_come_from_views_the_inventory_does_not(
    history_stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The stack has 3 GPUs; lists of up to LIVE_UUID_SCOPE_LIMIT are read for their uuids.
    monkeypatch.setattr(gpu_metrics, "LIVE_UUID_SCOPE_LIMIT", 0)
    app = app_on(history_stack, tmp_path / "views", 300)
    client = app.test_client()
    assert client.post(API + "/gpu/metrics/collect", headers=ADMIN).status_code == 200
    devices, _ = get(app, "/gpu/devices")
    assert devices and any(d["currentTempC"] is not None for d in devices)
    again, second = get(app, "/gpu/devices")
    assert "Age" in second
    readings = ("currentTempC", "currentPowerW", "currentUtilization")
    assert [[d[k] for k in readings] for d in again] == [[d[k] for k in readings] for d in devices]
    # The inventory is read at every request: a status changed through the API shows at once.
    changed = devices[0]["deviceId"]
    put = client.put(API + f"/gpu/devices/{changed}/status?status=MAINTENANCE", headers=ADMIN)
    assert put.status_code == 200, put.get_data(as_text=True)
    after, _ = get(app, "/gpu/devices")
    assert {d["deviceId"]: d["deviceStatus"] for d in after}[changed] == "MAINTENANCE"

    health, _ = get(app, "/gpu/health")
    overview, headers = get(app, "/gpu/overview")
    assert "Age" in headers and "X-Prometheus-Queries" not in headers
    assert overview["totalGpuDevices"] == len(devices) == health["totalDevices"]
