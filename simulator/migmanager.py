"""A simulated NVIDIA mig-manager: applies the node's ``nvidia.com/mig.config`` to the fake NVML.

The GPU operator's mig-manager (https://github.com/NVIDIA/mig-parted, ``deployments/gpu-operator``;
https://docs.nvidia.com/datacenter/cloud-native/gpu-operator/latest/gpu-operator-mig.html) runs
on every GPU node, watches its Node object's ``nvidia.com/mig.config`` label and, when the value
changes: sets ``nvidia.com/mig.config.state=pending``, reads the named config from the mig-parted
config file (a ConfigMap), applies it with ``nvidia-mig-parted apply`` (GPUs whose state already
matches their entry are left alone; a GPU with processes on it cannot be repartitioned and the
apply fails) and sets the state to ``success`` or ``failed``.

:class:`MigManager` does the same against the simulated cluster's API server
(:mod:`simulator.kubeapi`) for one :class:`simulator.node.SimulatedNode`, polling instead of
watching, and applying after ``apply_delay_seconds`` (the real one takes tens of seconds: it
stops the operator's GPU clients, repartitions and restarts them). It runs in the process that
holds the node's fake NVML (``python -m simulator.exporter --simulated-mig-manager URL``), so
the exporter sees the new MIG devices at its next MIG re-enumeration.
"""

from __future__ import annotations

import json
import logging
import threading
import urllib.request
from collections.abc import Mapping
from typing import Any

import yaml

from gpucatalog.placement import MigLayoutError, mig_parted_layouts
from simulator.node import MigApplyError, SimulatedNode

log = logging.getLogger(__name__)

MIG_CONFIG_LABEL = "nvidia.com/mig.config"
MIG_CONFIG_STATE_LABEL = "nvidia.com/mig.config.state"
CONFIG_KEY = "config.yaml"
DEFAULT_CONFIG_MAP = "gpu-operator/gpu-analytics-mig-parted-config"


class MigManager:
    """Polls the node's labels every ``poll_seconds`` until :meth:`stop`; see the module doc."""

    def __init__(
        self,
        node: SimulatedNode,
        kube_api_url: str,
        *,
        config_map: str = DEFAULT_CONFIG_MAP,
        poll_seconds: float = 1.0,
        apply_delay_seconds: float = 2.0,
    ) -> None:
        self.node = node
        self._url = kube_api_url.rstrip("/")
        namespace, _, name = config_map.partition("/")
        self._namespace, self._name = (namespace, name) if name else ("default", namespace)
        self._poll = poll_seconds
        self._delay = apply_delay_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # The config last applied (or failed): the real one also acts on changes only.
        self.applied: str | None = None

    def start(self) -> MigManager:
        self._thread = threading.Thread(
            target=self._run, name=f"mig-manager-{self.node.name}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.reconcile_once()
            except (OSError, ValueError) as exc:
                log.warning("mig-manager %s: %s", self.node.name, exc)
            self._stop.wait(self._poll)

    def reconcile_once(self) -> str | None:
        """Apply the labelled config if it changed; the state label it set (None: no change)."""
        node = self._get(f"/api/v1/nodes/{self.node.name}")
        labels = (node.get("metadata") or {}).get("labels") or {}
        wanted = labels.get(MIG_CONFIG_LABEL)
        if not wanted or wanted == self.applied:
            return None
        self._label({MIG_CONFIG_STATE_LABEL: "pending"})
        if self._stop.wait(self._delay):
            return None
        state = "success"
        try:
            self.node.apply_mig_layouts(self._layouts(wanted))
        except (MigApplyError, MigLayoutError, KeyError) as exc:
            log.warning("mig-manager %s: config %s failed: %s", self.node.name, wanted, exc)
            state = "failed"
        self.applied = wanted
        self._label({MIG_CONFIG_STATE_LABEL: state})
        return state

    def _layouts(self, name: str) -> dict[int, list[str] | None]:
        config_map = self._get(f"/api/v1/namespaces/{self._namespace}/configmaps/{self._name}")
        text = (config_map.get("data") or {}).get(CONFIG_KEY)
        if not text:
            raise KeyError(f"ConfigMap {self._namespace}/{self._name} has no {CONFIG_KEY}")
        parted = yaml.safe_load(text)
        if not isinstance(parted, Mapping):
            raise KeyError(f"{CONFIG_KEY} is not a mig-parted config")
        by_device = mig_parted_layouts(parted, name)
        everything = by_device.pop("all", "unset")
        layouts: dict[int, list[str] | None] = {
            int(k): v for k, v in by_device.items() if isinstance(k, int)
        }
        if everything != "unset":
            for gpu in self.node.spec.gpus:
                layouts.setdefault(gpu.index, everything if isinstance(everything, list) else None)
        return layouts

    def _get(self, path: str) -> dict[str, Any]:
        with urllib.request.urlopen(self._url + path, timeout=5) as response:
            body = json.loads(response.read())
        if not isinstance(body, dict):
            raise ValueError(f"GET {path}: not an object")
        return body

    def _label(self, labels: Mapping[str, str]) -> None:
        request = urllib.request.Request(
            f"{self._url}/api/v1/nodes/{self.node.name}",
            data=json.dumps({"metadata": {"labels": dict(labels)}}).encode(),
            method="PATCH",
            headers={"Content-Type": "application/merge-patch+json"},
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            response.read()
