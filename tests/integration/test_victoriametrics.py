"""The real single-node VictoriaMetrics of devstack.victoriametrics: history imported from
promtool's blocks as written, and the MetricsQL differences the service and docs/deploy.md
("Past one Prometheus") rely on, shown on the real server."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from analytics.prom import PromClient
from devstack.prometheus import backfill_openmetrics, query
from devstack.victoriametrics import VictoriaMetricsServer
from tests.analytics.resources_truth import metricsql_rate, prometheus_rate, rate_sample_times

# One counter sampled every minute for an hour, with uneven increments so that extrapolating
# (Prometheus) and not extrapolating (MetricsQL) give different rates.
START = 1_790_000_000 - 1_790_000_000 % 3600
STEP = 60
TIMES = [START + STEP * i for i in range(61)]
INCREMENTS = [(7 * i) % 50 + 5 for i in range(61)]
VALUES = [float(sum(INCREMENTS[: i + 1])) for i in range(61)]
# A counter as the test stacks store one: a sample a minute (backfilled history), then one about
# every 2 s (live scrapes, a little jitter), at a rate that changes over the minutes.
JUNCTION = START + 1200
JUNCTION_TIMES = [float(START + STEP * i) for i in range(21)] + [
    round(JUNCTION + 1.5 + 2 * i + (0.3 * i) % 0.7, 3) for i in range(300)
]


def junction_value(t: float) -> float:
    """The counter at ``t``: 1 + sin(t / 97 s)/2 per second since START, in closed form."""
    return (t - START) + 48.5 * (math.cos(START / 97) - math.cos(t / 97))


def _history(directory: Path) -> Path:
    lines = ["# TYPE work_seconds counter"]
    lines += [
        f'work_seconds_total{{job="x"}} {v:g} {t}' for t, v in zip(TIMES, VALUES, strict=True)
    ]
    lines.append("# TYPE junction_seconds counter")
    lines += [
        f'junction_seconds_total{{job="x"}} {junction_value(t)!r} {t:.3f}' for t in JUNCTION_TIMES
    ]
    lines.append("# EOF")
    om = directory / "history.om"
    om.write_text("\n".join(lines) + "\n")
    blocks = directory / "blocks"
    backfill_openmetrics(om, blocks)
    return blocks


@pytest.fixture(scope="module")
def victoria(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VictoriaMetricsServer]:
    base = tmp_path_factory.mktemp("victoriametrics")
    with VictoriaMetricsServer(base / "server", history_dir=_history(base)) as server:
        yield server


def test_imported_history_holds_every_backfilled_sample(victoria: VictoriaMetricsServer) -> None:
    data = query(victoria.url, "work_seconds_total[2h]", at=TIMES[-1])
    [series] = data["result"]
    assert [(float(t), float(v)) for t, v in series["values"]] == list(
        zip(TIMES, VALUES, strict=True)
    )


def test_rate_takes_the_sample_before_the_window_and_does_not_extrapolate(
    victoria: VictoriaMetricsServer,
) -> None:
    """At a time between samples, MetricsQL's rate is (last - the sample before the window)
    over their distance; Prometheus' is the in-window increase extrapolated to the window."""
    at = TIMES[30] + 30
    window = 300
    [sample] = query(victoria.url, f"rate(work_seconds_total[{window}s])", at=at)["result"]
    inside = [i for i, t in enumerate(TIMES) if at - window < t <= at]
    before, last = inside[0] - 1, inside[-1]
    metricsql = (VALUES[last] - VALUES[before]) / (TIMES[last] - TIMES[before])
    prometheus = prometheus_rate(
        [TIMES[i] for i in inside], [VALUES[i] for i in inside], at, window
    )
    assert float(sample["value"][1]) == pytest.approx(metricsql, rel=1e-9)
    assert abs(prometheus - metricsql) > 0.01 * metricsql  # the difference is real here


def test_rate_starts_where_lifetime_does_across_uneven_samples(
    victoria: VictoriaMetricsServer,
) -> None:
    """Where one-a-minute samples meet 2 s ones, whether MetricsQL's rate starts from the sample
    before the window depends on its estimate of the scrape interval; lifetime() starts from the
    same sample, which is how the truth tests find it (resources_truth.rate_sample_times)."""
    window = 300
    before_taken = before_left = 0
    at = JUNCTION - 30.0
    while at < JUNCTION + window + 30:
        [sample] = query(victoria.url, f"rate(junction_seconds_total[{window}s])", at=at)["result"]
        [(_labels, times)] = rate_sample_times(
            victoria.url, "junction_seconds_total", at, "victoriametrics", window
        )
        values = [junction_value(t) for t in times]
        expected = metricsql_rate(times, values, at, window)
        assert float(sample["value"][1]) == pytest.approx(expected, rel=1e-9), (at, times[:2])
        if times[0] <= at - window:
            before_taken += 1
        elif any(t <= at - window for t in JUNCTION_TIMES):
            before_left += 1
        at += 5.3
    # Both happen here: the estimate really changes across the junction.
    assert before_taken and before_left, (before_taken, before_left)


def test_the_victoriametrics_flavor_evaluates_instant_queries_at_now(
    victoria: VictoriaMetricsServer,
) -> None:
    """Without nocache=1 VictoriaMetrics evaluates "now" at now - -search.latencyOffset (30 s
    by default) and still labels the answer now; the flavor's client asks for now."""
    flavored = PromClient(victoria.url, flavor="victoriametrics")
    plain = PromClient(victoria.url)
    asked = time.time()
    [now] = flavored.query("time()", at=asked)
    [late] = plain.query("time()", at=asked)
    assert now.value == pytest.approx(asked, abs=1.0)
    assert late.value == pytest.approx(asked - 30, abs=2.0)
    assert late.timestamp == pytest.approx(asked, abs=1.0)
