"""A real local HTTP server that records webhook deliveries (tests of the dispatcher and e2e)."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic()

    @property
    def payload(self) -> dict[str, Any]:
        result: dict[str, Any] = json.loads(self.body)
        return result


class WebhookReceiver:
    """``with WebhookReceiver() as server:`` records every POST; ``status`` sets the answer
    (e.g. 500 to make the dispatcher retry). ``port`` picks the port (0: any free one)."""

    def __init__(self, port: int = 0, status: int = 200, delay_s: float = 0.0) -> None:
        self.status = status
        self.delay_s = delay_s
        self.received: list[Received] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                if receiver.delay_s:
                    time.sleep(receiver.delay_s)
                with receiver._lock:
                    receiver.received.append(
                        Received(self.path, dict(self.headers.items()), body, time.monotonic())
                    )
                self.send_response(receiver.status)
                if 300 <= receiver.status < 400:
                    self.send_header("Location", "http://127.0.0.1:9/elsewhere")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def requests(self) -> list[Received]:
        with self._lock:
            return list(self.received)

    def wait_for(
        self, predicate: Callable[[Received], bool], timeout: float, count: int = 1
    ) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [r for r in self.requests() if predicate(r)]
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise AssertionError(
            f"{count} matching request(s) not received in {timeout:.0f}s; got {self.requests()}"
        )
