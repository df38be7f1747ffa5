"""Two `gpu-analytics serve` masters (gunicorn, 3 workers each) on one PostgreSQL database, as
replicas behind a load balancer would run: under concurrent allocation load from both, no
resource is ever held twice, no request fails for want of a retry, and every 201 is in the
ledger."""

from __future__ import annotations

import itertools
import random
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from threading import Barrier
from typing import Any

import pytest
import requests
from sqlalchemy import create_engine, text

from tests.analytics.conftest import ADMIN, LiveServer, LiveServerFactory
from tests.analytics.test_live_server import register_fleet

NODES, GPUS_PER_NODE = 2, 8  # 16 GPUs
CHURN_CLIENTS, CHURN_CYCLES = 12, 12


@pytest.fixture
def replicas(live_server: LiveServerFactory, postgres_url: str) -> list[LiveServer]:
    return [
        live_server(
            workers=3,
            database_url=postgres_url,
            rate_limit_authenticated_per_minute="1000000",
            allocation_events_interval_seconds="1",  # both replicas sweep expiry too
        )
        for _ in range(2)
    ]


def allocate(session: requests.Session, server: LiveServer, pod: str, **extra: Any) -> Any:
    return session.post(
        f"{server.api}/gpu/allocations",
        json={"namespace": "replicas", "podName": pod, "requiredMemoryGb": 10, **extra},
        headers=ADMIN,
        timeout=30,
    )


def ledger_doubles(url: str) -> tuple[int, int]:
    """(resources held twice at once, events) walking allocation events in commit order."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT a.resource_id, e.status, e.allocation_id FROM allocation_events e "
                    "JOIN allocations a USING (allocation_id) ORDER BY e.event_id"
                )
            ).all()
    finally:
        engine.dispose()
    holder: dict[str, str] = {}
    doubles = 0
    for resource, status, allocation in rows:
        if status == "ALLOCATED":
            doubles += resource in holder
            holder[resource] = allocation
        elif holder.get(resource) == allocation:
            del holder[resource]
    return doubles, len(rows)


def test_two_servers_on_one_postgresql_never_double_allocate(
    replicas: list[LiveServer], postgres_url: str
) -> None:
    first, second = replicas
    register_fleet(first.api, nodes=NODES, gpus=GPUS_PER_NODE)
    devices = requests.get(f"{second.api}/gpu/devices", timeout=10).json()["data"]
    assert len(devices) == NODES * GPUS_PER_NODE  # one database behind both

    # A burst: twice as many clients as GPUs, split over both servers, all at once. Every
    # GPU is granted once; the rest are told nothing fits, none that a retry would have saved.
    clients = 2 * NODES * GPUS_PER_NODE
    barrier = Barrier(clients)

    def burst(index: int) -> tuple[int, str]:
        with requests.Session() as session:
            barrier.wait(timeout=30)
            response = allocate(session, replicas[index % 2], f"burst-{index}")
            body = response.json()
            if response.status_code == 201:
                return 201, body["data"]["allocatedResource"]
            return response.status_code, body["error"]["code"]

    with ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(burst, range(clients)))
    outcomes = Counter(code if code == 201 else (code, detail) for code, detail in results)
    assert outcomes == {201: 16, (409, "INSUFFICIENT_RESOURCES"): 16}, outcomes
    granted = [detail for code, detail in results if code == 201]
    assert len(set(granted)) == 16

    # Release everything through the other server, then churn: allocate and release from
    # both servers, some allocations with a planned release a second away (expired by
    # whichever replica writes next).
    with requests.Session() as session:
        for allocation in session.get(f"{first.api}/gpu/allocations", timeout=10).json()["data"]:
            response = session.delete(
                f"{second.api}/gpu/allocations/{allocation['allocationId']}",
                headers=ADMIN,
                timeout=10,
            )
            assert response.status_code == 200, response.text

    committed: dict[str, tuple[str, str]] = {}  # allocationId -> (pod, resource)
    codes: Counter[Any] = Counter()
    lock = threading.Lock()
    sequence = itertools.count()

    def churn(index: int) -> None:
        chooser = random.Random(index)
        held: list[str] = []
        with requests.Session() as session:
            for _ in range(CHURN_CYCLES):
                server = replicas[chooser.randrange(2)]
                pod = f"churn-{index}-{next(sequence)}"
                extra = {}
                if chooser.random() < 0.3:
                    extra["plannedReleaseTime"] = _seconds_from_now(3)
                response = allocate(session, server, pod, **extra)
                with lock:
                    if response.status_code == 201:
                        data = response.json()["data"]
                        committed[data["allocationId"]] = (pod, data["allocatedResource"])
                        codes[201] += 1
                    else:
                        codes[(response.status_code, response.json()["error"]["code"])] += 1
                if response.status_code == 201:
                    held.append(response.json()["data"]["allocationId"])
                if held and chooser.random() < 0.6:
                    victim = held.pop(chooser.randrange(len(held)))
                    released = session.delete(
                        f"{replicas[chooser.randrange(2)].api}/gpu/allocations/{victim}",
                        headers=ADMIN,
                        timeout=30,
                    )
                    with lock:
                        codes[("release", released.status_code)] += 1

    with ThreadPoolExecutor(CHURN_CLIENTS) as pool:
        list(pool.map(churn, range(CHURN_CLIENTS)))
    assert codes[201] > CHURN_CLIENTS, codes
    allowed = {201, (409, "INSUFFICIENT_RESOURCES"), ("release", 200)}
    assert set(codes) <= allowed, codes

    # Every 201 is in the ledger, as the client was told, read through either server.
    with requests.Session() as session:
        for number, (allocation_id, (pod, resource)) in enumerate(committed.items()):
            server = replicas[number % 2]
            response = session.get(f"{server.api}/gpu/allocations/{allocation_id}", timeout=10)
            assert response.status_code == 200, response.text
            data = response.json()["data"]
            assert (data["podName"], data["allocatedResource"]) == (pod, resource)
        live = session.get(f"{second.api}/gpu/allocations", timeout=10).json()["data"]
    resources = [a["allocatedResource"] for a in live]
    assert len(resources) == len(set(resources))
    doubles, events = ledger_doubles(postgres_url)
    assert doubles == 0
    assert events >= 16 * 2 + len(committed)  # burst ALLOCATED + RELEASED, then the churn


def _seconds_from_now(seconds: int) -> str:
    moment = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=seconds + 1)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
