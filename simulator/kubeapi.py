"""A fake Kubernetes API server: the Pod reads the exporter's client makes, and the Node and
ConfigMap writes through which MIG layouts reach NVIDIA's mig-manager.

Serves real-shaped JSON over plain HTTP on 127.0.0.1 so the official ``kubernetes`` client
runs unmodified against it (tests and the demo). Supported::

    GET /version
    GET /api/v1/pods                              ?fieldSelector=&labelSelector=
    GET /api/v1/namespaces/{namespace}/pods       ?fieldSelector=&labelSelector=
    GET /api/v1/namespaces/{namespace}/pods/{name}
    GET /apis/resource.k8s.io/v1/resourceslices   ?fieldSelector= (spec.nodeName, spec.driver)

and, when the server holds :class:`ClusterObjects` (the simulated cluster's one API server)::

    GET   /api/v1/nodes, /api/v1/nodes/{name}
    PATCH /api/v1/nodes/{name}                    merge patch (or strategic merge patch) of
                                                  metadata.labels / metadata.annotations
    GET   /api/v1/namespaces/{namespace}/configmaps/{name}
    POST  /api/v1/namespaces/{namespace}/configmaps
    PUT   /api/v1/namespaces/{namespace}/configmaps/{name}   409 on a stale resourceVersion

Selectors: equality forms only (``a=b``, ``a==b``, ``a!=b``; labels also ``key`` and ``!key``),
on the fields the real API server indexes for pods. Anything else is answered like the real
server: a ``Status`` object with 400 or 404.
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

PodListProvider = Callable[[], Mapping[str, Any]]  # a v1 PodList (or {"items": [...]})
# A resource.k8s.io/v1 ResourceSliceList (or {"items": [...]}): what DRA drivers publish.
ResourceSliceProvider = Callable[[], Mapping[str, Any]]

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

# Field selectors the real API server accepts for ResourceSlices (spec.pool.name left out).
_RESOURCE_SLICE_FIELDS = {"spec.nodeName": ("spec", "nodeName"), "spec.driver": ("spec", "driver")}

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


def _parse_field_selector(
    text: str, fields: Mapping[str, tuple[str, str]] = _POD_FIELDS
) -> Selector:
    requirements: list[tuple[tuple[str, str], str, bool]] = []
    for term in filter(None, (t.strip() for t in text.split(","))):
        for operator in ("!=", "==", "="):
            if operator in term:
                field, value = (p.strip() for p in term.split(operator, 1))
                break
        else:
            raise _BadRequestError(f"invalid field selector: {term!r}")
        path = fields.get(field)
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


class ClusterObjects:
    """Nodes and ConfigMaps of the simulated cluster, writable through the API: every change
    bumps the object's ``resourceVersion``. Thread-safe."""

    def __init__(self, nodes: Mapping[str, Mapping[str, str]] | None = None) -> None:
        """``nodes``: node name -> its labels."""
        self._lock = threading.Lock()
        self._version = 1
        self._nodes: dict[str, dict[str, Any]] = {
            name: self._node(name, labels) for name, labels in (nodes or {}).items()
        }
        self._config_maps: dict[tuple[str, str], dict[str, Any]] = {}

    def _next(self) -> str:
        self._version += 1
        return str(self._version)

    def _node(self, name: str, labels: Mapping[str, str]) -> dict[str, Any]:
        return {
            "kind": "Node",
            "apiVersion": "v1",
            "metadata": {
                "name": name,
                "uid": f"node-{name}",
                "resourceVersion": self._next(),
                "labels": dict(labels),
                "annotations": {},
            },
            "spec": {},
            "status": {},
        }

    def add_node(self, name: str, labels: Mapping[str, str] | None = None) -> None:
        """A node joins the cluster (tests: an API that did not know it yet)."""
        with self._lock:
            self._nodes[name] = self._node(name, labels or {})

    def nodes(self) -> list[dict[str, Any]]:
        with self._lock:
            return [copy.deepcopy(n) for n in self._nodes.values()]

    def node(self, name: str) -> dict[str, Any] | None:
        with self._lock:
            node = self._nodes.get(name)
            return copy.deepcopy(node) if node is not None else None

    def patch_node(self, name: str, patch: Mapping[str, Any]) -> dict[str, Any] | None:
        """A JSON merge patch (RFC 7386) of the node's labels and annotations; a null value
        removes the key. None when there is no such node."""
        metadata = patch.get("metadata") or {}
        if not isinstance(metadata, Mapping):
            raise _BadRequestError("metadata must be an object")
        with self._lock:
            node = self._nodes.get(name)
            if node is None:
                return None
            for key in ("labels", "annotations"):
                changes = metadata.get(key)
                if changes is None:
                    continue
                if not isinstance(changes, Mapping):
                    raise _BadRequestError(f"metadata.{key} must be an object")
                target = node["metadata"].setdefault(key, {})
                for k, v in changes.items():
                    if v is None:
                        target.pop(k, None)
                    elif isinstance(v, str):
                        target[k] = v
                    else:
                        raise _BadRequestError(f"metadata.{key}.{k} must be a string")
            node["metadata"]["resourceVersion"] = self._next()
            return copy.deepcopy(node)

    def config_map(self, namespace: str, name: str) -> dict[str, Any] | None:
        with self._lock:
            found = self._config_maps.get((namespace, name))
            return copy.deepcopy(found) if found is not None else None

    def write_config_map(
        self, namespace: str, name: str, body: Mapping[str, Any], create: bool
    ) -> tuple[int, dict[str, Any]]:
        data = body.get("data") or {}
        if not isinstance(data, Mapping) or not all(isinstance(v, str) for v in data.values()):
            raise _BadRequestError("data must map keys to strings")
        metadata = body.get("metadata") or {}
        with self._lock:
            current = self._config_maps.get((namespace, name))
            if create and current is not None:
                return 409, _status(409, "AlreadyExists", f'configmaps "{name}" already exists')
            if not create and current is None:
                return 404, _status(404, "NotFound", f'configmaps "{name}" not found')
            wanted = metadata.get("resourceVersion")
            if current is not None and wanted and wanted != current["metadata"]["resourceVersion"]:
                return 409, _status(
                    409,
                    "Conflict",
                    f'Operation cannot be fulfilled on configmaps "{name}": the object has '
                    "been modified; please apply your changes to the latest version and try again",
                )
            stored = {
                "kind": "ConfigMap",
                "apiVersion": "v1",
                "metadata": {
                    "name": name,
                    "namespace": namespace,
                    "labels": dict(metadata.get("labels") or {}),
                    "resourceVersion": self._next(),
                },
                "data": dict(data),
            }
            self._config_maps[(namespace, name)] = stored
            return (201 if create else 200), copy.deepcopy(stored)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the client's connection pool expects
    server: _Server

    def do_GET(self) -> None:
        self._handle("GET")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_POST(self) -> None:
        self._handle("POST")

    def _handle(self, method: str) -> None:
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        parts = [p for p in url.path.split("/") if p]
        try:
            if method == "GET":
                code, body = self._route(parts, query)
            else:
                code, body = self._write(method, parts, self._body())
        except _BadRequestError as exc:
            code, body = 400, _status(400, "BadRequest", str(exc))
        self._send(code, body)

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"{}")
        except ValueError as exc:
            raise _BadRequestError(f"the body is not JSON: {exc}") from exc
        if not isinstance(body, dict):
            raise _BadRequestError("the body must be a JSON object")
        return body

    def _write(self, method: str, parts: list[str], body: Mapping[str, Any]) -> tuple[int, Any]:
        objects = self.server.objects
        if objects is None:
            return 405, _status(405, "MethodNotAllowed", "this server is read-only")
        if method == "PATCH" and len(parts) == 4 and parts[:3] == ["api", "v1", "nodes"]:
            content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip()
            if content_type not in (
                "application/merge-patch+json",
                "application/strategic-merge-patch+json",
            ):
                return 415, _status(
                    415,
                    "UnsupportedMediaType",
                    f"the body of type {content_type!r} is not "
                    "supported (merge-patch+json or strategic-merge-patch+json)",
                )
            node = objects.patch_node(parts[3], body)
            if node is None:
                return 404, _status(404, "NotFound", f'nodes "{parts[3]}" not found')
            return 200, node
        if (
            parts[:3] == ["api", "v1", "namespaces"]
            and len(parts) >= 5
            and parts[4] == "configmaps"
        ):
            namespace = parts[3]
            if method == "POST" and len(parts) == 5:
                name = str((body.get("metadata") or {}).get("name") or "")
                if not name:
                    raise _BadRequestError("metadata.name is required")
                return objects.write_config_map(namespace, name, body, create=True)
            if method == "PUT" and len(parts) == 6:
                return objects.write_config_map(namespace, parts[5], body, create=False)
        return 405, _status(405, "MethodNotAllowed", f"{method} is not supported here")

    def _route(self, parts: list[str], query: Mapping[str, str]) -> tuple[int, Any]:
        objects = self.server.objects
        if objects is not None and parts[:3] == ["api", "v1", "nodes"] and len(parts) <= 4:
            if len(parts) == 3:
                return 200, {
                    "kind": "NodeList",
                    "apiVersion": "v1",
                    "metadata": {"resourceVersion": str(self.server.next_resource_version())},
                    "items": objects.nodes(),
                }
            node = objects.node(parts[3])
            if node is None:
                return 404, _status(404, "NotFound", f'nodes "{parts[3]}" not found')
            return 200, node
        if (
            objects is not None
            and len(parts) == 6
            and parts[:3] == ["api", "v1", "namespaces"]
            and parts[4] == "configmaps"
        ):
            found = objects.config_map(parts[3], parts[5])
            if found is None:
                return 404, _status(404, "NotFound", f'configmaps "{parts[5]}" not found')
            return 200, found
        if parts == ["version"]:
            return 200, VERSION
        if parts == ["api", "v1", "pods"]:
            return 200, self._pod_list(None, query)
        if parts == ["apis", "resource.k8s.io", "v1", "resourceslices"]:
            field_ok = _parse_field_selector(query.get("fieldSelector", ""), _RESOURCE_SLICE_FIELDS)
            return 200, {
                "kind": "ResourceSliceList",
                "apiVersion": "resource.k8s.io/v1",
                "metadata": {"resourceVersion": str(self.server.next_resource_version())},
                "items": [s for s in self._resource_slices() if field_ok(s)],
            }
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

    def _resource_slices(self) -> list[Mapping[str, Any]]:
        provider = self.server.resource_slice_provider
        return list(provider().get("items") or []) if provider is not None else []

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

    resource_slice_provider: ResourceSliceProvider | None = None

    def __init__(
        self,
        provider: PodListProvider,
        objects: ClusterObjects | None,
        resource_slice_provider: ResourceSliceProvider | None = None,
    ) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.pod_list_provider = provider
        self.resource_slice_provider = resource_slice_provider
        self.objects = objects
        self._resource_version = 1000
        self._lock = threading.Lock()

    def next_resource_version(self) -> int:
        with self._lock:
            self._resource_version += 1
            return self._resource_version


class KubeApiServer:
    """The fake API server on a free loopback port; ``url`` is what the client is given.
    ``objects``: the cluster's nodes and ConfigMaps (None: a node's read-only pod view);
    ``resource_slice_provider``: the node's DRA ResourceSlices (None: none published)."""

    def __init__(
        self,
        pod_list_provider: PodListProvider,
        objects: ClusterObjects | None = None,
        resource_slice_provider: ResourceSliceProvider | None = None,
    ) -> None:
        self._provider = pod_list_provider
        self._resource_slice_provider = resource_slice_provider
        self.objects = objects
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
        self._server = _Server(self._provider, self.objects, self._resource_slice_provider)
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
