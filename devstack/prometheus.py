"""A real Prometheus server (Debian's package) on loopback, with a generated configuration.

Used by the demo, the integration tests and the benchmarks: scrape jobs and rule files go in,
a ready server comes out, and it is stopped cleanly (SIGTERM, then SIGKILL after a grace period).
Backfilled TSDB blocks placed in the data directory before start are served as history; the
retention is set far beyond any backfill so Prometheus does not delete it.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from devstack.server import HttpServerProcess, ServerError, start_logged


class PrometheusError(ServerError):
    """The server could not be found, configured or started."""


@dataclass(frozen=True)
class ScrapeJob:
    name: str
    targets: tuple[str, ...]  # host:port
    honor_labels: bool = True  # our exporter and kube-state-metrics carry their own pod labels
    metrics_path: str = "/metrics"
    scrape_interval: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    # Extra labels for single targets (host:port -> labels), e.g. {"instance": "gpu-worker-1"}
    # so that series keep their identity when a target moves to another port.
    target_labels: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    # File-based service discovery: JSON/YAML target files Prometheus re-reads when they
    # change (devstack.scale writes one target per simulated node there).
    file_sd_files: tuple[str, ...] = ()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def binary(name: str = "prometheus") -> str:
    path = shutil.which(name)
    if path is None:
        raise PrometheusError(
            f"{name} is not installed: `make test` / `make demo` install Debian's prometheus"
        )
    return path


def render_config(
    jobs: Sequence[ScrapeJob],
    rule_files: Sequence[Path] = (),
    scrape_interval: str = "15s",
    evaluation_interval: str = "15s",
    external_labels: Mapping[str, str] | None = None,
    alertmanagers: Sequence[str] = (),
) -> dict[str, Any]:
    config: dict[str, Any] = {
        "global": {
            "scrape_interval": scrape_interval,
            "evaluation_interval": evaluation_interval,
            # Prometheus refuses a timeout longer than the interval.
            "scrape_timeout": _min_duration("10s", scrape_interval),
        },
        "rule_files": [str(p) for p in rule_files],
        "scrape_configs": [],
    }
    if external_labels:
        config["global"]["external_labels"] = dict(external_labels)
    if alertmanagers:  # host:port of each Alertmanager that gets the firing alerts
        config["alerting"] = {
            "alertmanagers": [{"static_configs": [{"targets": list(alertmanagers)}]}]
        }
    for job in jobs:
        plain = [t for t in job.targets if t not in job.target_labels]
        static_configs: list[dict[str, Any]] = []
        if plain:
            static_configs.append({"targets": plain, "labels": dict(job.labels)})
        for target in job.targets:
            if target in job.target_labels:
                labels = {**job.labels, **job.target_labels[target]}
                static_configs.append({"targets": [target], "labels": labels})
        entry: dict[str, Any] = {
            "job_name": job.name,
            "honor_labels": job.honor_labels,
            "metrics_path": job.metrics_path,
            "static_configs": static_configs,
        }
        if job.file_sd_files:
            entry["file_sd_configs"] = [{"files": list(job.file_sd_files)}]
        if job.scrape_interval:
            entry["scrape_interval"] = job.scrape_interval
        config["scrape_configs"].append(entry)
    return config


def duration_seconds(duration: str) -> float:
    """A simple Prometheus duration (``15s``, ``1m``, ``500ms``) in seconds."""
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
    for suffix in ("ms", "s", "m", "h", "d"):
        if duration.endswith(suffix) and duration[: -len(suffix)].isdigit():
            return int(duration[: -len(suffix)]) * units[suffix]
    raise PrometheusError(f"not a simple Prometheus duration: {duration!r}")


def _min_duration(a: str, b: str) -> str:
    return a if duration_seconds(a) <= duration_seconds(b) else b


class PrometheusServer(HttpServerProcess):
    """Start with ``start()`` (or as a context manager); ``url`` is the HTTP API base."""

    NAME = "prometheus"
    ERROR = PrometheusError
    STOP_GRACE = 15.0

    def __init__(
        self,
        workdir: Path,
        jobs: Sequence[ScrapeJob] = (),
        *,
        rule_files: Sequence[Path] = (),
        port: int = 0,
        host: str = "127.0.0.1",
        scrape_interval: str = "15s",
        evaluation_interval: str = "15s",
        retention: str = "3650d",
        log_level: str = "warn",
        own_session: bool = False,
        alertmanagers: Sequence[str] = (),
    ) -> None:
        self.workdir = Path(workdir)
        self.data_dir = self.workdir / "data"
        self.config_path = self.workdir / "prometheus.yml"
        self.jobs = tuple(jobs)
        self.rule_files = tuple(rule_files)
        self.alertmanagers = tuple(alertmanagers)
        self.host = host
        self.port = port or free_port()
        self.scrape_interval = scrape_interval
        self.evaluation_interval = evaluation_interval
        self.retention = retention
        self.log_level = log_level
        # True: a session of its own, SIGTERMed when this process dies (devstack.processes).
        self.own_session = own_session
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = self.workdir / "prometheus.log"

    def write_config(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = render_config(
            self.jobs,
            self.rule_files,
            self.scrape_interval,
            self.evaluation_interval,
            alertmanagers=self.alertmanagers,
        )
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False))

    def start(self, timeout: float = 60.0) -> None:
        self.write_config()
        command = [
            binary(),
            f"--config.file={self.config_path}",
            f"--storage.tsdb.path={self.data_dir}",
            f"--storage.tsdb.retention.time={self.retention}",
            f"--web.listen-address={self.host}:{self.port}",
            "--web.enable-lifecycle",
            f"--log.level={self.log_level}",
        ]
        self.process = start_logged(command, self.log_path, own_session=self.own_session)
        self.wait_ready(timeout)


def query(url: str, promql: str, at: float | None = None, timeout: float = 10.0) -> Any:
    """Instant query through the HTTP API; returns ``data`` of the answer (tests and tools).

    Also for VictoriaMetrics (devstack.victoriametrics): ``nocache=1``, which Prometheus
    ignores, makes it evaluate at ``at`` even within its 30 s latency offset of now."""
    from urllib.parse import urlencode

    params = {"query": promql, "nocache": "1"}
    if at is not None:
        params["time"] = f"{at:.3f}"
    with urllib.request.urlopen(f"{url}/api/v1/query?{urlencode(params)}", timeout=timeout) as r:
        import json

        body = json.loads(r.read())
    if body.get("status") != "success":
        raise PrometheusError(f"query failed: {body}")
    return body["data"]


def query_range(
    url: str, promql: str, start: float, end: float, step: float, timeout: float = 30.0
) -> Any:
    """Range query through the HTTP API; returns ``data`` of the answer (tests and tools)."""
    from urllib.parse import urlencode

    params = {"query": promql, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step:g}"}
    with urllib.request.urlopen(
        f"{url}/api/v1/query_range?{urlencode(params)}", timeout=timeout
    ) as r:
        import json

        body = json.loads(r.read())
    if body.get("status") != "success":
        raise PrometheusError(f"query failed: {body}")
    return body["data"]


def backfill_command(
    openmetrics_file: Path, data_dir: Path, max_block_hours: int = 1458
) -> list[str]:
    """The promtool command line that turns an OpenMetrics file into blocks in ``data_dir``.

    A large --max-block-duration makes a month of history one or two blocks instead of hundreds
    of two-hour ones (seconds instead of minutes). promtool parses the whole file once per block
    and aligns blocks to multiples of their length; 1458 h (2 h · 3^6) is the largest length
    it uses.
    """
    return [
        binary("promtool"),
        "tsdb",
        "create-blocks-from",
        "openmetrics",
        f"--max-block-duration={max_block_hours}h",
        str(openmetrics_file),
        str(data_dir),
    ]


def backfill_openmetrics(
    openmetrics_file: Path, data_dir: Path, max_block_hours: int = 1458
) -> None:
    """Turn an OpenMetrics file into TSDB blocks in ``data_dir`` with promtool
    (:func:`backfill_command`)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        backfill_command(openmetrics_file, data_dir, max_block_hours),
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise PrometheusError(f"promtool backfill failed: {result.stderr[-2000:]}")
