"""The HTTP face of the exporter: /metrics renders the latest snapshot, /healthz tells liveness.

A scrape never triggers NVML work. The rendered text is cached per snapshot (and per format and
encoding), so repeated scrapes between two sampling cycles cost a dictionary look-up.

With a :class:`exporter.webconfig.WebConfig` it serves HTTPS (the TLS handshake runs in the
request's own thread, so a slow or hostile client cannot hold up accepting others), checks
client certificates, and asks for basic auth on every path but the health checks, which say
nothing a probe should need credentials for (kubelet probes carry none).
"""

from __future__ import annotations

import contextlib
import gzip
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

from prometheus_client import exposition
from prometheus_client.core import Metric
from prometheus_client.openmetrics import exposition as openmetrics

from exporter.collector import render
from exporter.snapshot import Snapshot
from exporter.webconfig import WebConfig, WebConfigFile

log = logging.getLogger(__name__)

# Keep this much of Prometheus's scrape timeout for the transfer itself.
_SCRAPE_TIMEOUT_MARGIN_SECONDS = 0.5
# How long a client may take to send its first bytes and finish the TLS handshake.
_HANDSHAKE_TIMEOUT_SECONDS = 10.0
_TLS_HANDSHAKE_RECORD = 0x16
# What Go's net/http answers on a TLS port to plain HTTP (exporter-toolkit servers do the same).
_PLAIN_HTTP_ON_TLS = (
    b"HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n"
    b"Client sent an HTTP request to an HTTPS server.\n"
)
_HEALTH_PATHS = frozenset({"/healthz", "/livez"})


class SnapshotSource(Protocol):
    def snapshot(self) -> Snapshot | None: ...
    def wait_for_snapshot(self, newer_than: float, timeout: float) -> Snapshot | None: ...
    def last_run(self, stage: str) -> float | None: ...


class SnapshotRegistry:
    """A registry-like object over one snapshot, for prometheus_client's encoders."""

    def __init__(self, snapshot: Snapshot) -> None:
        self._snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        return render(self._snapshot)


class ExpositionCache:
    """Rendered exposition bytes for the latest snapshot, per (format, gzip)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sequence = -1
        self._entries: dict[tuple[bool, bool], bytes] = {}

    def get(self, snapshot: Snapshot, openmetrics_format: bool, gzipped: bool) -> bytes:
        key = (openmetrics_format, gzipped)
        with self._lock:
            if self._sequence != snapshot.sequence:
                self._sequence = snapshot.sequence
                self._entries = {}
            cached = self._entries.get(key)
            if cached is not None:
                return cached
        encoder = openmetrics.generate_latest if openmetrics_format else exposition.generate_latest
        body: bytes = encoder(SnapshotRegistry(snapshot))
        if gzipped:
            body = gzip.compress(body, compresslevel=1)
        with self._lock:
            if self._sequence == snapshot.sequence:
                self._entries[key] = body
        return body


class ExporterHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        source: SnapshotSource,
        *,
        nvml_interval_seconds: float,
        clock: Callable[[], float] = time.time,
        web: WebConfig | WebConfigFile | None = None,
    ) -> None:
        super().__init__(address, _Handler)
        self.source = source
        self.cache = ExpositionCache()
        self.nvml_interval_seconds = nvml_interval_seconds
        self.clock = clock
        self._web = web if web is not None else WebConfig()

    @property
    def web(self) -> WebConfig:
        """The web configuration in force (a :class:`WebConfigFile` is re-read on change)."""
        return self._web.current() if isinstance(self._web, WebConfigFile) else self._web

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"{self.web.scheme}://{host!s}:{port}"

    def finish_request(self, request: Any, client_address: Any) -> None:
        """Runs in the request's thread: the TLS handshake (and client checks) first."""
        web = self.web  # one configuration for the whole connection
        context = web.tls
        if context is None:
            super().finish_request(request, client_address)
            return
        request.settimeout(_HANDSHAKE_TIMEOUT_SECONDS)
        try:
            first = request.recv(1, socket.MSG_PEEK)
            if first and first[0] != _TLS_HANDSHAKE_RECORD:
                request.sendall(_PLAIN_HTTP_ON_TLS)
                return
            secure = context.wrap_socket(request, server_side=True)
        except (OSError, ssl.SSLError) as exc:
            log.debug("TLS handshake with %s failed: %s", client_address, exc)
            return
        try:
            if not _client_allowed(secure, web.client_allowed_sans):
                log.debug("client certificate of %s has no allowed SAN", client_address)
                return
            secure.settimeout(None)
            super().finish_request(secure, client_address)
        finally:
            # The base class shuts down the raw socket, which the TLS socket took over: close
            # the TLS socket here, after a write shutdown so the peer reads the whole answer.
            with contextlib.suppress(OSError):
                secure.shutdown(socket.SHUT_WR)
            secure.close()

    def serve_in_thread(self, poll_interval: float = 0.5) -> threading.Thread:
        """Serve from a daemon thread; ``poll_interval`` bounds how long ``shutdown`` takes."""
        thread = threading.Thread(
            target=self.serve_forever,
            kwargs={"poll_interval": poll_interval},
            name="http",
            daemon=True,
        )
        thread.start()
        return thread


def _client_allowed(secure: ssl.SSLSocket, allowed: frozenset[str]) -> bool:
    """Whether the client certificate carries one of the ``allowed`` SANs (empty: any)."""
    if not allowed:
        return True
    certificate: Any = secure.getpeercert() or {}
    names = {str(entry[1]) for entry in certificate.get("subjectAltName", ())}
    return bool(names & allowed)


class _Handler(BaseHTTPRequestHandler):
    server: ExporterHTTPServer
    server_version = "gpu-exporter"
    sys_version = ""
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: without TCP_NODELAY, Nagle plus the
    # client's delayed ACK adds ~40 ms to every keep-alive scrape.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: object) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        auth = self.server.web.basic_auth
        if (
            auth is not None
            and path not in _HEALTH_PATHS
            and not auth.check(self.headers.get("Authorization"))
        ):
            self._send(401, b"unauthorized\n", "text/plain", authenticate=True)
            return
        if path == "/metrics":
            self._metrics()
        elif path in ("/healthz", "/livez"):
            self._health()
        elif path == "/":
            self._send(200, b"gpu-exporter: see /metrics and /healthz\n", "text/plain")
        else:
            self._send(404, b"not found\n", "text/plain")

    def _fresh_snapshot(self) -> Snapshot | None:
        source = self.server.source
        snapshot = source.snapshot()
        header = self.headers.get("X-Prometheus-Scrape-Timeout-Seconds")
        if snapshot is None or header is None:
            return snapshot
        try:
            budget = float(header) - _SCRAPE_TIMEOUT_MARGIN_SECONDS
        except ValueError:
            return snapshot
        stale_after = 2 * self.server.nvml_interval_seconds
        now = self.server.clock()
        if now - snapshot.timestamp_seconds <= stale_after or budget <= 0:
            return snapshot
        # Stale: wait for the next cycle, but never past Prometheus's own timeout.
        return source.wait_for_snapshot(now - stale_after, min(budget, stale_after))

    def _metrics(self) -> None:
        snapshot = self._fresh_snapshot()
        if snapshot is None:
            self._send(503, b"no sample taken yet\n", "text/plain")
            return
        accept = self.headers.get("Accept", "")
        use_openmetrics = "application/openmetrics-text" in accept
        use_gzip = "gzip" in self.headers.get("Accept-Encoding", "")
        body = self.server.cache.get(snapshot, use_openmetrics, use_gzip)
        content_type = (
            openmetrics.CONTENT_TYPE_LATEST if use_openmetrics else exposition.CONTENT_TYPE_LATEST
        )
        self._send(200, body, content_type, gzipped=use_gzip)

    def _health(self) -> None:
        last = self.server.source.last_run("nvml")
        limit = max(30.0, 10 * self.server.nvml_interval_seconds)
        if last is None or self.server.clock() - last > limit:
            self._send(503, b"nvml sampling is not progressing\n", "text/plain")
        else:
            self._send(200, b"ok\n", "text/plain")

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str,
        gzipped: bool = False,
        authenticate: bool = False,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if gzipped:
            self.send_header("Content-Encoding", "gzip")
        if authenticate:
            self.send_header("WWW-Authenticate", 'Basic realm="gpu-exporter", charset="UTF-8"')
        for name, value in self.server.web.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)
