"""The whole product on one machine, for the demo, the integration tests and the benchmarks.

For a fleet file a :class:`Stack` (1) loads the fleet's history into a fresh Prometheus data
directory (:mod:`devstack.history`: generated, backfilled, cached), (2) starts one real exporter
per node on the simulator (``python -m simulator.exporter``) and (3) one
``python -m simulator.cluster`` for the kube-state-metrics and cAdvisor series, (4) starts the
real Prometheus on the backfilled TSDB, scraping them and evaluating every rule file in
``alerts/``, and (5) optionally the analytics service under gunicorn, pointed at that
Prometheus. Everything binds to loopback ports and is stopped in reverse order on exit, on
SIGINT/SIGTERM (:meth:`Stack.wait`), and by the kernel if the process holding the Stack dies
(:mod:`devstack.processes`).

``backend="victoriametrics"`` puts a single-node VictoriaMetrics where Prometheus would be
(:mod:`devstack.victoriametrics`): the same backfilled blocks imported (promtool dump), the same
scrape jobs scraped by VictoriaMetrics itself, the same rule files evaluated by vmalert.

Scrape jobs (their labels are the ones :class:`simulator.history.TargetLabels` writes into the
history, so backfilled and live samples are the same series):

=======================  ==============================  =====================================
job                      target                          instance label
=======================  ==============================  =====================================
``gpu-exporter``         each exporter's ``/metrics``    the node name
``kube-state-metrics``   the cluster server ``/metrics`` ``simulated-cluster``
``cadvisor``             ``/metrics/cadvisor``           ``simulated-cluster``
=======================  ==============================  =====================================

All with ``honor_labels: true``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from types import FrameType, TracebackType

from devstack.alertmanager import AlertmanagerServer
from devstack.history import HistoryInfo, prepare_history
from devstack.processes import descendants, spawn, stop
from devstack.prometheus import PrometheusError, PrometheusServer, ScrapeJob, free_port
from devstack.server import PORT_TAKEN, http_ok, log_tail
from devstack.victoriametrics import VictoriaMetricsError, VictoriaMetricsServer
from simulator.fleet import load_fleet
from simulator.history import DEFAULT_STATE_INTERVAL_S, DEFAULT_TARGETS

ROOT = Path(__file__).resolve().parent.parent
# Every rule file of alerts/ (recording, alert, catalogue and dcgm-compatibility rules), as a
# real deployment loads them; the promtool unit tests under alerts/tests/ are not rule files.
RULE_FILES = tuple(sorted((ROOT / "alerts").glob("*.yml")))
API_PREFIX = "/k8s-monitor/api/v1"
# The scrape job of the analytics service's own /metrics.
ANALYTICS_JOB = "gpu-analytics"
_EXPORTER_URL = re.compile(r"serving (http://\S+)/metrics")
_CLUSTER_URL = re.compile(r'"url": "(http://[^"]+)"')
_KUBE_API_URL = re.compile(r'"kube_api_url": "(http://[^"]+)"')
# How often each exporter re-enumerates MIG devices with the simulated mig-manager on (the GPU
# operator restarts its GPU clients after a reconfiguration; ours notices within this).
MIG_REFRESH_SECONDS = 2
_BIND_ATTEMPTS = 3
# The metrics backends a Stack can run (the analytics service speaks Prometheus' API to both).
BACKENDS = ("prometheus", "victoriametrics")


class StackError(RuntimeError):
    """A part of the stack did not start; the message names it and quotes its log."""


# gunicorn workers of the stack's analytics service (the demo's), as in the chart's values.
ANALYTICS_WORKERS = 2


def analytics_command(bind: str, workers: int) -> list[str]:
    """How the stack runs the analytics service: ``gpu-analytics serve`` with its defaults
    (the buffered worker class, 4 threads per worker)."""
    return [sys.executable, "-m", "analytics", "serve", "--bind", bind, "--workers", str(workers)]


class Stack:
    """Start with :meth:`start` or ``with Stack(...) as stack:``; see the module docstring.

    ``end`` (unix seconds, default now) is where the history stops; live scraping takes over
    from there. ``step`` and ``days`` shape the history; ``scrape_interval`` is Prometheus'
    (tests use 1-2 s). ``workdir`` keeps logs and data (default: a temporary directory, removed
    on stop). ``cache_dir`` holds generated histories between runs (default:
    ``~/.cache/k8s-gpu-management/history``). ``start()`` returns once every target has been
    scraped (``wait_for_scrapes``; Prometheus applies new targets every 5 s) and the analytics
    service answers ``/readyz``.
    """

    def __init__(
        self,
        fleet: Path,
        *,
        days: float = 30.0,
        step: int = 60,
        end: float | None = None,
        state_interval: int = DEFAULT_STATE_INTERVAL_S,
        scrape_interval: str = "15s",
        evaluation_interval: str = "15s",
        analytics: bool = True,
        analytics_port: int = 0,
        analytics_workers: int = ANALYTICS_WORKERS,
        prometheus_port: int = 0,
        host: str = "127.0.0.1",
        workdir: Path | None = None,
        cache_dir: Path | None = None,
        history_workers: int | None = None,
        start_timeout: float = 60.0,
        wait_for_scrapes: bool = True,
        log: Callable[[str], None] | None = None,
        alertmanager: bool = False,
        alertmanager_group_wait: str = "1s",
        analytics_env: Mapping[str, str] | None = None,
        rule_files: Sequence[Path] | None = None,
        backend: str = "prometheus",
        mig_manager: bool = False,
    ) -> None:
        if backend not in BACKENDS:
            raise StackError(f"unknown metrics backend {backend!r} (one of {', '.join(BACKENDS)})")
        self.backend = backend
        self.fleet_path = Path(fleet).resolve()
        self.fleet = load_fleet(self.fleet_path)
        self.days = days
        self.step = step
        self.end = end
        self.state_interval = state_interval
        self.scrape_interval = scrape_interval
        self.evaluation_interval = evaluation_interval
        self.with_analytics = analytics
        self.analytics_port = analytics_port
        self.analytics_workers = analytics_workers
        self.prometheus_port = prometheus_port
        self.host = host
        self.cache_dir = cache_dir
        self.history_workers = history_workers
        self.start_timeout = start_timeout
        self.wait_for_scrapes = wait_for_scrapes
        self._log = log or (lambda _message: None)
        self._given_workdir = workdir
        self._tempdir: tempfile.TemporaryDirectory[str] | None = None
        self.workdir = Path(workdir) if workdir is not None else Path()
        self.admin_api_key = secrets.token_urlsafe(32)
        self.history: HistoryInfo | None = None
        self.exporter_urls: dict[str, str] = {}
        self.cluster_url = ""
        self.analytics_root = ""
        # The metrics backend (named for the usual one): Prometheus or VictoriaMetrics.
        self.prometheus: PrometheusServer | VictoriaMetricsServer | None = None
        self._processes: list[tuple[str, subprocess.Popen[bytes], Path]] = []
        self._started = False
        # Alertmanager (with analytics): Prometheus sends it the firing alerts, and it sends
        # them to the analytics service's receiver with an operator key made for it.
        self.with_alertmanager = alertmanager
        self.alertmanager_group_wait = alertmanager_group_wait
        self.alertmanager: AlertmanagerServer | None = None
        # Extra GPU_ANALYTICS_* variables for the analytics service (tests: webhook settings).
        self.analytics_env = dict(analytics_env or {})
        # The rule files Prometheus evaluates (default: every file of alerts/).
        self.rule_files = tuple(rule_files) if rule_files is not None else RULE_FILES
        # MIG layouts applied as the GPU operator does (docs/analytics.md, "MIG on demand"):
        # the cluster process serves a Kubernetes API for Nodes and ConfigMaps, each exporter
        # runs its node's simulated mig-manager against it, and the analytics service publishes
        # desired layouts there (mig_apply).
        self.with_mig_manager = mig_manager
        self.kube_api_url = ""

    # -- what callers use --------------------------------------------------------------------

    @property
    def prometheus_url(self) -> str:
        if self.prometheus is None:
            raise StackError("the stack is not started")
        return self.prometheus.url

    @property
    def alertmanager_url(self) -> str:
        """Alertmanager's base URL ('' when not started)."""
        return self.alertmanager.url if self.alertmanager is not None else ""

    @property
    def analytics_url(self) -> str:
        """The API base, ``http://HOST:PORT/k8s-monitor/api/v1`` ('' without analytics)."""
        return self.analytics_root + API_PREFIX if self.analytics_root else ""

    @property
    def history_end(self) -> int:
        """The last backfilled sample time; live scrapes follow it."""
        if self.history is None:
            raise StackError("the stack is not started")
        return self.history.end

    @property
    def history_start(self) -> int:
        if self.history is None:
            raise StackError("the stack is not started")
        return self.history.start

    @property
    def nodes(self) -> tuple[str, ...]:
        return tuple(node.name for node in self.fleet.nodes)

    def pids(self) -> list[int]:
        """Every process the stack runs now, children of its servers included."""
        found: list[int] = []
        for _name, process, _log in self._processes:
            if process.poll() is None:
                found.append(process.pid)
                found.extend(child.pid for child in descendants(process.pid))
        prometheus = self.prometheus.process if self.prometheus is not None else None
        if prometheus is not None and prometheus.poll() is None:
            found.append(prometheus.pid)
        rules = getattr(self.prometheus, "rules_process", None)
        if rules is not None and rules.poll() is None:
            found.append(rules.pid)
        alertmanager = self.alertmanager.process if self.alertmanager is not None else None
        if alertmanager is not None and alertmanager.poll() is None:
            found.append(alertmanager.pid)
        return found

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Stack:
        if self._started:
            return self
        self._started = True
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        if self._given_workdir is None:
            self._tempdir = tempfile.TemporaryDirectory(prefix="gpu-stack-")
            self.workdir = Path(self._tempdir.name)
        self.workdir.mkdir(parents=True, exist_ok=True)
        prometheus_dir = self.workdir / "prometheus"
        end = self.end if self.end is not None else time.time()
        self._log(f"history: {self.days:g} days at {self.step}s steps for {self.fleet_path.name}")
        self.history = self._prepare_history(prometheus_dir / "data", end)
        self._log(
            f"history: {'cached' if self.history.cached else 'generated'}, "
            f"{self.history.samples} samples written in {self.history.seconds:.1f}s"
        )
        self._start_simulated_cluster()
        self._start_prometheus(prometheus_dir)
        # The analytics service starts while Prometheus makes its first scrapes (its scrape
        # manager applies new targets every 5 s); both are awaited so callers see live data.
        analytics = self._spawn_analytics() if self.with_analytics else None
        if self.wait_for_scrapes:
            self._wait_scraped()
        for attempt in range(_BIND_ATTEMPTS):
            if analytics is None:
                break
            try:
                self._wait_analytics(*analytics)
                break
            except StackError:
                _root, process, log = analytics
                stop(process)
                self._processes = [p for p in self._processes if p[1] is not process]
                taken = PORT_TAKEN.search(log.read_text(errors="replace"))
                if self.analytics_port or not taken or attempt == _BIND_ATTEMPTS - 1:
                    raise
                analytics = self._spawn_analytics()
        if analytics is not None:
            self._wire_analytics()

    def _prepare_history(self, data_dir: Path, end: float) -> HistoryInfo:
        """Load the history into Prometheus' data directory (devstack.scale overrides it)."""
        return prepare_history(
            self.fleet_path,
            data_dir,
            days=self.days,
            end=end,
            step=self.step,
            state_interval=self.state_interval,
            cache_dir=self.cache_dir,
            workers=self.history_workers,
        )

    def _wire_analytics(self) -> None:
        """Scrape the analytics service's own /metrics (its state gauges feed alert rules)
        and, when asked, start Alertmanager on its receiver and send it Prometheus' alerts."""
        assert self.prometheus is not None
        root = self.analytics_root.removeprefix("http://")
        jobs = [job for job in self.prometheus.jobs if job.name != ANALYTICS_JOB]
        jobs.append(ScrapeJob(ANALYTICS_JOB, (root,), labels={"instance": "gpu-analytics"}))
        self.prometheus.jobs = tuple(jobs)
        if self.with_alertmanager:
            self.alertmanager = AlertmanagerServer(
                self.workdir / "alertmanager",
                self.analytics_url + "/alerts/alertmanager",
                bearer_token=self._operator_key("alertmanager"),
                host=self.host,
                group_wait=self.alertmanager_group_wait,
            )
            self.alertmanager.start(timeout=self.start_timeout)
            self.prometheus.alertmanagers = (self.alertmanager.url.removeprefix("http://"),)
            self._log(f"alertmanager: {self.alertmanager.url}")
        self.prometheus.reload()

    def _operator_key(self, name: str) -> str:
        """A new operator API key of the analytics service (``gpu-analytics create-api-key``)."""
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "analytics",
                "create-api-key",
                "--role",
                "operator",
                "--name",
                name,
            ],
            env=self._analytics_environment(),
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise StackError(f"could not create an API key for {name}: {result.stderr[-2000:]}")
        return result.stdout.strip().splitlines()[-1]

    def stop_analytics(self) -> None:
        """Stop the analytics service only (``start_analytics`` brings it back)."""
        for entry in [p for p in self._processes if p[0] == "analytics"]:
            stop(entry[1])
            self._processes.remove(entry)

    def start_analytics(self) -> None:
        """Start the analytics service again on its port, after ``stop_analytics``."""
        if not self.analytics_root:
            raise StackError("the stack runs no analytics service")
        port = int(self.analytics_root.rsplit(":", 1)[1])
        saved, self.analytics_port = self.analytics_port, port
        try:
            self._wait_analytics(*self._spawn_analytics())
        finally:
            self.analytics_port = saved

    def _start_simulated_cluster(self) -> None:
        # Port 0 and the URL read back from the process's output: no race for a free port
        # with other programs starting servers at the same time (parallel test sessions).
        cluster_log = self.workdir / "cluster.log"
        cluster = spawn(
            [
                sys.executable,
                "-m",
                "simulator.cluster",
                "--fleet",
                str(self.fleet_path),
                "--listen",
                f"{self.host}:0",
                *(["--kube-api"] if self.with_mig_manager else []),
            ],
            log_path=cluster_log,
            cwd=ROOT,
        )
        self._processes.append(("cluster series", cluster, cluster_log))
        mig_flags: list[str] = []
        if self.with_mig_manager:
            # The exporters' mig-managers need the API's address before they start.
            self.kube_api_url = self._wait_for_line(
                "cluster series", _KUBE_API_URL, cluster, cluster_log
            )
            mig_flags = [
                "--simulated-mig-manager",
                self.kube_api_url,
                "--mig-refresh-interval",
                str(MIG_REFRESH_SECONDS),
            ]
            self._log(f"kubernetes API (nodes, configmaps): {self.kube_api_url}")
        exporters: list[tuple[str, subprocess.Popen[bytes], Path]] = []
        for node in self.nodes:
            log = self.workdir / f"exporter-{node}.log"
            process = spawn(
                [
                    sys.executable,
                    "-m",
                    "simulator.exporter",
                    "--simulated-fleet",
                    str(self.fleet_path),
                    "--node-name",
                    node,
                    "--listen",
                    f"{self.host}:0",
                    "--log-level",
                    "WARNING",
                    # The demo shows every panel: per-link NVLink series are opt-in elsewhere.
                    "--nvlink-per-link",
                    "true",
                    *mig_flags,
                ],
                log_path=log,
                cwd=ROOT,
            )
            self._processes.append((f"exporter {node}", process, log))
            exporters.append((node, process, log))
        for node, process, log in exporters:
            url = self._wait_for_line(f"exporter {node}", _EXPORTER_URL, process, log)
            self._wait_http(f"exporter {node}", url + "/healthz", process, log)
            self.exporter_urls[node] = url
        self.cluster_url = self._wait_for_line("cluster series", _CLUSTER_URL, cluster, cluster_log)
        self._wait_http("cluster series", self.cluster_url + "/healthz", cluster, cluster_log)

    def _wait_for_line(
        self, name: str, pattern: re.Pattern[str], process: subprocess.Popen[bytes], log: Path
    ) -> str:
        """The first group of ``pattern`` once the process has written it to its log."""
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            found = pattern.search(log.read_text(errors="replace")) if log.exists() else None
            if found:
                return found.group(1)
            if process.poll() is not None:
                raise StackError(
                    f"{name} exited with {process.returncode} while starting:\n{log_tail(log, 15)}"
                )
            time.sleep(0.05)
        raise StackError(f"{name} did not say where it listens in {self.start_timeout:.0f}s")

    def _start_prometheus(self, directory: Path) -> None:
        jobs = self._scrape_jobs()
        for attempt in range(_BIND_ATTEMPTS):
            if self.backend == "victoriametrics":
                self.prometheus = VictoriaMetricsServer(
                    directory / f"victoriametrics-{attempt}",
                    jobs,
                    rule_files=self.rule_files,
                    history_dir=directory / "data",
                    port=self.prometheus_port,
                    host=self.host,
                    scrape_interval=self.scrape_interval,
                    evaluation_interval=self.evaluation_interval,
                    own_session=True,
                )
            else:
                self.prometheus = PrometheusServer(
                    directory,
                    jobs,
                    rule_files=self.rule_files,
                    port=self.prometheus_port,
                    host=self.host,
                    scrape_interval=self.scrape_interval,
                    evaluation_interval=self.evaluation_interval,
                    own_session=True,
                )
            try:
                self.prometheus.start(timeout=self.start_timeout)
                break
            except (PrometheusError, VictoriaMetricsError) as exc:
                self.prometheus.stop()
                # A free port taken by someone else meanwhile: try another, unless one was asked.
                if self.prometheus_port or not PORT_TAKEN.search(str(exc)):
                    raise
                if attempt == _BIND_ATTEMPTS - 1:
                    raise
        self._log(f"{self.backend}: {self.prometheus_url}")

    def _scrape_jobs(self) -> list[ScrapeJob]:
        """The exporter, kube-state-metrics and cAdvisor jobs (devstack.scale overrides it)."""
        targets = DEFAULT_TARGETS
        exporter_targets = {
            url.removeprefix("http://"): node for node, url in self.exporter_urls.items()
        }
        cluster_target = self.cluster_url.removeprefix("http://")
        jobs = [
            ScrapeJob(
                targets.exporter_job,
                tuple(exporter_targets),
                target_labels={
                    target: dict(targets.exporter(node)[1:])
                    for target, node in exporter_targets.items()
                },
            ),
            ScrapeJob(
                targets.ksm_job,
                (cluster_target,),
                labels={"instance": targets.cluster_instance},
            ),
            ScrapeJob(
                targets.cadvisor_job,
                (cluster_target,),
                metrics_path="/metrics/cadvisor",
                labels={"instance": targets.cluster_instance},
            ),
        ]
        return jobs

    def _wait_scraped(self) -> None:
        """Until every scrape target has been scraped successfully once."""
        deadline = time.monotonic() + self.start_timeout
        last: list[str] = []
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(
                    self.prometheus_url + "/api/v1/targets", timeout=2
                ) as r:
                    targets = json.loads(r.read())["data"]["activeTargets"]
            except (urllib.error.URLError, OSError, ValueError, KeyError):
                targets = []
            last = [
                f"{t['labels'].get('job')}/{t['labels'].get('instance')}: {t['health']} "
                f"{t.get('lastError') or ''}".strip()
                for t in targets
                if t.get("health") != "up"
            ]
            if targets and not last:
                return
            time.sleep(0.2)
        raise StackError(f"Prometheus has not scraped every target: {'; '.join(last)}")

    def _spawn_analytics(self) -> tuple[str, subprocess.Popen[bytes], Path]:
        port = self.analytics_port or free_port()
        env = self._analytics_environment()
        log = self.workdir / "analytics.log"
        process = spawn(
            analytics_command(f"{self.host}:{port}", self.analytics_workers),
            log_path=log,
            env=env,
            cwd=ROOT,
        )
        self._processes.append(("analytics", process, log))
        return f"http://{self.host}:{port}", process, log

    def _analytics_environment(self) -> dict[str, str]:
        data_dir = self.workdir / "analytics"
        data_dir.mkdir(parents=True, exist_ok=True)
        return {
            **os.environ,
            "GPU_ANALYTICS_DATA_DIR": str(data_dir),
            "GPU_ANALYTICS_PROMETHEUS_URL": self.prometheus_url,
            "GPU_ANALYTICS_ADMIN_API_KEY": self.admin_api_key,
            # The backend's MetricsQL differences the client handles (analytics.prom.client).
            "GPU_ANALYTICS_PROMETHEUS_FLAVOR": self.backend,
            **(
                {"GPU_ANALYTICS_MIG_APPLY": "true", "GPU_ANALYTICS_KUBE_API_URL": self.kube_api_url}
                if self.with_mig_manager
                else {}
            ),
            **self.analytics_env,
        }

    def _wait_analytics(self, root: str, process: subprocess.Popen[bytes], log: Path) -> None:
        self._wait_http("analytics", root + "/readyz", process, log)
        self.analytics_root = root
        self._log(f"analytics: {self.analytics_url}")

    def _wait_http(self, name: str, url: str, process: subprocess.Popen[bytes], log: Path) -> None:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise StackError(
                    f"{name} exited with {process.returncode} while starting:\n{log_tail(log, 15)}"
                )
            if http_ok(url, timeout=1.0):
                return
            time.sleep(0.1)
        raise StackError(
            f"{name} not ready at {url} after {self.start_timeout:.0f}s:\n{log_tail(log, 15)}"
        )

    def stop(self) -> None:
        """Stop everything started, newest first; safe to call twice."""
        # The analytics service first (it queries Prometheus), then Prometheus (it scrapes the
        # rest), then the simulated cluster.
        analytics = [p for p in self._processes if p[0] == "analytics"]
        for _name, process, _log in analytics:
            stop(process)
        if self.alertmanager is not None:
            self.alertmanager.stop()
            self.alertmanager = None
        if self.prometheus is not None:
            self.prometheus.stop()
        for _name, process, _log in reversed(self._processes):
            stop(process)
        self._processes.clear()
        if self._tempdir is not None:
            self._tempdir.cleanup()
            self._tempdir = None

    def wait(self, ready: Callable[[], None] | None = None) -> None:
        """Block until SIGINT or SIGTERM (handlers installed meanwhile; main thread only) or
        until one of the stack's processes exits; the caller then stops the stack. ``ready``
        runs once the handlers are in place: whoever it tells may signal at once."""
        stopped = threading.Event()

        def handler(_signum: int, _frame: FrameType | None) -> None:
            stopped.set()

        with _signal_handlers(handler):
            if ready is not None:
                ready()
            while not stopped.wait(1.0):
                for name, process, log in self._processes:
                    if process.poll() is not None:
                        self._log(f"{name} exited with {process.returncode}:\n{log_tail(log, 15)}")
                        return
                prometheus = self.prometheus.process if self.prometheus is not None else None
                if prometheus is not None and prometheus.poll() is not None:
                    self._log(f"prometheus exited with {prometheus.returncode}")
                    return
                alertmanager = self.alertmanager.process if self.alertmanager else None
                if alertmanager is not None and alertmanager.poll() is not None:
                    self._log(f"alertmanager exited with {alertmanager.returncode}")
                    return

    def describe(self) -> dict[str, object]:
        """Where everything is, as plain data (the demo prints it)."""
        return {
            "fleet": str(self.fleet_path),
            "prometheus": self.prometheus_url,
            "exporters": dict(self.exporter_urls),
            "cluster": self.cluster_url,
            "analytics": self.analytics_url,
            "alertmanager": self.alertmanager_url,
            "kubeApi": self.kube_api_url,
            "history": {"start": self.history_start, "end": self.history_end, "step": self.step},
        }

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"Stack({self.fleet_path.name}, prometheus={self.prometheus is not None})"


@contextlib.contextmanager
def _signal_handlers(handler: Callable[[int, FrameType | None], None]) -> Iterator[None]:
    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)
