"""A scripted stand-in for the Prometheus HTTP API on a real loopback socket.

For tests of the client's protocol handling (retries, timeouts, auth headers, POST) and of the
inventory sync's rules with exact inputs. Endpoint numbers are tested against the real
Prometheus (test_metrics_stack.py).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest


@dataclass
class Seen:
    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str]


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    delay_seconds: float = 0.0


def vector(*samples: tuple[dict[str, str], float]) -> dict[str, Any]:
    """A success answer holding an instant vector."""
    return {
        "status": "success",
        "data": {
            "resultType": "vector",
            "result": [
                {"metric": labels, "value": [1_700_000_000.0, str(value)]}
                for labels, value in samples
            ],
        },
    }


@dataclass
class FakePrometheus:
    url: str = ""
    seen: list[Seen] = field(default_factory=list)
    # Replies in order; the last one repeats. A callable gets the request and answers.
    replies: list[Reply | Callable[[Seen], Reply]] = field(default_factory=list)

    def answer(self, *replies: Reply | Callable[[Seen], Reply]) -> None:
        self.replies = list(replies)

    def answer_vector(self, *samples: tuple[dict[str, str], float]) -> None:
        self.answer(Reply(200, vector(*samples)))

    def _next(self, request: Seen) -> Reply:
        if not self.replies:
            return Reply(200, vector())
        reply = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        return reply(request) if callable(reply) else reply


@pytest.fixture
def fake_prometheus() -> Iterator[FakePrometheus]:
    fake = FakePrometheus()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_args: Any) -> None:
            pass

        def _handle(self, method: str) -> None:
            parsed = urlparse(self.path)
            params = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
            if method == "POST":
                length = int(self.headers.get("Content-Length", "0"))
                form = self.rfile.read(length).decode()
                params.update({k: v[-1] for k, v in parse_qs(form).items()})
            request = Seen(method, parsed.path, params, dict(self.headers.items()))
            fake.seen.append(request)
            reply = fake._next(request)
            if reply.delay_seconds:
                time.sleep(reply.delay_seconds)
            payload = (
                reply.body.encode()
                if isinstance(reply.body, str)
                else json.dumps(reply.body or {}).encode()
            )
            try:
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test)

        def do_GET(self) -> None:
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.block_on_close = False
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield fake
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)
