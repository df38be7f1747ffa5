"""A real Alertmanager (Debian's ``prometheus-alertmanager``) on loopback, with a generated
configuration whose one receiver is the analytics service's Alertmanager webhook receiver.

The bearer credentials (an operator API key of the analytics service) go in a file next to the
configuration (mode 0600, ``credentials_file``), never on a command line. Clustering is off
(``--cluster.listen-address=``), so nothing binds the gossip port; state lives in a temporary
data directory. ``start`` returns once ``/-/ready`` answers; ``stop`` sends SIGTERM, then
SIGKILL after a grace period.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from devstack.prometheus import free_port
from devstack.server import PORT_TAKEN, HttpServerProcess, ServerError

RECEIVER = "gpu-analytics"
_BIND_ATTEMPTS = 3


class AlertmanagerError(ServerError):
    """Alertmanager could not be found, configured or started; the message quotes its log."""


def binary() -> str:
    for name in ("prometheus-alertmanager", "alertmanager"):
        path = shutil.which(name)
        if path is not None:
            return path
    raise AlertmanagerError(
        "Alertmanager is not installed: `make test` / `make demo` install Debian's "
        "prometheus-alertmanager (scripts/bootstrap.sh)"
    )


def render_config(
    receiver_url: str,
    credentials_file: Path | None,
    *,
    group_wait: str = "1s",
    group_interval: str = "5s",
    repeat_interval: str = "1h",
    resolve_timeout: str = "5m",
) -> dict[str, Any]:
    """One route, one webhook receiver; every alert is its own group (``group_by: [...]``)
    so each reaches the receiver as soon as ``group_wait`` has passed."""
    webhook: dict[str, Any] = {"url": receiver_url, "send_resolved": True, "max_alerts": 0}
    if credentials_file is not None:
        webhook["http_config"] = {
            "authorization": {"type": "Bearer", "credentials_file": str(credentials_file)}
        }
    return {
        "global": {"resolve_timeout": resolve_timeout},
        "route": {
            "receiver": RECEIVER,
            "group_by": ["..."],
            "group_wait": group_wait,
            "group_interval": group_interval,
            "repeat_interval": repeat_interval,
        },
        "receivers": [{"name": RECEIVER, "webhook_configs": [webhook]}],
    }


class AlertmanagerServer(HttpServerProcess):
    """Start with ``start()`` (or as a context manager); ``url`` is its base URL."""

    NAME = "alertmanager"
    ERROR = AlertmanagerError
    STOP_GRACE = 10.0

    def __init__(
        self,
        workdir: Path,
        receiver_url: str,
        *,
        bearer_token: str | None = None,
        port: int = 0,
        host: str = "127.0.0.1",
        group_wait: str = "1s",
        group_interval: str = "5s",
        repeat_interval: str = "1h",
        log_level: str = "warn",
    ) -> None:
        self.workdir = Path(workdir)
        self.receiver_url = receiver_url
        self.bearer_token = bearer_token
        self.requested_port = port
        self.port = port or free_port()
        self.host = host
        self.group_wait = group_wait
        self.group_interval = group_interval
        self.repeat_interval = repeat_interval
        self.log_level = log_level
        self.config_path = self.workdir / "alertmanager.yml"
        self.credentials_path = self.workdir / "receiver.credentials"
        self.data_dir = self.workdir / "data"
        self.log_path = self.workdir / "alertmanager.log"
        self.process: subprocess.Popen[bytes] | None = None

    def write_config(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        credentials = None
        if self.bearer_token is not None:
            fd = os.open(self.credentials_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(self.bearer_token)
            credentials = self.credentials_path
        config = render_config(
            self.receiver_url,
            credentials,
            group_wait=self.group_wait,
            group_interval=self.group_interval,
            repeat_interval=self.repeat_interval,
        )
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False))

    def start(self, timeout: float = 30.0) -> None:
        self.write_config()
        for attempt in range(_BIND_ATTEMPTS):
            self._spawn()
            try:
                self.wait_ready(timeout)
                return
            except AlertmanagerError as exc:
                self.stop()
                taken = PORT_TAKEN.search(str(exc))
                if self.requested_port or not taken or attempt == _BIND_ATTEMPTS - 1:
                    raise
                self.port = free_port()

    def _spawn(self) -> None:
        from devstack.processes import spawn

        command = [
            binary(),
            f"--config.file={self.config_path}",
            f"--storage.path={self.data_dir}",
            f"--web.listen-address={self.host}:{self.port}",
            "--cluster.listen-address=",
            f"--log.level={self.log_level}",
        ]
        self.process = spawn(command, log_path=self.log_path)

    def alerts(self) -> list[dict[str, Any]]:
        """The alerts Alertmanager holds now (API v2)."""
        import json

        with urllib.request.urlopen(self.url + "/api/v2/alerts", timeout=10) as response:
            result: list[dict[str, Any]] = json.loads(response.read())
        return result
