"""Shared fixtures: real exporter processes on the simulator, and the path to Debian's promtool."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests import pg_fixtures, stack_fixtures
from tests.pg_fixtures import (  # noqa: F401 (fixtures: PostgreSQL, the `databases` marker)
    database_url,
    postgres_server,
    postgres_template,
    postgres_url,
)

ROOT = Path(__file__).resolve().parent.parent
FLEETS = ROOT / "simulator" / "fleets"


def pytest_configure(config: pytest.Config) -> None:
    pg_fixtures.pytest_configure(config)
    stack_fixtures.pytest_configure(config)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # `databases` (SQLite and PostgreSQL) and `metrics_backends` (Prometheus and
    # VictoriaMetrics) markers.
    pg_fixtures.pytest_generate_tests(metafunc)
    stack_fixtures.pytest_generate_tests(metafunc)


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item) -> None:
    stack_fixtures.release_stacks(item)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_get(url: str, headers: dict[str, str] | None = None, timeout: float = 5.0) -> bytes:
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return bytes(response.read())


def wait_healthy(url: str, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            _out, err = process.communicate()
            raise AssertionError(f"exporter exited {process.returncode}: {err.decode()[-2000:]}")
        try:
            if http_get(url + "/healthz", timeout=1) == b"ok\n":
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} not healthy after {timeout}s")


ExporterFactory = Callable[..., str]


@pytest.fixture
def exporter_process() -> Iterator[ExporterFactory]:
    """Start real exporter processes on the simulator (``python -m simulator.exporter``);
    returns their base URL. Stopped after the test."""
    processes: list[subprocess.Popen[bytes]] = []

    def start(fleet: Path, node: str, *extra: str) -> str:
        port = free_port()
        command = [
            sys.executable,
            "-m",
            "simulator.exporter",
            "--simulated-fleet",
            str(fleet),
            "--node-name",
            node,
            "--listen",
            f"127.0.0.1:{port}",
            "--log-level",
            "WARNING",
            *extra,
        ]
        process = subprocess.Popen(
            command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        processes.append(process)
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, process)
        return url

    yield start
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout:
            process.stdout.close()
        if process.stderr:
            process.stderr.close()


@pytest.fixture(scope="session")
def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool is missing: `make test` installs Debian's prometheus package")
    return path
