"""The web configuration file (``--web.config.file``): TLS, client certificates, basic auth.

The format is the Prometheus exporter-toolkit's, so a file written for node_exporter or
dcgm-exporter works here (https://github.com/prometheus/exporter-toolkit, docs/
web-configuration.md)::

    tls_server_config:
      cert_file: /etc/tls/tls.crt       # or cert: <PEM>; key_file / key likewise
      key_file: /etc/tls/tls.key
      client_auth_type: RequireAndVerifyClientCert   # NoClientCert (default),
                                                     # VerifyClientCertIfGiven
      client_ca_file: /etc/tls/ca.crt   # or client_ca: <PEM>
      client_allowed_sans: [prometheus.monitoring.svc]
      min_version: TLS12                # TLS10 .. TLS13 (default TLS12)
      max_version: TLS13
      cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, ...]   # TLS 1.2 and below
      prefer_server_cipher_suites: true
    http_server_config:
      http2: true                       # accepted; this server speaks HTTP/1.1
      headers: {X-Content-Type-Options: nosniff, ...}
    basic_auth_users:
      prometheus: $2y$10$...            # bcrypt hashes (htpasswd -nBC 10 "" | tr -d ':\\n')

Unknown keys, and the toolkit's options Python's ``ssl`` cannot honour (``RequestClientCert``
and ``RequireAnyClientCert``, which accept unverified certificates; ``curve_preferences``;
``rate_limit``), are startup errors rather than silently ignored. bcrypt is slow on purpose
(~70 ms at cost 10) and Prometheus sends the password with every scrape, so a match proven once
is remembered (:class:`BasicAuth`), as the toolkit does. :class:`WebConfigFile` reads the file
again when it, or a certificate it names, changes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import os
import secrets
import ssl
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from exporter.errors import ExporterError

log = logging.getLogger("exporter")


class WebConfigError(ExporterError):
    """The web configuration file is missing, not YAML, or says something invalid."""


_TLS_VERSIONS = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}
_CLIENT_AUTH = {
    "NoClientCert": ssl.CERT_NONE,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}
# Go's names (crypto/tls) of the TLS 1.0-1.2 suites it offers -> OpenSSL's; TLS 1.3 suites are
# not configurable, in Go as here.
_CIPHER_SUITES = {
    "TLS_RSA_WITH_AES_128_CBC_SHA": "AES128-SHA",
    "TLS_RSA_WITH_AES_256_CBC_SHA": "AES256-SHA",
    "TLS_RSA_WITH_AES_128_GCM_SHA256": "AES128-GCM-SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384": "AES256-GCM-SHA384",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA": "ECDHE-ECDSA-AES128-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA": "ECDHE-ECDSA-AES256-SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA": "ECDHE-RSA-AES128-SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA": "ECDHE-RSA-AES256-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": "ECDHE-ECDSA-AES128-GCM-SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": "ECDHE-ECDSA-AES256-GCM-SHA384",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": "ECDHE-RSA-AES128-GCM-SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": "ECDHE-RSA-AES256-GCM-SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-ECDSA-CHACHA20-POLY1305",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-RSA-CHACHA20-POLY1305",
}
# The response headers the toolkit lets a config set, with the values it accepts (None: any).
_HEADERS: dict[str, frozenset[str] | None] = {
    "Content-Security-Policy": None,
    "X-Frame-Options": frozenset({"deny", "sameorigin"}),
    "X-Content-Type-Options": frozenset({"nosniff"}),
    "X-XSS-Protection": None,
    "Strict-Transport-Security": None,
}
_TOP_KEYS = {"tls_server_config", "http_server_config", "basic_auth_users", "rate_limit"}
_TLS_KEYS = {
    "cert",
    "key",
    "client_ca",
    "cert_file",
    "key_file",
    "client_auth_type",
    "client_ca_file",
    "client_allowed_sans",
    "min_version",
    "max_version",
    "cipher_suites",
    "prefer_server_cipher_suites",
    "curve_preferences",
}
_HTTP_KEYS = {"http2", "headers"}


@dataclass(frozen=True)
class WebConfig:
    """What the HTTP server applies: ``tls`` (None: plain HTTP), the client certificate SANs
    it accepts (empty: any verified one), basic-auth users (empty: no auth) and extra headers."""

    tls: ssl.SSLContext | None = None
    client_allowed_sans: frozenset[str] = frozenset()
    basic_auth: BasicAuth | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    files: tuple[Path, ...] = ()  # the certificate, key and CA files it was read from

    @property
    def scheme(self) -> str:
        return "https" if self.tls is not None else "http"


class WebConfigFile:
    """The web configuration at ``path``, read again when the file or one it names changes.

    The exporter-toolkit re-reads its file on every request so rotated certificates apply at
    once; here the files' modification times are compared at most every ``check_seconds``
    (a Secret update or a cert-manager renewal applies within that, without a restart). The
    first read happens here and raises :class:`WebConfigError`; a later change that does not
    load keeps the last good configuration and logs why, once per change.
    """

    def __init__(
        self,
        path: str | Path,
        check_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = Path(path)
        self._check_seconds = check_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._config = load_web_config(self.path)
        self._stamp_seen = self._stamp(self._config.files)
        self._checked_at = clock()

    def current(self) -> WebConfig:
        """The configuration to apply now (re-read first when a file changed)."""
        with self._lock:
            now = self._clock()
            if now - self._checked_at < self._check_seconds:
                return self._config
            self._checked_at = now
            stamp = self._stamp(self._config.files)
            if stamp == self._stamp_seen:
                return self._config
            self._stamp_seen = stamp
            try:
                config = load_web_config(self.path)
            except WebConfigError as exc:
                log.error("web config changed but does not load, keeping the last one: %s", exc)
                return self._config
            self._config = config
            self._stamp_seen = self._stamp(config.files)
            log.info("web config %s reloaded", self.path)
            return config

    def _stamp(self, files: tuple[Path, ...]) -> tuple[tuple[str, int, int], ...]:
        stamps = []
        for path in (self.path, *files):
            try:
                info = path.stat()
            except OSError:
                stamps.append((str(path), -1, -1))
            else:
                stamps.append((str(path), info.st_mtime_ns, info.st_size))
        return tuple(stamps)


def load_web_config(path: str | Path) -> WebConfig:
    """Read and check the file at ``path``; :class:`WebConfigError` says what is wrong."""
    where = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise WebConfigError(f"web config {where}: {exc.strerror or exc}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise WebConfigError(f"web config {where}: not YAML: {exc}") from exc
    return parse_web_config(data if data is not None else {}, where, Path(path).parent)


def parse_web_config(data: Any, where: str = "web config", base: Path | None = None) -> WebConfig:
    """A :class:`WebConfig` from the parsed YAML; relative file names are read from ``base``."""
    top = _mapping(data, where, _TOP_KEYS)
    if top.get("rate_limit") is not None:
        raise WebConfigError(f"{where}: rate_limit is not supported by gpu-exporter")
    tls_data = top.get("tls_server_config")
    tls, sans = (
        _tls_context(_mapping(tls_data, f"{where}: tls_server_config", _TLS_KEYS), where, base)
        if tls_data is not None
        else (None, frozenset[str]())
    )
    http = _mapping(top.get("http_server_config") or {}, f"{where}: http_server_config", _HTTP_KEYS)
    if not isinstance(http.get("http2", True), bool):
        raise WebConfigError(f"{where}: http_server_config.http2 must be true or false")
    users = _mapping(top.get("basic_auth_users") or {}, f"{where}: basic_auth_users", None)
    return WebConfig(
        tls=tls,
        client_allowed_sans=sans,
        basic_auth=BasicAuth(_users(users, where)) if users else None,
        headers=_headers(http.get("headers") or {}, where),
        files=tuple(
            _resolve(str(tls_data[key]), base)
            for key in ("cert_file", "key_file", "client_ca_file")
            if isinstance(tls_data, dict) and tls_data.get(key)
        ),
    )


def _resolve(name: str, base: Path | None) -> Path:
    return Path(name) if base is None or Path(name).is_absolute() else base / name


def _mapping(value: Any, where: str, keys: set[str] | None) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise WebConfigError(f"{where}: expected a mapping, got {type(value).__name__}")
    if keys is not None:
        unknown = sorted(str(k) for k in value if k not in keys)
        if unknown:
            raise WebConfigError(
                f"{where}: unknown field(s) {', '.join(unknown)} (known: {', '.join(sorted(keys))})"
            )
    return value


def _text(tls: Mapping[str, Any], key: str, where: str) -> str | None:
    value = tls.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise WebConfigError(f"{where}: tls_server_config.{key} must be a string")
    return value


def _pem(tls: Mapping[str, Any], inline: str, file_key: str, where: str, base: Path | None) -> str:
    """PEM text given inline (``cert``) or by file (``cert_file``), not both; "" when neither."""
    text, name = _text(tls, inline, where), _text(tls, file_key, where)
    if text is not None and name is not None:
        raise WebConfigError(f"{where}: give tls_server_config.{inline} or {file_key}, not both")
    if name is None:
        return text or ""
    path = _resolve(name, base)
    try:
        return path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise WebConfigError(f"{where}: tls_server_config.{file_key} {path}: {exc}") from exc


def _tls_context(
    tls: Mapping[str, Any], where: str, base: Path | None
) -> tuple[ssl.SSLContext, frozenset[str]]:
    cert = _pem(tls, "cert", "cert_file", where, base)
    key = _pem(tls, "key", "key_file", where, base)
    if not cert or not key:
        raise WebConfigError(f"{where}: tls_server_config needs a certificate and its key")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    _load_cert_chain(context, cert, key, where)

    auth_type = _text(tls, "client_auth_type", where) or "NoClientCert"
    if auth_type not in _CLIENT_AUTH:
        unsupported = auth_type in ("RequestClientCert", "RequireAnyClientCert")
        raise WebConfigError(
            f"{where}: client_auth_type {auth_type!r} "
            + (
                "accepts unverified certificates, which gpu-exporter does not support"
                if unsupported
                else "is not one of " + ", ".join(_CLIENT_AUTH)
            )
        )
    client_ca = _pem(tls, "client_ca", "client_ca_file", where, base)
    context.verify_mode = _CLIENT_AUTH[auth_type]
    if client_ca and auth_type == "NoClientCert":
        raise WebConfigError(
            f"{where}: a client CA is configured but client_auth_type is NoClientCert "
            "(use RequireAndVerifyClientCert)"
        )
    if auth_type != "NoClientCert":
        if not client_ca:
            raise WebConfigError(f"{where}: client_auth_type {auth_type} needs client_ca_file")
        try:
            context.load_verify_locations(cadata=client_ca)
        except (ssl.SSLError, ValueError) as exc:
            raise WebConfigError(f"{where}: client CA: {exc}") from exc

    sans = tls.get("client_allowed_sans") or []
    if not isinstance(sans, list) or not all(isinstance(s, str) for s in sans):
        raise WebConfigError(f"{where}: client_allowed_sans must be a list of strings")
    if sans and auth_type != "RequireAndVerifyClientCert":
        raise WebConfigError(
            f"{where}: client_allowed_sans needs client_auth_type RequireAndVerifyClientCert"
        )

    versions = []
    for key, default in (("min_version", "TLS12"), ("max_version", "TLS13")):
        name = _text(tls, key, where) or default
        if name not in _TLS_VERSIONS:
            raise WebConfigError(
                f"{where}: {key} {name!r} is not one of {', '.join(_TLS_VERSIONS)}"
            )
        versions.append(_TLS_VERSIONS[name])
    if versions[0] > versions[1]:
        raise WebConfigError(f"{where}: min_version is above max_version")
    try:
        context.minimum_version, context.maximum_version = versions
    except (ValueError, ssl.SSLError) as exc:
        raise WebConfigError(f"{where}: TLS versions: {exc}") from exc

    suites = tls.get("cipher_suites") or []
    if not isinstance(suites, list) or not all(isinstance(s, str) for s in suites):
        raise WebConfigError(f"{where}: cipher_suites must be a list of strings")
    unknown = [s for s in suites if s not in _CIPHER_SUITES]
    if unknown:
        raise WebConfigError(f"{where}: unknown cipher suite(s) {', '.join(unknown)}")
    if suites:
        context.set_ciphers(":".join(_CIPHER_SUITES[s] for s in suites))
    prefer_server = tls.get("prefer_server_cipher_suites", True)
    if not isinstance(prefer_server, bool):
        raise WebConfigError(f"{where}: prefer_server_cipher_suites must be true or false")
    if prefer_server:
        context.options |= ssl.OP_CIPHER_SERVER_PREFERENCE
    else:
        context.options &= ~ssl.OP_CIPHER_SERVER_PREFERENCE
    if tls.get("curve_preferences"):
        raise WebConfigError(f"{where}: curve_preferences is not supported by gpu-exporter")
    return context, frozenset(sans)


def _load_cert_chain(context: ssl.SSLContext, cert: str, key: str, where: str) -> None:
    # ssl loads a chain from files only: write the PEM text to a private temporary directory.
    with tempfile.TemporaryDirectory(prefix="gpu-exporter-tls-") as directory:
        cert_path, key_path = (
            os.path.join(directory, "cert.pem"),
            os.path.join(directory, "key.pem"),
        )
        for path, text in ((cert_path, cert), (key_path, key)):
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w", encoding="ascii") as handle:
                handle.write(text)
        try:
            context.load_cert_chain(cert_path, key_path)
        except ssl.SSLError as exc:
            raise WebConfigError(f"{where}: certificate or key: {exc}") from exc


def _users(users: Mapping[Any, Any], where: str) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for name, hashed in users.items():
        if not isinstance(name, str) or not isinstance(hashed, str):
            raise WebConfigError(f"{where}: basic_auth_users maps user names to bcrypt hashes")
        if not hashed.startswith(("$2a$", "$2b$", "$2y$")):
            raise WebConfigError(f"{where}: basic_auth_users.{name}: not a bcrypt hash")
        out[name] = hashed.encode("ascii", "replace")
    return out


def _headers(headers: Any, where: str) -> dict[str, str]:
    headers = _mapping(headers, f"{where}: http_server_config.headers", set(_HEADERS))
    out: dict[str, str] = {}
    for name, value in headers.items():
        if value is None or value == "":
            continue
        allowed = _HEADERS[name]
        if not isinstance(value, str) or (allowed is not None and value.lower() not in allowed):
            raise WebConfigError(f"{where}: header {name}: invalid value {value!r}")
        out[name] = value
    return out


class BasicAuth:
    """HTTP basic authentication against bcrypt hashes, remembering proven matches.

    An entry of the cache is an HMAC (per-process random key) of user, hash and password, never
    the password; a changed hash is a new entry; only matches are kept (a wrong password always
    pays bcrypt), in a bounded LRU. An unknown user is checked against a dummy hash so the
    response time does not tell which user names exist.
    """

    def __init__(self, users: Mapping[str, bytes], cache_size: int = 256) -> None:
        import bcrypt  # the exporter's only user of bcrypt; loaded only when auth is on

        self._bcrypt = bcrypt
        self._users = dict(users)
        self._key = secrets.token_bytes(32)
        self._cache_size = cache_size
        self._proven: OrderedDict[bytes, None] = OrderedDict()
        self._lock = threading.Lock()
        self._dummy = bcrypt.hashpw(b"unknown user", bcrypt.gensalt(rounds=10))
        for name, hashed in self._users.items():
            try:
                bcrypt.checkpw(b"", hashed)  # malformed hashes fail here, at startup
            except ValueError as exc:
                raise WebConfigError(f"basic_auth_users.{name}: not a bcrypt hash: {exc}") from exc

    def check(self, authorization: str | None) -> bool:
        """Whether an ``Authorization`` header value carries a known user's password."""
        if not authorization or authorization[:6].lower() != "basic ":
            return False
        try:
            decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        user, sep, password = decoded.partition(":")
        if not sep:
            return False
        hashed = self._users.get(user)
        entry = hmac.new(
            self._key,
            b"\0".join((user.encode(), hashed or b"", password.encode())),
            hashlib.sha256,
        ).digest()
        with self._lock:
            if hashed is not None and entry in self._proven:
                self._proven.move_to_end(entry)
                return True
        try:
            matches = self._bcrypt.checkpw(password.encode(), hashed or self._dummy)
        except ValueError:  # bcrypt >= 5 refuses passwords over 72 bytes
            return False
        if not matches or hashed is None:
            return False
        with self._lock:
            self._proven[entry] = None
            while len(self._proven) > self._cache_size:
                self._proven.popitem(last=False)
        return True
