"""A fake Kubernetes API server: the few read-only Pod endpoints the exporter's client uses.

Serves real-shaped Pod JSON over plain HTTP on 127.0.0.1 so the official ``kubernetes`` client
runs unmodified against it (tests and the demo). Supported::

    GET /version
    GET /api/v1/pods                              ?fieldSelector=&labelSelector=
    GET /api/v1/namespaces/{namespace}/pods       ?fieldSelector=&labelSelector=
    GET /api/v1/namespaces/{namespace}/pods/{name}

Selectors: equality forms only (``a=b``, ``a==b``, ``a!=b``; labels also ``key`` and ``!key``),
on the fields the real API server indexes for pods. Anything else is answered like the real
server: a ``Status`` object with 400 or 404.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

PodListProvider = Callable[[], Mapping[str, Any]]  # a v1 PodList (or {"items": [...]})

# Field selectors the real API server accepts for pods.
_POD_FIELDS = {
    "metadata.name": ("metadata", "name"),
    "metadata.namespace": ("metadata", "namespace"),
    "spec.nodeName": ("spec", "nodeName"),
    "spec.restartPolicy": ("spec", "restartPolicy"),
    "spec.schedulerName": ("spec", "schedulerName"),
    "spec.serviceAccountName": ("spec", "serviceAccountName"),
    "status.phase": ("status", "phase"),
    "status.podIP": ("status", "podIP"),
    "status.nominatedNodeName": ("status", "nominatedNodeName"),
}

VERSION = {
    "major": "1",
    "minor": "30",
    "gitVersion": "v1.30.0-simulated",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2024-04-17T00:00:00Z",
    "goVersion": "go1.22.2",
    "compiler": "gc",
    "platform": "linux/amd64",
}


class _BadRequestError(Exception):
    pass


Selector = Callable[[Mapping[str, Any]], bool]


def _parse_field_selector(text: str) -> Selector:
    requirements: list[tuple[tuple[str, str], str, bool]] = []
    for term in filter(None, (t.strip() for t in text.split(","))):
        for operator in ("!=", "==", "="):
            if operator in term:
                field, value = (p.strip() for p in term.split(operator, 1))
                break
        else:
            raise _BadRequestError(f"invalid field selector: {term!r}")
        path = _POD_FIELDS.get(field)
        if path is None:
            raise _BadRequestError(f'field label not supported: "{field}"')
        requirements.append((path, value, operator == "!="))

    def matches(pod: Mapping[str, Any]) -> bool:
        for (section, key), value, negate in requirements:
            actual = str((pod.get(section) or {}).get(key) or "")
            if (actual == value) == negate:
                return False
        return True

    return matches


def _parse_label_selector(text: str) -> Selector:
    # (key, operator, value) with operator one of "=", "!=", "exists", "!exists"
    requirements: list[tuple[str, str, str]] = []
    for term in filter(None, (t.strip() for t in text.split(","))):
        if " in " in term or " notin " in term or "(" in term:
            raise _BadRequestError(f"set-based label selector not supported: {term!r}")
        if "!=" in term:
            key, value = (p.strip() for p in term.split("!=", 1))
            requirements.append((key, "!=", value))
        elif "=" in term:
            key, value = (p.strip() for p in term.split("==" if "==" in term else "=", 1))
            requirements.append((key, "=", value))
        elif term.startswith("!"):
            requirements.append((term[1:].strip(), "!exists", ""))
        else:
            requirements.append((term, "exists", ""))

    def matches(pod: Mapping[str, Any]) -> bool:
        labels: Mapping[str, str] = (pod.get("metadata") or {}).get("labels") or {}
        for key, operator, value in requirements:
            ok = {
                "=": labels.get(key) == value,
                "!=": labels.get(key) != value,
                "exists": key in labels,
                "!exists": key not in labels,
            }[operator]
            if not ok:
                return False
        return True

    return matches


def _status(code: int, reason: str, message: str, details: Mapping[str, Any] | None = None) -> Any:
    status: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details:
        status["details"] = dict(details)
    return status


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the client's connection pool expects
    server: _Server

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        parts = [p for p in url.path.split("/") if p]
        try:
            code, body = self._route(parts, query)
        except _BadRequestError as exc:
            code, body = 400, _status(400, "BadRequest", str(exc))
        self._send(code, body)

    def _route(self, parts: list[str], query: Mapping[str, str]) -> tuple[int, Any]:
        if parts == ["version"]:
            return 200, VERSION
        if parts == ["api", "v1", "pods"]:
            return 200, self._pod_list(None, query)
        if len(parts) == 5 and parts[:3] == ["api", "v1", "namespaces"] and parts[4] == "pods":
            return 200, self._pod_list(parts[3], query)
        if len(parts) == 6 and parts[:3] == ["api", "v1", "namespaces"] and parts[4] == "pods":
            namespace, name = parts[3], parts[5]
            for pod in self._items():
                metadata = pod.get("metadata") or {}
                if metadata.get("namespace") == namespace and metadata.get("name") == name:
                    return 200, {"kind": "Pod", "apiVersion": "v1", **pod}
            return 404, _status(
                404, "NotFound", f'pods "{name}" not found', {"name": name, "kind": "pods"}
            )
        return 404, _status(404, "NotFound", "the server could not find the requested resource")

    def _items(self) -> list[Mapping[str, Any]]:
        return list(self.server.pod_list_provider().get("items") or [])

    def _pod_list(self, namespace: str | None, query: Mapping[str, str]) -> Any:
        field_ok = _parse_field_selector(query.get("fieldSelector", ""))
        label_ok = _parse_label_selector(query.get("labelSelector", ""))
        items = [
            pod
            for pod in self._items()
            if (namespace is None or (pod.get("metadata") or {}).get("namespace") == namespace)
            and field_ok(pod)
            and label_ok(pod)
        ]
        return {
            "kind": "PodList",
            "apiVersion": "v1",
            "metadata": {"resourceVersion": str(self.server.next_resource_version())},
            "items": items,
        }

    def _send(self, code: int, body: Any) -> None:
        payload = json.dumps(body, separators=(",", ":")).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: tests and the demo read their own output


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, provider: PodListProvider) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.pod_list_provider = provider
        self._resource_version = 1000
        self._lock = threading.Lock()

    def next_resource_version(self) -> int:
        with self._lock:
            self._resource_version += 1
            return self._resource_version


class KubeApiServer:
    """The fake API server on a free loopback port; ``url`` is what the client is given."""

    def __init__(self, pod_list_provider: PodListProvider) -> None:
        self._provider = pod_list_provider
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("KubeApiServer is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        if self._server is not None:
            return
        self._server = _Server(self._provider)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="simulated-kube-api",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server = None
        self._thread = None

    def __enter__(self) -> KubeApiServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
