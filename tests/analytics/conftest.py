"""Fixtures for the analytics service: apps on real SQLite files, a movable clock, live gunicorn."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import weakref
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient

from analytics import create_app
from analytics.settings import Secret, Settings
from devstack.prometheus import PrometheusServer, ScrapeJob
from tests.analytics.prom_fake import fake_prometheus  # noqa: F401 (a fixture)
from tests.conftest import FLEETS, ROOT, ExporterFactory, free_port

API = "/k8s-monitor/api/v1"
ADMIN_KEY = "test-admin-key-0123456789"
ADMIN = {"X-API-Key": ADMIN_KEY}


class FakeClock:
    def __init__(self, start: datetime | None = None) -> None:
        self.moment = start or datetime(2026, 1, 5, 12, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.moment

    def advance(self, **delta: float) -> None:
        self.moment += timedelta(**delta)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    # database_url: "" (SQLite in tmp_path) unless the test is marked `databases`.
    return Settings(
        data_dir=tmp_path,
        database_url=database_url,
        admin_api_key=Secret(ADMIN_KEY),
        rate_limit_storage="file",
        # No background inventory sync in unit tests (tests that want one run it on demand),
        # and no forecasts fitted in the background (tests/forecast tests the warm-up).
        sync_interval_seconds=0,
        forecast_warmup=False,
    )


AppFactory = Callable[..., Flask]


@pytest.fixture
def make_app(settings: Settings) -> Iterator[AppFactory]:
    apps: list[Flask] = []

    def make(clock: Any = None, **changes: Any) -> Flask:
        app = create_app(settings.replace(**changes), clock=clock)
        apps.append(app)
        return app

    yield make
    for app in apps:
        close_app(app)


def close_app(app: Flask) -> None:
    """Stop the app's background threads (the finalizers it registered for when it is
    collected) and close its pooled connections: on PostgreSQL, before the test's database is
    dropped, so no thread of a finished test reconnects to it."""
    for reference in weakref.getweakrefs(app):
        # Proxies (not weakref.ref) forward attribute access to the app: skip them.
        if isinstance(reference, weakref.ref) and isinstance(
            reference.__callback__, weakref.finalize
        ):
            reference.__callback__()
    app.extensions["gpu_analytics.database"].dispose()


@pytest.fixture
def app(make_app: AppFactory) -> Flask:
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def register(
    client: Any, node: str, index: int, model: str = "A100_80GB", **extra: Any
) -> dict[str, Any]:
    """POST /gpu/devices with the admin key; returns the device."""
    body = {"nodeName": node, "modelId": model, "deviceIndex": index, **extra}
    response = client.post(f"{API}/gpu/devices", json=body, headers=ADMIN)
    assert response.status_code == 201, response.get_json()
    data: dict[str, Any] = response.get_json()["data"]
    return data


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    body = response.get_json() if hasattr(response, "get_json") else response.json()
    assert response.status_code == status, body
    assert body["status"] == "error", body
    assert body["error"]["code"] == code, body
    assert body["timestamp"].endswith("Z")
    error: dict[str, Any] = body["error"]
    return error


class LiveServer:
    def __init__(
        self, url: str, data_dir: Path, process: subprocess.Popen[bytes] | None = None
    ) -> None:
        self.url = url
        self.api = url + API
        self.data_dir = data_dir
        self.process = process

    def read_logs(self) -> str:
        """Stop the server and return everything it wrote to stdout and stderr."""
        assert self.process is not None
        self.process.terminate()
        out, err = self.process.communicate(timeout=30)
        return out.decode(errors="replace") + err.decode(errors="replace")


def start_cluster_server(fleet: Path, port: int) -> subprocess.Popen[bytes]:
    """The simulated cluster's kube-state-metrics/cAdvisor server (simulator.cluster) on ``port``,
    started once it says where it listens; the caller stops it."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "simulator.cluster",
            "--fleet",
            str(fleet),
            "--listen",
            f"127.0.0.1:{port}",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    assert json.loads(line)["url"].endswith(f":{port}"), line
    return process


def _wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            _out, err = process.communicate()
            raise AssertionError(f"server exited {process.returncode}: {err.decode()[-3000:]}")
        try:
            if requests.get(url + "/readyz", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} not ready after {timeout}s")


LiveServerFactory = Callable[..., LiveServer]


@pytest.fixture
def live_server(tmp_path: Path, database_url: str) -> Iterator[LiveServerFactory]:
    """Start ``gpu-analytics serve`` (real gunicorn) with extra GPU_ANALYTICS_* settings."""
    processes: list[subprocess.Popen[bytes]] = []

    def start(
        workers: int = 3, command: Callable[[str], list[str]] | None = None, **env: str
    ) -> LiveServer:
        """``command``: the whole command line for a bind address (HOST:PORT); by default
        ``python -m analytics serve`` with ``workers`` and the serve command's defaults."""
        port = free_port()
        data_dir = tmp_path / f"server-{port}"
        environment = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("GPU_ANALYTICS_", "PROMETHEUS_MULTIPROC"))
        }
        environment.update(
            {
                "GPU_ANALYTICS_DATA_DIR": str(data_dir),
                "GPU_ANALYTICS_ADMIN_API_KEY": ADMIN_KEY,
                "GPU_ANALYTICS_LOG_LEVEL": "WARNING",
                # Each worker would load statsmodels in the background (seconds of CPU):
                # tests/forecast/test_warmup.py covers the warm-up; pass FORECAST_WARMUP="true"
                # for a server that needs it.
                "GPU_ANALYTICS_FORECAST_WARMUP": "false",
                "GPU_ANALYTICS_DATABASE_URL": database_url,
                **{f"GPU_ANALYTICS_{k.upper()}": v for k, v in env.items()},
            }
        )
        bind = f"127.0.0.1:{port}"
        argv = (
            command(bind)
            if command is not None
            else [
                sys.executable,
                "-m",
                "analytics",
                "serve",
                "--bind",
                bind,
                "--workers",
                str(workers),
            ]
        )
        process = subprocess.Popen(
            argv, cwd=ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        processes.append(process)
        url = f"http://127.0.0.1:{port}"
        _wait_ready(url, process)
        return LiveServer(url, data_dir, process)

    yield start
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        for stream in (process.stdout, process.stderr):
            if stream:
                stream.close()


@contextlib.contextmanager
def node_prometheus(
    workdir: Path, exporter_process: ExporterFactory, node: str = "sim-node-1"
) -> Iterator[PrometheusServer]:
    """A real Prometheus of a test's own, without rule files, scraping a real exporter of one
    node of test-small.yaml every second; handed out once it has scraped the exporter, stopped
    afterwards (woken first, should the test have frozen it with SIGSTOP)."""
    exporter = exporter_process(FLEETS / "test-small.yaml", node)
    server = PrometheusServer(
        workdir,
        [ScrapeJob("gpu-exporter", (exporter.removeprefix("http://"),))],
        port=free_port(),
        scrape_interval="1s",
        evaluation_interval="1s",
    )
    server.start()
    try:
        wait_for_series(server.url, "gpu_info")
        yield server
    finally:
        if server.process is not None and server.process.poll() is None:
            os.kill(server.process.pid, signal.SIGCONT)
        server.stop()


def wait_for_series(url: str, query: str, present: bool = True, timeout: float = 30.0) -> None:
    """Until the instant ``query`` answers something (``present``) or nothing."""
    deadline = time.monotonic() + timeout
    while True:
        body = requests.get(f"{url}/api/v1/query", params={"query": query}, timeout=5).json()
        if bool(body["data"]["result"]) == present:
            return
        assert time.monotonic() < deadline, f"{query} never {'appeared' if present else 'went'}"
        time.sleep(0.2)
