"""kill -9 in the middle of an allocation load: gunicorn workers first, then the master.

Clients allocate whole GPUs for distinct pods from several threads against a real gunicorn
(``gpu-analytics serve``, 3 workers) on a real SQLite file, then on a PostgreSQL database.
Midway a worker is SIGKILLed; later the master and every worker. A fresh server on the same
data directory (database) must then hold every allocation a client saw committed (201), no
device twice, no pod twice, and the database must pass its integrity checks: SQLite's
``PRAGMA integrity_check`` and ``foreign_key_check``; on PostgreSQL, ``amcheck`` on every
table and B-tree index; on both, no resource with two live allocations, no row whose foreign
key points nowhere, and one ALLOCATED event per allocation.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import requests
from sqlalchemy import Connection, create_engine, text

from tests.analytics.conftest import ADMIN, ADMIN_KEY, API
from tests.conftest import ROOT, free_port

NODES, GPUS_PER_NODE = 12, 8  # 96 GPUs: more than the load asks for, so no request is refused
CLIENTS = 6


class Server:
    def __init__(self, data_dir: Path, database_url: str = "") -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.api = self.url + API
        environment = {k: v for k, v in os.environ.items() if not k.startswith("GPU_ANALYTICS_")}
        environment.update(
            {
                "GPU_ANALYTICS_DATA_DIR": str(data_dir),
                "GPU_ANALYTICS_DATABASE_URL": database_url,
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
            if self.process.poll() is not None:
                raise AssertionError("server exited during start")
            try:
                if requests.get(self.url + "/readyz", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.stop()  # never leave a half-started server behind
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


@pytest.mark.databases
def test_kill_9_workers_and_master_loses_and_doubles_nothing(
    servers: list[Server], tmp_path: Path, database_url: str
) -> None:
    data_dir = tmp_path / "data"
    first = Server(data_dir, database_url)
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

    second = Server(data_dir, database_url)
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
    check_integrity(database_url or f"sqlite:///{data_dir / 'analytics.db'}")


# Rows whose foreign key points nowhere, and resources with two live allocations.
LEDGER_CHECKS = {
    "allocation without device": "SELECT count(*) FROM allocations a "
    "LEFT JOIN devices d ON d.device_id = a.device_id WHERE d.device_id IS NULL",
    "event without allocation": "SELECT count(*) FROM allocation_events e "
    "LEFT JOIN allocations a ON a.allocation_id = e.allocation_id WHERE a.allocation_id IS NULL",
    "device without model": "SELECT count(*) FROM devices d "
    "LEFT JOIN gpu_models m ON m.model_id = d.model_id WHERE m.model_id IS NULL",
    "resource held twice": "SELECT count(*) FROM (SELECT resource_id FROM allocations "
    "WHERE status = 'ALLOCATED' GROUP BY resource_id HAVING count(*) > 1) AS held",
    "allocation without one ALLOCATED event": "SELECT count(*) FROM allocations a WHERE "
    "(SELECT count(*) FROM allocation_events e WHERE e.allocation_id = a.allocation_id "
    "AND e.status = 'ALLOCATED') <> 1",
}


def check_integrity(url: str) -> None:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            for name, query in LEDGER_CHECKS.items():
                assert conn.execute(text(query)).scalar_one() == 0, name
            if conn.dialect.name == "sqlite":
                assert conn.exec_driver_sql("PRAGMA integrity_check").all() == [("ok",)]
                assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []
            else:
                check_postgresql_storage(conn)
    finally:
        engine.dispose()


def check_postgresql_storage(conn: Connection) -> None:
    """amcheck: every table's heap pages and every B-tree index (each heap tuple in it)."""
    conn.execute(text("CREATE EXTENSION IF NOT EXISTS amcheck"))
    tables = conn.execute(
        text(
            "SELECT c.oid, c.relname FROM pg_class c WHERE c.relkind = 'r' "
            "AND c.relnamespace = 'public'::regnamespace"
        )
    ).all()
    assert len(tables) >= 5
    for oid, name in tables:
        corrupt = conn.execute(text("SELECT count(*) FROM verify_heapam(:oid)"), {"oid": oid})
        assert corrupt.scalar_one() == 0, f"heap of {name}"
    indexes = (
        conn.execute(
            text(
                "SELECT c.oid FROM pg_class c JOIN pg_am am ON am.oid = c.relam "
                "WHERE c.relkind = 'i' AND am.amname = 'btree' "
                "AND c.relnamespace = 'public'::regnamespace"
            )
        )
        .scalars()
        .all()
    )
    assert indexes
    for oid in indexes:  # raises on corruption
        conn.execute(text("SELECT bt_index_check(:oid, true)"), {"oid": oid})
