"""A TLS front for the demo service in gpuctl's TLS tests: a private CA, a server certificate
for 127.0.0.1, a client certificate, and a proxy that terminates TLS (optionally requiring the
client certificate) and relays bytes to the real service over loopback."""

from __future__ import annotations

import ipaddress
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from tests.pki import issue, new_key, write_pem


@dataclass(frozen=True)
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def make_pki(directory: Path) -> Pki:
    ca_key = new_key()
    ca = issue("gpuctl test CA", ca_key, None, ca=True)
    pki = Pki(
        *(directory / n for n in ("ca.pem", "server.pem", "server-key.pem", "me.pem", "me-key.pem"))
    )
    pki.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    server_key = new_key()
    server = issue(
        "127.0.0.1",
        server_key,
        (ca.subject, ca_key),
        usage=ExtendedKeyUsageOID.SERVER_AUTH,
        sans=[x509.IPAddress(ipaddress.ip_address("127.0.0.1"))],
    )
    write_pem(server, pki.server_cert, server_key, pki.server_key)
    client_key = new_key()
    client = issue(
        "operator", client_key, (ca.subject, ca_key), usage=ExtendedKeyUsageOID.CLIENT_AUTH
    )
    write_pem(client, pki.client_cert, client_key, pki.client_key)
    return pki


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    with suppress(OSError):
        while data := source.recv(65536):
            sink.sendall(data)
    with suppress(OSError):
        sink.shutdown(socket.SHUT_WR)


@contextmanager
def tls_front(upstream_url: str, pki: Pki, *, require_client_cert: bool) -> Iterator[str]:
    """Serve ``upstream_url`` over TLS on a loopback port; yields the https URL."""
    upstream = urlsplit(upstream_url)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki.server_cert, pki.server_key)
    if require_client_cert:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(pki.ca)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    port = listener.getsockname()[1]
    stopping = threading.Event()

    def serve(raw: socket.socket) -> None:
        try:
            client = context.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError):
            raw.close()
            return
        with client, socket.create_connection((upstream.hostname, upstream.port)) as service:
            back = threading.Thread(target=_pipe, args=(service, client), daemon=True)
            back.start()
            _pipe(client, service)
            back.join(timeout=30)

    def accept() -> None:
        while not stopping.is_set():
            try:
                raw, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            raw.settimeout(30)
            threading.Thread(target=serve, args=(raw,), daemon=True).start()

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    try:
        yield urlunsplit(("https", f"127.0.0.1:{port}", upstream.path, "", ""))
    finally:
        stopping.set()
        acceptor.join(timeout=5)
        listener.close()
