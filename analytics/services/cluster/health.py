"""Cluster health, resource alerts and the state of the metric sources (/resources/health,
/resources/alerts, /resources/metrics/status).

Our own checks (thresholds below, documented in docs/analytics.md) read kube-state-metrics and
our exporter's self-monitoring series; alerts add what Prometheus' alerting rules are firing.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from analytics.clock import Clock, parse_utc
from analytics.errors import MetricsUnavailable
from analytics.prom import PromClient
from analytics.prom import queries_resources as q
from analytics.services.cluster.service import Rows, split_parts
from analytics.services.kernel.live_views import LiveViews
from analytics.services.kernel.numbers import finite

Severity = Literal["critical", "warning", "info"]
SEVERITIES: tuple[Severity, ...] = ("critical", "warning", "info")
ALERT_SOURCES = ("prometheus", "analytics")

# A pod Pending for longer than this is stuck (kube-prometheus' KubePodNotReady waits 15m).
PENDING_TOO_LONG_SECONDS = 15 * 60
# This many container restarts within the window is a crash loop.
RESTART_WINDOW_SECONDS = 15 * 60
CRASH_LOOP_RESTARTS = 3
# An exporter stage that has not succeeded for this long is stale (the slowest stage, the
# Kubernetes API refresh, runs every 30 s by default).
STAGE_STALE_SECONDS = 120
# A metric source whose newest sample is older than this is stale (several scrape intervals).
SOURCE_STALE_SECONDS = 120
# Node conditions other than Ready that are problems when true.
PRESSURE_CONDITIONS = ("MemoryPressure", "DiskPressure", "PIDPressure", "NetworkUnavailable")


@dataclass(frozen=True)
class Issue:
    """One problem our checks found."""

    severity: Severity
    kind: str
    subject: str
    summary: str
    labels: dict[str, str]
    value: float | None = None


@dataclass(frozen=True)
class NodeHealth:
    total: int
    ready: int
    not_ready: int


@dataclass(frozen=True)
class PodHealth:
    total: int
    running: int
    failed: int
    pending_too_long: int
    crash_looping: int


@dataclass(frozen=True)
class ExporterHealth:
    targets: int
    targets_up: int
    targets_down: int
    stale_stages: int
    missing_gpus: int


@dataclass(frozen=True)
class HealthView:
    status: str
    nodes: NodeHealth
    pods: PodHealth
    exporters: ExporterHealth
    issues: list[Issue]
    timestamp: datetime


def _pod_subject(labels: Mapping[str, str]) -> tuple[str, dict[str, str]]:
    namespace, pod = labels.get("namespace", ""), labels.get("pod", "")
    return f"pod/{namespace}/{pod}", {"namespace": namespace, "pod": pod}


def assess(rows: Rows, now: datetime) -> HealthView:
    """Health from the parts of queries_resources.health()."""
    issues: list[Issue] = []

    conditions: dict[str, dict[str, str]] = defaultdict(dict)
    for s in rows.get("condition", []):
        conditions[s.labels.get("node", "")][s.labels.get("condition", "")] = s.labels.get(
            "status", ""
        ).lower()
    ready = 0
    for node, states in sorted(conditions.items()):
        state = states.get("Ready", "unknown")
        if state == "true":
            ready += 1
        else:
            issues.append(
                Issue(
                    "critical",
                    "NodeNotReady",
                    f"node/{node}",
                    f"Node {node} is not Ready (Ready={state}).",
                    {"node": node},
                )
            )
        for condition in PRESSURE_CONDITIONS:
            if states.get(condition) == "true":
                issues.append(
                    Issue(
                        "warning",
                        f"Node{condition}",
                        f"node/{node}",
                        f"Node {node} reports {condition}.",
                        {"node": node, "condition": condition},
                    )
                )

    def pod_issues(part: str, severity: Severity, kind: str, text: str) -> int:
        found = sorted(rows.get(part, []), key=lambda s: _pod_subject(s.labels)[0])
        for s in found:
            subject, labels = _pod_subject(s.labels)
            issues.append(
                Issue(
                    severity,
                    kind,
                    subject,
                    text.format(pod=subject.removeprefix("pod/"), value=s.value),
                    labels,
                    finite(s.value),
                )
            )
        return len(found)

    failed = pod_issues("failed", "warning", "PodFailed", "Pod {pod} has failed.")
    pending = pod_issues(
        "pending",
        "warning",
        "PodPendingTooLong",
        "Pod {pod} has been Pending for {value:.0f} s.",
    )
    restarts = {_pod_subject(s.labels)[0]: s.value for s in rows.get("restarting", [])}
    crash_keys = set(restarts) | {_pod_subject(s.labels)[0] for s in rows.get("crashloop", [])}
    for subject in sorted(crash_keys):
        namespace, pod = subject.removeprefix("pod/").split("/", 1)
        count = restarts.get(subject)
        detail = (
            f"restarted {count:.0f} times in {RESTART_WINDOW_SECONDS // 60} min"
            if count is not None
            else "is in CrashLoopBackOff"
        )
        issues.append(
            Issue(
                "warning",
                "PodCrashLooping",
                subject,
                f"Pod {namespace}/{pod} {detail}.",
                {"namespace": namespace, "pod": pod},
                finite(count) if count is not None else None,
            )
        )

    targets = sorted(
        rows.get("target", []),
        key=lambda s: (s.labels.get("job", ""), s.labels.get("instance", "")),
    )
    down = [s for s in targets if s.value != 1.0]
    for s in down:
        job, instance = s.labels.get("job", ""), s.labels.get("instance", "")
        issues.append(
            Issue(
                "critical",
                "TargetDown",
                f"target/{job}/{instance}",
                f"Prometheus cannot scrape {instance} (job {job}).",
                {"job": job, "instance": instance},
            )
        )
    stale = sorted(
        (s for s in rows.get("stage_age", []) if s.value > STAGE_STALE_SECONDS),
        key=lambda s: (s.labels.get("node", ""), s.labels.get("stage", "")),
    )
    for s in stale:
        node, stage = s.labels.get("node", ""), s.labels.get("stage", "")
        issues.append(
            Issue(
                "warning",
                "ExporterStageStale",
                f"exporter/{node}/{stage}",
                f"The GPU exporter on {node} last completed stage {stage} {s.value:.0f} s ago.",
                {"node": node, "stage": stage},
                finite(s.value),
            )
        )
    missing = sorted(rows.get("missing_gpus", []), key=lambda s: s.labels.get("node", ""))
    for s in missing:
        node = s.labels.get("node", "")
        issues.append(
            Issue(
                "critical",
                "GpuMissing",
                f"node/{node}",
                f"{s.value:.0f} GPU(s) of {node} are not visible to NVML.",
                {"node": node},
                finite(s.value),
            )
        )

    def total(part: str) -> int:
        found = rows.get(part, [])
        return int(found[0].value) if found else 0

    severities = Counter(i.severity for i in issues)
    status = (
        "CRITICAL" if severities["critical"] else "WARNING" if severities["warning"] else "HEALTHY"
    )
    return HealthView(
        status=status,
        nodes=NodeHealth(total=len(conditions), ready=ready, not_ready=len(conditions) - ready),
        pods=PodHealth(
            total=total("pods"),
            running=total("running"),
            failed=failed,
            pending_too_long=pending,
            crash_looping=len(crash_keys),
        ),
        exporters=ExporterHealth(
            targets=len(targets),
            targets_up=len(targets) - len(down),
            targets_down=len(down),
            stale_stages=len(stale),
            missing_gpus=int(sum(s.value for s in missing)),
        ),
        issues=sorted(issues, key=lambda i: (SEVERITIES.index(i.severity), i.kind, i.subject)),
        timestamp=now,
    )


@dataclass(frozen=True)
class AlertView:
    name: str
    severity: Severity
    source: str
    state: str
    summary: str
    description: str | None
    labels: dict[str, str]
    starts_at: datetime | None
    value: float | None


def _severity(raw: str | None) -> Severity:
    text = (raw or "").lower()
    for severity in SEVERITIES:
        if text == severity:
            return severity
    return "info" if text in ("none", "") else "warning"


def _parse_time(raw: Any) -> datetime | None:
    if not isinstance(raw, str) or not raw:
        return None
    try:
        parsed = parse_utc(raw)
    except ValueError:
        return None
    if parsed.year < 1971:  # Prometheus' zero time
        return None
    return parsed


def _float(raw: Any) -> float | None:
    try:
        return finite(float(raw))
    except (TypeError, ValueError):
        return None


def prometheus_alerts(raw_alerts: Iterable[Mapping[str, Any]]) -> list[AlertView]:
    """Firing alerts of Prometheus' rules (``/api/v1/alerts``); pending ones are left out."""
    views = []
    for alert in raw_alerts:
        if alert.get("state") != "firing":
            continue
        labels = {str(k): str(v) for k, v in (alert.get("labels") or {}).items()}
        annotations = {str(k): str(v) for k, v in (alert.get("annotations") or {}).items()}
        name = labels.get("alertname", "")
        views.append(
            AlertView(
                name=name,
                severity=_severity(labels.get("severity")),
                source="prometheus",
                state="firing",
                summary=annotations.get("summary") or annotations.get("description") or name,
                description=annotations.get("description"),
                labels=labels,
                starts_at=_parse_time(alert.get("activeAt")),
                value=_float(alert.get("value")),
            )
        )
    return views


def issue_alerts(issues: Iterable[Issue]) -> list[AlertView]:
    return [
        AlertView(
            name=i.kind,
            severity=i.severity,
            source="analytics",
            state="firing",
            summary=i.summary,
            description=None,
            labels=dict(i.labels),
            starts_at=None,
            value=i.value,
        )
        for i in issues
    ]


@dataclass(frozen=True)
class PrometheusState:
    url: str
    reachable: bool
    response_time_ms: float | None


@dataclass(frozen=True)
class TargetView:
    job: str
    instance: str
    health: str
    last_scrape: datetime | None
    last_scrape_duration_ms: float | None
    last_error: str | None


@dataclass(frozen=True)
class JobView:
    job: str
    targets: int
    up: int


@dataclass(frozen=True)
class SourceView:
    name: str
    metric: str
    present: bool
    series_count: int
    newest_sample_age_seconds: float | None
    fresh: bool


@dataclass(frozen=True)
class MetricsStatusView:
    status: str
    prometheus: PrometheusState
    jobs: list[JobView]
    targets: list[TargetView]
    sources: list[SourceView]
    timestamp: datetime


def public_url(url: str) -> str:
    """``url`` without user name and password."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def scrape_targets(raw_targets: Iterable[Mapping[str, Any]]) -> list[TargetView]:
    views = []
    for target in raw_targets:
        labels = target.get("labels") or {}
        duration = _float(target.get("lastScrapeDuration"))
        views.append(
            TargetView(
                job=str(labels.get("job") or target.get("scrapePool") or ""),
                instance=str(labels.get("instance") or target.get("scrapeUrl") or ""),
                health=str(target.get("health") or "unknown"),
                last_scrape=_parse_time(target.get("lastScrape")),
                last_scrape_duration_ms=round(duration * 1000, 1) if duration is not None else None,
                last_error=str(target.get("lastError") or "") or None,
            )
        )
    views.sort(key=lambda t: (t.job, t.instance))
    return views


def metric_sources(rows: Rows) -> list[SourceView]:
    """Presence and freshness per source from queries_resources.source_freshness()."""
    values = {name: finite(samples[0].value) for name, samples in rows.items() if samples}
    views = []
    for name, metric in q.SOURCES.items():
        series = int(values.get(f"{name}/series") or 0)
        age = values.get(f"{name}/age")
        views.append(
            SourceView(
                name=name,
                metric=metric,
                present=series > 0,
                series_count=series,
                newest_sample_age_seconds=round(age, 1) if age is not None else None,
                fresh=series > 0 and age is not None and age <= SOURCE_STALE_SECONDS,
            )
        )
    return views


class ClusterHealthService:
    def __init__(self, prom: PromClient, clock: Clock, views: LiveViews | None = None) -> None:
        self.prom = prom
        self.clock = clock
        self.views = views or LiveViews(0)

    def health(self) -> HealthView:
        """The cluster's health: a live view (at 7,500 pods its query reads 75,000 series)."""
        return self.views.get("cluster-health", self._health).value

    def _health(self) -> HealthView:
        rows = split_parts(
            self.prom.query(
                q.health(PENDING_TOO_LONG_SECONDS, RESTART_WINDOW_SECONDS, CRASH_LOOP_RESTARTS)
            )
        )
        return assess(rows, self.clock.now())

    def alerts(self, severity: str | None = None, source: str | None = None) -> list[AlertView]:
        """Firing Prometheus alerts and our own checks, most severe first."""
        found: list[AlertView] = []
        if source in (None, "prometheus"):
            found += prometheus_alerts(self.prom.alerts())
        if source in (None, "analytics"):
            found += issue_alerts(self.health().issues)
        if severity is not None:
            found = [a for a in found if a.severity == severity]
        epoch = datetime.fromtimestamp(0, UTC)
        found.sort(
            key=lambda a: (
                SEVERITIES.index(a.severity),
                a.source,
                -(a.starts_at or epoch).timestamp(),
                a.name,
                sorted(a.labels.items()),
            )
        )
        return found

    def metrics_status(self) -> MetricsStatusView:
        """Works while Prometheus is down: it then says so instead of answering 503."""
        started = time.monotonic()
        reachable = self.prom.ready()
        elapsed_ms = round((time.monotonic() - started) * 1000, 1)
        prometheus = PrometheusState(
            url=public_url(self.prom.base_url),
            reachable=reachable,
            response_time_ms=elapsed_ms if reachable else None,
        )
        targets: list[TargetView] = []
        sources = metric_sources({})
        if reachable:
            try:
                targets = scrape_targets(self.prom.targets())
                sources = metric_sources(split_parts(self.prom.query(q.source_freshness())))
            except MetricsUnavailable:
                reachable = False
                prometheus = PrometheusState(prometheus.url, False, None)
        jobs: dict[str, list[TargetView]] = defaultdict(list)
        for target in targets:
            jobs[target.job].append(target)
        job_views = [
            JobView(job=job, targets=len(found), up=sum(1 for t in found if t.health == "up"))
            for job, found in sorted(jobs.items())
        ]
        if not reachable:
            status = "DOWN"
        elif all(t.health == "up" for t in targets) and all(s.fresh for s in sources):
            status = "UP"
        else:
            status = "DEGRADED"
        return MetricsStatusView(
            status=status,
            prometheus=prometheus,
            jobs=job_views,
            targets=targets,
            sources=sources,
            timestamp=self.clock.now(),
        )
