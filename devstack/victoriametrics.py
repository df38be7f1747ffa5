"""A real single-node VictoriaMetrics (Debian's ``victoria-metrics``) on loopback, in the place
of Prometheus: it scrapes the same jobs, holds the same history and answers the same HTTP API.

Three parts of the Debian package, each what a VictoriaMetrics deployment runs:

* ``victoria-metrics`` stores the series and scrapes the jobs itself (``-promscrape.config``,
  the ``scrape_configs`` of :func:`devstack.prometheus.render_config`; no vmagent needed);
* history is imported from the very TSDB blocks ``promtool`` backfilled for Prometheus
  (:mod:`devstack.history` and its cache), so both backends hold the same samples and the
  cache serves both: ``promtool tsdb dump`` (Prometheus' own reader) streamed into the text
  import API, and the store's count of imported rows checked against the dump's. Not the
  package's ``vmctl prometheus``: its 1.79 drops whole series now and then (one run in three
  or four on the test history, concurrency 1 or 2 alike: the hourly
  ``uuid:gpu_utilization_ratio:avg1h`` gone, so the usage statistics fell back to raw series),
  and says it imported everything;
* ``vmalert`` evaluates the rule files (single-node VictoriaMetrics evaluates no rules),
  writes recorded series and ``ALERTS`` back through remote write, and answers
  ``/api/v1/alerts`` and ``/api/v1/rules`` behind ``-vmalert.proxyURL``.

The query side keeps the package's defaults, as a deployment would (``-search.latencyOffset``
of 30 s included: the analytics service's ``prometheus_flavor = "victoriametrics"`` is what
makes its "now" now; :mod:`analytics.prom.client`; vmalert's queries carry the same
``nocache=1``). Two flags differ. ``-retentionPeriod=100y``: the backfilled history is as
old as the fleet's epoch, and the default (one month) would delete it.
``-dedup.minScrapeInterval=1ms``: vmalert evaluates a group at its interval's boundary
(``-datasource.queryTimeAlignment``), the very timestamp of the backfilled history's last rule
sample when its first evaluation falls in the same minute (or hour, for the hourly groups), and
VictoriaMetrics keeps both samples unless it deduplicates: a 24-hour average of the hourly
rules would count the newest hour twice (Prometheus keeps one sample per timestamp). One
millisecond merges only samples at the same instant. History is imported before any query
runs, so no cached answer predates it.

``start`` returns once ``/health`` answers, the history is imported and flushed, and vmalert
answers; ``stop`` stops vmalert first, then the server (SIGTERM, SIGKILL after a grace period).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path

import yaml

from devstack.prometheus import ScrapeJob, free_port, render_config
from devstack.prometheus import binary as prometheus_binary
from devstack.server import (
    HttpServerProcess,
    ServerError,
    http_ok,
    log_tail,
    start_logged,
    wait_until_ready,
)

# The metric name in a label set as promtool prints it, with the separator after it.
_NAME = re.compile(rb'__name__="([^"]*)"(, )?')
# Rows per import request (about 10 MB of text).
IMPORT_BATCH_ROWS = 100_000


class VictoriaMetricsError(ServerError):
    """A VictoriaMetrics program could not be found, configured or started; the message
    quotes its log."""


def binary(name: str = "victoria-metrics") -> str:
    path = shutil.which(name)
    if path is None:
        raise VictoriaMetricsError(
            f"{name} is not installed: `make test` installs Debian's victoria-metrics "
            "(scripts/bootstrap.sh)"
        )
    return path


def scrape_config(jobs: Sequence[ScrapeJob], scrape_interval: str) -> dict[str, object]:
    """Prometheus' scrape configuration without what VictoriaMetrics' strict parser refuses
    (``rule_files`` and ``evaluation_interval``: vmalert's)."""
    config = render_config(jobs, scrape_interval=scrape_interval)
    config.pop("rule_files", None)
    config["global"].pop("evaluation_interval", None)
    return config


class VictoriaMetricsServer(HttpServerProcess):
    """Start with ``start()`` (or as a context manager); ``url`` is the Prometheus-compatible
    API base. ``history_dir``: a directory of Prometheus TSDB blocks imported before rules are
    evaluated. ``jobs``, ``alertmanagers`` and :meth:`reload` work as on
    :class:`devstack.prometheus.PrometheusServer`."""

    NAME = "victoria-metrics"
    ERROR = VictoriaMetricsError
    READY_PATH = "/health"
    STOP_GRACE = 15.0

    def __init__(
        self,
        workdir: Path,
        jobs: Sequence[ScrapeJob] = (),
        *,
        rule_files: Sequence[Path] = (),
        history_dir: Path | None = None,
        port: int = 0,
        host: str = "127.0.0.1",
        scrape_interval: str = "15s",
        evaluation_interval: str = "15s",
        own_session: bool = False,
        alertmanagers: Sequence[str] = (),
        log_level: str = "ERROR",
    ) -> None:
        self.workdir = Path(workdir)
        self.data_dir = self.workdir / "vmdata"
        self.config_path = self.workdir / "scrape.yml"
        self.jobs = tuple(jobs)
        self.rule_files = tuple(rule_files)
        self.history_dir = history_dir
        self.host = host
        self.port = port or free_port()
        self.rules_port = 0
        self.scrape_interval = scrape_interval
        self.evaluation_interval = evaluation_interval
        self.own_session = own_session
        self.alertmanagers = tuple(alertmanagers)
        self.log_level = log_level
        self.process: subprocess.Popen[bytes] | None = None
        self.rules_process: subprocess.Popen[bytes] | None = None
        self.log_path = self.workdir / "victoria-metrics.log"
        self.rules_log_path = self.workdir / "vmalert.log"
        self.import_seconds = 0.0

    @property
    def rules_url(self) -> str:
        return f"http://{self.host}:{self.rules_port}" if self.rules_port else ""

    def write_config(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = scrape_config(self.jobs, self.scrape_interval)
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False))

    def start(self, timeout: float = 60.0) -> None:
        self.write_config()
        if self.rule_files:
            self.rules_port = free_port()
        command = [
            binary(),
            f"-storageDataPath={self.data_dir}",
            f"-httpListenAddr={self.host}:{self.port}",
            "-retentionPeriod=100y",
            "-dedup.minScrapeInterval=1ms",
            f"-promscrape.config={self.config_path}",
            f"-loggerLevel={self.log_level}",
        ]
        if self.rules_port:
            command.append(f"-vmalert.proxyURL={self.rules_url}")
        self.process = start_logged(command, self.log_path, own_session=self.own_session)
        self.wait_ready(timeout)
        if self.history_dir is not None:
            self.import_blocks(self.history_dir)
        if self.rule_files:
            self._start_rules(timeout)

    def import_blocks(self, blocks_dir: Path) -> None:
        """Import every sample of the Prometheus TSDB blocks under ``blocks_dir`` and make it
        searchable now (``/internal/force_flush``; otherwise within seconds).

        ``promtool tsdb dump`` prints each sample as ``{__name__="m", l="v"} value ms``; as
        ``m{l="v"} value ms`` it is the text format ``/api/v1/import/prometheus`` reads, sent
        in batches. Raises when the store counted fewer rows than were sent."""
        started = time.monotonic()
        (blocks_dir / "wal").mkdir(exist_ok=True)  # promtool opens the directory as a TSDB
        before = self._rows_imported()
        dump = subprocess.Popen(
            [prometheus_binary("promtool"), "tsdb", "dump", str(blocks_dir)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert dump.stdout is not None
        sent = 0
        batch: list[bytes] = []
        for line in dump.stdout:
            batch.append(exposition_line(line))
            if len(batch) == IMPORT_BATCH_ROWS:
                self._post_rows(batch)
                sent += len(batch)
                batch = []
        if batch:
            self._post_rows(batch)
            sent += len(batch)
        _out, errors = dump.communicate()
        if dump.returncode != 0:
            raise VictoriaMetricsError(f"promtool tsdb dump failed: {errors.decode()[-2000:]}")
        # The store counts rows as its workers insert them, shortly after answering.
        deadline = time.monotonic() + 30
        imported = self._rows_imported() - before
        while imported < sent and time.monotonic() < deadline:
            time.sleep(0.1)
            imported = self._rows_imported() - before
        with urllib.request.urlopen(self.url + "/internal/force_flush", timeout=60):
            pass
        if imported != sent:
            raise VictoriaMetricsError(
                f"imported {imported} of the {sent} samples of {blocks_dir}: {log_tail(self.log_path)}"
            )
        self.import_seconds += time.monotonic() - started

    def _post_rows(self, rows: list[bytes]) -> None:
        request = urllib.request.Request(
            self.url + "/api/v1/import/prometheus", data=b"".join(rows), method="POST"
        )
        with urllib.request.urlopen(request, timeout=120):
            pass

    def _rows_imported(self) -> int:
        """The store's count of rows received through the text import API."""
        with urllib.request.urlopen(self.url + "/metrics", timeout=10) as response:
            for line in response.read().decode().splitlines():
                if line.startswith('vm_rows_inserted_total{type="prometheus"} '):
                    return int(float(line.split()[1]))
        return 0

    def _start_rules(self, timeout: float) -> None:
        command = [
            binary("vmalert"),
            *(f"-rule={path}" for path in self.rule_files),
            # nocache=1: rules see the data of their evaluation time, as Prometheus' do (without
            # it -search.latencyOffset makes every recorded value 30 s old; docs/deploy.md).
            f"-datasource.url={self.url}?nocache=1",
            f"-remoteWrite.url={self.url}",
            # Recorded series reach the store within a second, as Prometheus' own do at once.
            "-remoteWrite.flushInterval=1s",
            f"-evaluationInterval={self.evaluation_interval}",
            f"-httpListenAddr={self.host}:{self.rules_port}",
            f"-loggerLevel={self.log_level}",
            *(f"-notifier.url=http://{target}" for target in self.alertmanagers),
        ]
        if not self.alertmanagers:
            # vmalert wants somewhere to send alerts; nothing listens on the discard port.
            command.append("-notifier.url=http://127.0.0.1:9")
        self.rules_process = start_logged(
            command, self.rules_log_path, own_session=self.own_session
        )
        wait_until_ready(
            self.rules_process,
            lambda: http_ok(self.rules_url + "/health"),
            name="vmalert",
            log_path=self.rules_log_path,
            timeout=timeout,
            error=VictoriaMetricsError,
        )

    def reread_config(self) -> None:
        """Re-read the scrape configuration (after changing jobs) and restart vmalert when it
        runs (its notifiers are flags)."""
        if self.process is not None:
            self.process.send_signal(1)  # SIGHUP
        if self.rules_process is not None:
            from devstack.processes import stop

            stop(self.rules_process, self.STOP_GRACE)
            self.rules_process = None
            self._start_rules(60.0)

    def stop(self, grace: float | None = None) -> None:
        from devstack.processes import stop

        if self.rules_process is not None:
            stop(self.rules_process, self.STOP_GRACE if grace is None else grace)
            self.rules_process = None
        super().stop(grace)


def exposition_line(dumped: bytes) -> bytes:
    """A line of ``promtool tsdb dump`` (``{__name__="m", a="b"} 1.5 1700000000000``) in the
    text exposition format (``m{a="b"} 1.5 1700000000000``; the timestamp in milliseconds).
    Label values stay as promtool quoted them (Go's escapes, which the format reads)."""
    labels, sample = dumped.split(b"} ", 1)
    found = _NAME.search(labels)
    if found is None:
        raise VictoriaMetricsError(f"no metric name in {dumped[:200]!r}")
    rest = (labels[: found.start()] + labels[found.end() :]).strip(b"{, ")
    return found.group(1) + b"{" + rest + b"} " + sample
