"""The gunicorn worker of ``gpu-analytics serve``: gthread, but a thread only sees whole requests.

gunicorn's ``sync`` worker blocks on a connection until its request has arrived, and its
``gthread`` worker hands every new connection to a thread that waits for the first bytes and
then blocks until the rest arrive. Either way a few idle or slow clients (nothing sent, or half
a header) hold every thread and the service stalls: with two sync workers, two idle connections
delayed every other request by seconds (issue 15; docs/analytics.md, "Serving").

Here the worker's event loop reads each connection without blocking until :func:`arrival` says
its request is complete, within ``client_timeout_s`` of its first byte (or of the connection);
only then does a thread parse and run it, from memory. Idle, slow and half-sent requests cost a
file descriptor and their bytes, never a thread. The same timeout bounds the socket reads and
writes a thread still makes (SO_RCVTIMEO, SO_SNDTIMEO: an ``Expect: 100-continue`` body, a client
that does not read its answer), so nothing a client does holds a thread for longer.

gunicorn's own refusals (a malformed request line, headers or URI too long) are answered in the
service's error envelope with its security headers, like every other error.
"""

from __future__ import annotations

import contextlib
import errno
import json
import selectors
import socket
import struct
import sys
import time
from functools import partial
from typing import Any, ClassVar

from gunicorn.workers.gthread import TConn, ThreadWorker

from analytics.api.errors import error_document
from analytics.api.headers import HEADERS, JSON_POLICY
from analytics.serving.arrival import Arrival, arrival

# The end of a request head is looked for within this many bytes; past it the parser answers.
HEAD_LIMIT_BYTES = 64 * 1024
_RECV_BYTES = 64 * 1024
SWITCH_INTERVAL_S = 0.001


class _Connection(TConn):  # type: ignore[misc]
    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.received = b""
        self.deadline = 0.0


class BufferedThreadWorker(ThreadWorker):  # type: ignore[misc]
    """gunicorn's gthread worker whose event loop buffers each request before a thread runs it.

    Configure through a subclass (:func:`buffered_worker`): ``client_timeout_s`` is how long a
    client has to send a whole request, ``body_limit_bytes`` the largest body worth buffering
    (larger ones are refused by the application from their Content-Length).
    """

    client_timeout_s: ClassVar[float] = 10.0
    body_limit_bytes: ClassVar[int] = 1_048_576

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Connections whose request is still arriving, oldest deadline first (insertion order).
        self.arriving: dict[_Connection, None] = {}

    def init_process(self) -> None:
        # A thread that waits on I/O (a cheap request: a query, a read) needs the GIL back each
        # time; next to a thread computing (a cost analysis) it waits up to the switch interval
        # for it, 5 ms by default, dozens of times a request. 1 ms keeps such a request fast.
        sys.setswitchinterval(SWITCH_INTERVAL_S)
        super().init_process()

    def accept(self, listener: socket.socket) -> None:
        try:
            sock, client = listener.accept()
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                return
            raise
        self.nr_conns += 1
        seconds, fraction = divmod(self.client_timeout_s, 1)
        timeval = struct.pack("ll", int(seconds), int(fraction * 1_000_000))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, timeval)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, timeval)
        self._await_request(_Connection(self.cfg, sock, client, listener.getsockname()))

    def on_client_socket_readable(self, conn: _Connection, client: socket.socket) -> None:
        """A kept-alive connection sends its next request."""
        self.poller.unregister(client)
        self.keepalived_conns.remove(conn)
        self._await_request(conn)

    def enqueue_req(self, conn: _Connection) -> None:
        """gthread hands over a connection with bytes of its next request already read."""
        self._await_request(conn)

    def _await_request(self, conn: _Connection) -> None:
        conn.sock.setblocking(False)
        if conn.parser is not None:
            conn.received = conn.parser.unreader.take_buffered()
        conn.deadline = time.monotonic() + self.client_timeout_s
        if self._arrived(conn):
            self._run(conn)
            return
        self.arriving[conn] = None
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_readable, conn))

    def _on_readable(self, conn: _Connection, sock: socket.socket) -> None:
        try:
            data = sock.recv(_RECV_BYTES)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:  # the client went away
            self._drop(conn)
            return
        conn.received += data
        if self._arrived(conn):
            self.poller.unregister(sock)
            del self.arriving[conn]
            self._run(conn)

    def _arrived(self, conn: _Connection) -> bool:
        state = arrival(conn.received, HEAD_LIMIT_BYTES, self.body_limit_bytes)
        return state is not Arrival.PARTIAL

    def _run(self, conn: _Connection) -> None:
        conn.data_ready = True  # gthread must not wait for data again
        super().enqueue_req(conn)

    def handle(self, conn: _Connection) -> Any:
        """In a thread: parse the buffered request (from memory) and answer it."""
        try:
            conn.sock.setblocking(True)
            conn.init()
        except OSError:
            return False
        if conn.received:
            conn.parser.unreader.unread(conn.received)
            conn.received = b""
        return super().handle(conn)

    def murder_pending(self) -> None:
        """Close connections whose request did not arrive in time (all of them when stopping)."""
        super().murder_pending()
        now = time.monotonic()
        while self.arriving:
            conn = next(iter(self.arriving))
            if conn.deadline > now and self.alive:
                break
            self._drop(conn)

    def _drop(self, conn: _Connection) -> None:
        with contextlib.suppress(KeyError, ValueError, OSError):
            self.poller.unregister(conn.sock)
        self.arriving.pop(conn, None)
        self.nr_conns -= 1
        conn.close()

    def handle_error(self, req: Any, client: socket.socket, addr: Any, exc: BaseException) -> None:
        super().handle_error(req, _EnvelopeWriter(client), addr, exc)


class _EnvelopeWriter:
    """Stands in for the client socket while gunicorn writes an error page: sends the status
    gunicorn chose in the error envelope instead of its HTML."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def gettimeout(self) -> float | None:
        return self._sock.gettimeout()

    def setblocking(self, flag: bool) -> None:
        self._sock.setblocking(flag)

    def sendall(self, page: bytes) -> None:
        _version, status, reason = page.split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)
        self._sock.sendall(error_page(int(status), reason))


def error_page(status: int, reason: str) -> bytes:
    """A whole HTTP response: ``status`` in the error envelope, with the security headers."""
    if status == 403:
        code = "FORBIDDEN"
    elif status >= 500:
        code = "INTERNAL_ERROR"
    else:
        code = "INVALID_PARAMETER"
    body = json.dumps(error_document(code, f"{reason}.")).encode()
    headers = {
        **HEADERS,
        "Content-Security-Policy": JSON_POLICY,
        "Cache-Control": "no-store",
        "Content-Type": "application/json",
        "Content-Length": str(len(body)),
        "Connection": "close",
    }
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return f"HTTP/1.1 {status} {reason}\r\n{head}\r\n".encode("latin-1") + body


def buffered_worker(client_timeout_s: float, body_limit_bytes: int) -> type[BufferedThreadWorker]:
    """The worker class for gunicorn's ``worker_class`` setting, with these limits."""
    return type(
        "BufferedThreadWorker",
        (BufferedThreadWorker,),
        {"client_timeout_s": client_timeout_s, "body_limit_bytes": body_limit_bytes},
    )
