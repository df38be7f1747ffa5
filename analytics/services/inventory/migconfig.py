"""Desired MIG layouts handed to the cluster: one mig-parted config per node, and its label.

NVIDIA's GPU operator applies MIG layouts through its mig-manager: a DaemonSet pod per node that
watches the node's ``nvidia.com/mig.config`` label, looks the label's value up among the named
configs of a mig-parted config file (a ConfigMap the ClusterPolicy names in
``migManager.config.name``), applies it with ``nvidia-mig-parted apply`` and reports the outcome
in the node label ``nvidia.com/mig.config.state`` (``pending``, ``rebooting``, ``success``,
``failed``). See https://docs.nvidia.com/datacenter/cloud-native/gpu-operator/latest/gpu-operator-mig.html
and https://github.com/NVIDIA/mig-parted.

A label names one config for the whole node, so the config written here covers every MIG-capable
GPU of the node with ``devices: [index]`` entries: the desired instances of the GPUs that have
some, the observed ones of GPUs whose layout nobody asked for through this API (so they are left
as they are), and ``mig-enabled: false`` for GPUs with neither. mig-parted leaves a GPU whose
state already matches its entry untouched, so publishing one GPU's change does not disturb the
others. The config's name is a hash of its content: a new layout is a new label value, which is
what the mig-manager reacts to.

Publishing is on when ``mig_apply`` is set (off by default: nothing writes to a cluster
unasked); the service account then needs ``get``/``patch`` on nodes and ``get``/``create``/
``update`` on the ConfigMap (the Helm chart's RBAC grants them when the value is on).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
import yaml

from analytics.clock import Clock
from analytics.store import devices as device_store
from analytics.store import mig as mig_store
from analytics.store.db import Database
from analytics.store.devices import DeviceFilter
from gpucatalog.mig import mig_profiles
from gpucatalog.placement import Devices, mig_parted_config

log = logging.getLogger(__name__)

MIG_CONFIG_LABEL = "nvidia.com/mig.config"
MIG_CONFIG_STATE_LABEL = "nvidia.com/mig.config.state"
CONFIG_KEY = "config.yaml"
CONFIG_NAME_PREFIX = "gpu-analytics-"
_HASH_CHARS = 16
# Where a pod finds its service account (https://kubernetes.io/docs/tasks/run-application/access-api-from-pod/).
SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")
IN_CLUSTER_URL = "https://kubernetes.default.svc"


class KubeApiError(RuntimeError):
    """The Kubernetes API refused or could not be reached; the message says which call."""


@dataclass(frozen=True)
class NodeMigConfig:
    """The mig-parted config of one node: its name (the label value) and the config itself."""

    node_name: str
    name: str
    config: dict[str, Any]


def node_mig_config(database: Database, clock: Clock, node_name: str) -> NodeMigConfig | None:
    """The config that applies every MIG-capable GPU's layout on ``node_name``, as stored now;
    None when the node has no MIG-capable GPU."""
    now = clock.now()
    with database.read() as conn:
        devices = device_store.list_devices(conn, now, DeviceFilter(node_name=node_name))
        instances = [i for i in mig_store.instances(conn, now) if i.node_name == node_name]
    entries: list[tuple[Devices, Sequence[str] | None]] = []
    for device in devices:
        if not mig_profiles(device.model_id):
            continue
        mine = [i for i in instances if i.device_id == device.device_id]
        desired = [i.profile for i in sorted(mine, key=lambda i: i.start_slice) if i.desired]
        observed = [i.profile for i in sorted(mine, key=lambda i: i.start_slice) if i.observed]
        profiles: list[str] | None = desired or observed or None
        entries.append(([device.device_index], profiles))
    if not entries:
        return None
    content = yaml.safe_dump(
        [[list(d) if not isinstance(d, str) else d, p] for d, p in entries], sort_keys=True
    )
    name = CONFIG_NAME_PREFIX + hashlib.sha256(content.encode()).hexdigest()[:_HASH_CHARS]
    return NodeMigConfig(node_name, name, mig_parted_config({name: entries}))


class KubeClient:
    """The few Kubernetes API calls publishing needs, over plain HTTP(S) with a bearer token.

    ``url`` empty: in the cluster, with the pod's service account (token and CA bundle)."""

    def __init__(self, url: str, timeout_seconds: float = 5.0) -> None:
        self._session = requests.Session()
        self._timeout = timeout_seconds
        if url:
            self._url = url.rstrip("/")
        else:
            self._url = IN_CLUSTER_URL
            self._session.verify = str(SERVICE_ACCOUNT / "ca.crt")
        self._token_file = SERVICE_ACCOUNT / "token"

    def _headers(self, content_type: str | None = None) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if content_type:
            headers["Content-Type"] = content_type
        # Projected tokens rotate: read the file at each call, as client-go does. Outside a
        # pod (a kube_api_url of a local server) there is none, and none is sent.
        with contextlib.suppress(OSError):
            headers["Authorization"] = "Bearer " + self._token_file.read_text().strip()
        return headers

    def request(
        self, method: str, path: str, body: Any = None, content_type: str | None = None
    ) -> tuple[int, Any]:
        try:
            response = self._session.request(
                method,
                self._url + path,
                json=body,
                headers=self._headers(content_type or ("application/json" if body else None)),
                timeout=self._timeout,
            )
        except requests.RequestException as exc:
            raise KubeApiError(f"{method} {path}: {exc}") from exc
        try:
            data = response.json()
        except ValueError:
            data = None
        if response.status_code >= 400 and response.status_code != 404:
            message = data.get("message") if isinstance(data, dict) else response.text[:200]
            raise KubeApiError(f"{method} {path}: {response.status_code} {message}")
        return response.status_code, data

    def patch_node_labels(self, node_name: str, labels: Mapping[str, str | None]) -> None:
        status, _body = self.request(
            "PATCH",
            f"/api/v1/nodes/{node_name}",
            {"metadata": {"labels": dict(labels)}},
            "application/merge-patch+json",
        )
        if status == 404:
            raise KubeApiError(f"node {node_name} not found")

    def read_config_map(self, namespace: str, name: str) -> dict[str, Any] | None:
        status, body = self.request("GET", f"/api/v1/namespaces/{namespace}/configmaps/{name}")
        return body if status == 200 and isinstance(body, dict) else None

    def write_config_map(
        self, namespace: str, name: str, data: Mapping[str, str], resource_version: str | None
    ) -> None:
        """Create the ConfigMap, or replace it (``resource_version``: only if unchanged since
        read; the API answers 409 otherwise)."""
        metadata: dict[str, Any] = {
            "name": name,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/managed-by": "gpu-analytics"},
        }
        body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": dict(data)}
        if resource_version is None:
            self.request("POST", f"/api/v1/namespaces/{namespace}/configmaps", body)
            return
        metadata["resourceVersion"] = resource_version
        self.request("PUT", f"/api/v1/namespaces/{namespace}/configmaps/{name}", body)


class MigConfigPublisher:
    """Writes a node's :func:`node_mig_config` into the shared mig-parted ConfigMap, then sets
    the node's ``nvidia.com/mig.config`` label to its name (the ConfigMap first, so the
    mig-manager never reads a label whose config is not there yet)."""

    def __init__(self, database: Database, clock: Clock, kube: KubeClient, config_map: str) -> None:
        self._db = database
        self._clock = clock
        self._kube = kube
        namespace, _, name = config_map.partition("/")
        self._namespace, self._name = (namespace, name) if name else ("default", namespace)

    def publish(self, node_name: str) -> str | None:
        """The label value set on the node (None: the node has no MIG-capable GPU, or the
        cluster refused; logged)."""
        config = node_mig_config(self._db, self._clock, node_name)
        if config is None:
            return None
        try:
            self._merge(config)
            self._kube.patch_node_labels(node_name, {MIG_CONFIG_LABEL: config.name})
        except KubeApiError as exc:
            log.warning("MIG layout of node %s not published: %s", node_name, exc)
            return None
        log.info("MIG layout of node %s published as %s", node_name, config.name)
        return config.name

    def republish(self, node_names: Sequence[str]) -> int:
        """Publish each node again (the inventory sync's healing of failed publishes); stops at
        the first refusal, as the rest would wait on the same unreachable API. How many went."""
        done = 0
        for node_name in node_names:
            config = node_mig_config(self._db, self._clock, node_name)
            if config is None:
                continue
            try:
                self._merge(config)
                self._kube.patch_node_labels(node_name, {MIG_CONFIG_LABEL: config.name})
            except KubeApiError as exc:
                log.warning(
                    "MIG layouts not published again (%d node(s) left): %s",
                    len(node_names) - done,
                    exc,
                )
                break
            done += 1
        return done

    def _merge(self, config: NodeMigConfig) -> None:
        # Read, add our config, write back only if nobody changed it meanwhile; a few tries.
        for _ in range(3):
            current = self._kube.read_config_map(self._namespace, self._name)
            version = None
            parted: dict[str, Any] = {"version": "v1", "mig-configs": {}}
            if current is not None:
                version = (current.get("metadata") or {}).get("resourceVersion")
                text = (current.get("data") or {}).get(CONFIG_KEY) or ""
                loaded = yaml.safe_load(text) if text else None
                if isinstance(loaded, dict) and isinstance(loaded.get("mig-configs"), dict):
                    parted = loaded
            configs = parted["mig-configs"]
            new = config.config["mig-configs"]
            if all(configs.get(name) == entry for name, entry in new.items()):
                return  # already there: no write, no new resourceVersion for watchers
            configs.update(new)
            text = yaml.safe_dump(parted, sort_keys=False)
            try:
                self._kube.write_config_map(
                    self._namespace, self._name, {CONFIG_KEY: text}, version
                )
                return
            except KubeApiError as exc:
                if " 409 " not in str(exc):
                    raise
        raise KubeApiError(f"ConfigMap {self._namespace}/{self._name} kept changing")
