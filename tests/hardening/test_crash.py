"""kill -9 in the middle of an allocation load: gunicorn workers first, then the master.

Clients allocate whole GPUs for distinct pods from several threads against a real gunicorn
(``gpu-analytics serve``, 3 workers) on a real SQLite file. Midway a worker is SIGKILLed; later
the master and every worker. A fresh server on the same data directory must then hold every
allocation a client saw committed (201), no device twice, no pod twice, and SQLite's
``PRAGMA integrity_check`` must say ``ok``.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import requests

from tests.analytics.conftest import ADMIN, ADMIN_KEY, API
from tests.conftest import ROOT, free_port

NODES, GPUS_PER_NODE = 12, 8  # 96 GPUs: more than the load asks for, so no request is refused
CLIENTS = 6


class Server:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.api = self.url + API
        environment = {k: v for k, v in os.environ.items() if not k.startswith("GPU_ANALYTICS_")}
        environment.update(
            {
                "GPU_ANALYTICS_DATA_DIR": str(data_dir),
                "GPU_ANALYTICS_ADMIN_API_KEY": ADMIN_KEY,
                "GPU_ANALYTICS_LOG_LEVEL": "WARNING",
                "GPU_ANALYTICS_RATE_LIMIT_ENABLED": "false",
                "GPU_ANALYTICS_SYNC_INTERVAL_SECONDS": "0",
            }
        )
        command = [sys.executable, "-m", "analytics", "serve", "--workers", "3"]
        self.process = subprocess.Popen(
            [*command, "--bind", f"127.0.0.1:{self.port}"],
            cwd=ROOT,
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.process.poll() is None, "server exited during start"
            try:
                if requests.get(self.url + "/readyz", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise AssertionError("server not ready")

    def workers(self) -> list[psutil.Process]:
        return psutil.Process(self.process.pid).children()

    def kill_everything(self) -> None:
        victims = [psutil.Process(self.process.pid), *self.workers()]
        for victim in victims:
            victim.send_signal(signal.SIGKILL)
        psutil.wait_procs(victims, timeout=10)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill_everything()


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[list[Server]]:
    started: list[Server] = []
    yield started
    for server in started:
        server.stop()


class Load:
    """Client threads allocating one GPU per new pod until told to stop."""

    def __init__(self, api: str) -> None:
        self.api = api
        self.committed: dict[str, str] = {}  # allocationId -> podName, only 201 answers
        self.errors: list[str] = []
        self.attempts = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(n,)) for n in range(CLIENTS)]

    def _run(self, client: int) -> None:
        session = requests.Session()
        sequence = 0
        while not self._stop.is_set():
            sequence += 1
            pod = f"crash-{client}-{sequence}"
            with self._lock:
                self.attempts += 1
            try:
                response = session.post(
                    f"{self.api}/gpu/allocations",
                    json={
                        "namespace": "crash-test",
                        "podName": pod,
                        "workloadType": "Training",
                        "requiredMemoryGb": 40,
                        "useMig": False,
                    },
                    headers=ADMIN,
                    timeout=10,
                )
            except requests.RequestException:
                session.close()
                session = requests.Session()
                time.sleep(0.05)  # the server is being killed; a real client would back off
                continue
            if response.status_code == 201:
                with self._lock:
                    self.committed[response.json()["data"]["allocationId"]] = pod
            elif response.status_code >= 500:
                with self._lock:
                    self.errors.append(f"{response.status_code} {response.text[:200]}")
            time.sleep(0.02)
        session.close()

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def wait_for(self, count: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while len(self.committed) < count:
            assert time.monotonic() < deadline, f"only {len(self.committed)} allocations"
            time.sleep(0.05)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)


def register_fleet(api: str) -> None:
    with requests.Session() as session:
        for node in range(1, NODES + 1):
            for index in range(GPUS_PER_NODE):
                response = session.post(
                    f"{api}/gpu/devices",
                    json={
                        "nodeName": f"crash-node-{node}",
                        "modelId": "A100_80GB",
                        "deviceIndex": index,
                    },
                    headers=ADMIN,
                    timeout=10,
                )
                assert response.status_code == 201, response.text


def test_kill_9_workers_and_master_loses_and_doubles_nothing(
    servers: list[Server], tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    first = Server(data_dir)
    servers.append(first)
    register_fleet(first.api)

    load = Load(first.api)
    load.start()
    try:
        load.wait_for(10)
        victim = first.workers()[0]
        victim.send_signal(signal.SIGKILL)
        load.wait_for(25)  # the master replaced the worker; the load goes on
        assert victim.pid not in {w.pid for w in first.workers()}
        first.kill_everything()
        time.sleep(0.5)  # clients see connection errors while nothing listens
    finally:
        load.stop()
    assert not load.errors, load.errors[:3]
    committed = dict(load.committed)
    assert len(committed) >= 25

    second = Server(data_dir)
    servers.append(second)
    listed = requests.get(
        f"{second.api}/gpu/allocations?namespace=crash-test", headers=ADMIN, timeout=10
    )
    assert listed.status_code == 200, listed.text
    allocations = listed.json()["data"]
    by_id = {a["allocationId"]: a for a in allocations}
    missing = set(committed) - set(by_id)
    assert not missing, f"committed allocations lost: {sorted(missing)[:5]}"
    for allocation_id, pod in committed.items():
        assert by_id[allocation_id]["podName"] == pod
    devices = [a["deviceId"] for a in allocations]
    assert len(devices) == len(set(devices)), "a device allocated twice"
    pods = [a["podName"] for a in allocations]
    assert len(pods) == len(set(pods)), "a pod allocated twice"
    # Requests cut off by the kill may have committed unseen; never more than were attempted.
    assert len(allocations) <= load.attempts

    second.stop()
    with sqlite3.connect(data_dir / "analytics.db") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
