"""Idle and slow clients cannot stall the service (issue 15): the buffered gunicorn worker.

The service runs exactly as the chart's default values and the demo run it; 100 connections
that send nothing and 100 that send half a request head are held open while normal requests
are timed. gunicorn's own refusals come in the error envelope.
"""

from __future__ import annotations

import json
import re
import socket
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
import requests

from devstack.stack import ANALYTICS_WORKERS, analytics_command
from tests.analytics.conftest import ADMIN_KEY, LiveServer, LiveServerFactory
from tests.chart.chart import containers, render

DEVICES = "/gpu/devices"


def chart_command(bind: str) -> list[str]:
    """The analytics container's command line from the chart's default values, bound here."""
    deployment = render({}).one("Deployment", "k8s-gpu-management")
    (container,) = containers(deployment)
    assert container["command"] == ["gpu-analytics"]
    args = list(container["args"])
    args[args.index("--bind") + 1] = bind
    return [sys.executable, "-m", "analytics", *args]


def demo_command(bind: str) -> list[str]:
    return analytics_command(bind, ANALYTICS_WORKERS)


CONFIGURATIONS: dict[str, Callable[[str], list[str]]] = {
    "chart": chart_command,
    "demo": demo_command,
}


def _address(server: LiveServer) -> tuple[str, int]:
    host, port = server.url.removeprefix("http://").split(":")
    return host, int(port)


@contextmanager
def held_connections(server: LiveServer, idle: int, slow: int) -> Iterator[list[socket.socket]]:
    """``idle`` connections that send nothing, ``slow`` that send half a request head."""
    held: list[socket.socket] = []
    try:
        for number in range(idle + slow):
            sock = socket.create_connection(_address(server), timeout=5)
            if number >= idle:
                sock.sendall(b"GET /k8s-monitor/api/v1/gpu/devices HTTP/1.1\r\nHost: x\r\nX-Slo")
            held.append(sock)
        yield held
    finally:
        for sock in held:
            sock.close()


def still_open(sock: socket.socket) -> bool:
    sock.setblocking(False)
    try:
        return sock.recv(1) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        sock.setblocking(True)


def timed_get(server: LiveServer) -> float:
    """Seconds for one API request on a new connection; asserts it answered 200."""
    started = time.perf_counter()
    response = requests.get(server.api + DEVICES, headers={"X-API-Key": ADMIN_KEY}, timeout=30)
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, response.text
    return elapsed


@pytest.mark.parametrize("configuration", sorted(CONFIGURATIONS))
def test_idle_and_slow_header_clients_do_not_delay_a_request(
    live_server: LiveServerFactory, configuration: str
) -> None:
    server = live_server(command=CONFIGURATIONS[configuration])
    for _ in range(8):  # every worker has imported what a request needs
        timed_get(server)
    with held_connections(server, idle=100, slow=100) as held:
        time.sleep(0.5)  # the server has accepted them all
        latencies = [timed_get(server) for _ in range(5)]
        assert all(still_open(sock) for sock in held), "the server dropped held clients"
    assert max(latencies) < 0.2, latencies


def serve_with_client_timeout(seconds: str) -> Callable[[str], list[str]]:
    def command(bind: str) -> list[str]:
        return [*demo_command(bind), "--client-timeout", seconds]

    return command


def test_a_request_that_does_not_arrive_in_time_is_closed(live_server: LiveServerFactory) -> None:
    server = live_server(command=serve_with_client_timeout("1"))
    with held_connections(server, idle=1, slow=1) as held:
        body = socket.create_connection(_address(server), timeout=5)
        held.append(body)
        body.sendall(
            b"POST /k8s-monitor/api/v1/webhooks HTTP/1.1\r\nHost: x\r\n"
            b'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"url"'
        )
        deadline = time.monotonic() + 5
        while any(still_open(sock) for sock in held):
            assert time.monotonic() < deadline, "slow clients were not cut off"
            time.sleep(0.1)
    timed_get(server)


def exchange(server: LiveServer, data: bytes, pause_after: int | None = None) -> bytes:
    """Send ``data`` (in two parts, a pause between, when ``pause_after`` is given), read
    until the server closes the connection."""
    with socket.create_connection(_address(server), timeout=10) as sock:
        if pause_after is None:
            sock.sendall(data)
        else:
            sock.sendall(data[:pause_after])
            time.sleep(0.3)
            sock.sendall(data[pause_after:])
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def statuses(reply: bytes) -> list[int]:
    """The status of each response in ``reply``, in order."""
    return [int(status) for status in re.findall(rb"HTTP/1\.1 (\d{3}) ", reply)]


def test_requests_that_arrive_in_pieces_pipelined_or_chunked_are_answered(
    live_server: LiveServerFactory,
) -> None:
    server = live_server(command=demo_command)
    key = f"X-API-Key: {ADMIN_KEY}\r\n".encode()
    get = b"GET /k8s-monitor/api/v1/gpu/devices HTTP/1.1\r\nHost: x\r\n" + key
    body = b'{"nodeName": "slow-node", "deviceIndex": 0, "modelId": "L4"}'
    post = (
        b"POST /k8s-monitor/api/v1/gpu/devices HTTP/1.1\r\nHost: x\r\n"
        + key
        + b"Content-Type: application/json\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )
    chunked = (
        b"POST /k8s-monitor/api/v1/gpu/devices HTTP/1.1\r\nHost: x\r\n"
        + key
        + b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
        + b"Connection: close\r\n\r\n"
        + b"%x\r\n%s\r\n0\r\n\r\n"
        % (len(body.replace(b"slow", b"chnk")), body.replace(b"slow", b"chnk"))
    )
    # A head and a body in pieces, a pipelined GET behind them, then a chunked body.
    assert statuses(exchange(server, post + get + b"Connection: close\r\n\r\n", 30)) == [201, 200]
    assert statuses(exchange(server, chunked, len(chunked) - 10)) == [201]
    continued = post.replace(b"slow-node", b"cont-node").replace(
        b"Content-Length", b"Expect: 100-continue\r\nConnection: close\r\nContent-Length"
    )
    head, _, rest = continued.partition(b"\r\n\r\n")
    assert statuses(exchange(server, head + b"\r\n\r\n" + rest, len(head) + 4)) in (
        [100, 201],
        [201],
    )
    nodes = {d["nodeName"] for d in requests.get(server.api + DEVICES, timeout=10).json()["data"]}
    assert {"slow-node", "chnk-node", "cont-node"} <= nodes


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
        (b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 9000 + b"\r\n\r\n", 431),
        (b"GET / HTTP/1.1\r\nHost: x\r\nBad\x01Name: 1\r\n\r\n", 400),
        (b"G\xffT / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    ],
    ids=["uri-too-long", "header-too-large", "bad-header-name", "bad-method-bytes"],
)
def test_the_servers_own_refusals_use_the_error_envelope(
    live_server: LiveServerFactory, request_bytes: bytes, status: int
) -> None:
    server = live_server(command=demo_command)
    reply = exchange(server, request_bytes)
    head, _, body = reply.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    assert int(lines[0].split(" ")[1]) == status, reply[:300]
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    assert headers["content-type"] == "application/json"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
    document = json.loads(body)
    assert document["status"] == "error"
    assert document["error"]["code"] == "INVALID_PARAMETER"
    assert document["timestamp"].endswith("Z")
