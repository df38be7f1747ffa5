"""Long windows keep reading the hourly recording rules when the newest rule sample is hours old
(Prometheus back after an outage, or started on older data): the answer ends where the rules
end, says so, and does not fall back to a month of raw series. A real Prometheus whose 2-day
history of test-small.yaml ended 5 hours ago."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from analytics import create_app
from analytics.settings import Secret, Settings
from devstack.stack import Stack
from tests.analytics.conftest import ADMIN, ADMIN_KEY, API
from tests.conftest import FLEETS
from tests.stack_fixtures import make_stack

HOUR = 3600
GAP_HOURS = 5


@pytest.fixture(scope="module")
def stale_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    base = tmp_path_factory.mktemp("stale")
    stack = make_stack(
        base,
        FLEETS / "test-small.yaml",
        days=2,
        analytics=False,
        end=time.time() - GAP_HOURS * HOUR,
    )
    with stack:
        yield stack


def test_usage_statistics_read_the_rules_across_a_gap(stale_stack: Stack, tmp_path: Path) -> None:
    app = create_app(
        Settings(
            data_dir=tmp_path,
            prometheus_url=stale_stack.prometheus_url,
            admin_api_key=Secret(ADMIN_KEY),
            sync_interval_seconds=0,
            forecast_warmup=False,
            budget_check_interval_seconds=0,
        )
    )
    client = app.test_client()
    synced = client.post(f"{API}/gpu/metrics/collect", headers=ADMIN)
    assert synced.status_code == 200, synced.get_data(as_text=True)
    response = client.get(f"{API}/gpu/metrics/usage-statistics?hours=24")
    assert response.status_code == 200, response.get_data(as_text=True)
    stats = response.get_json()["data"]
    assert stats["source"] == "recording-rules"
    end = datetime.fromisoformat(stats["windowEnd"].replace("Z", "+00:00")).timestamp()
    # The newest rule sample: the last whole hour of the history, hours before now.
    assert end % HOUR == 0
    assert end == stale_stack.history_end // HOUR * HOUR
    assert time.time() - end > GAP_HOURS * HOUR - 60
    utilizations = [d["avgGpuUtilization"] for d in stats["deviceStatistics"].values()]
    assert len(utilizations) == 3 and any(u is not None and u > 0 for u in utilizations), stats
    # The newest rule sample is looked up once a minute, not on every request: the next long
    # window costs a query per statistic (four rule windows, SM activity's included, and the
    # memory totals), not one more, and ends at the same hour; the same window again only the
    # memory totals (a past window's answer is kept).
    assert response.headers["X-Prometheus-Queries"] == "6"
    again = client.get(f"{API}/gpu/metrics/usage-statistics?hours=168")
    assert again.status_code == 200, again.get_data(as_text=True)
    assert again.headers["X-Prometheus-Queries"] == "5"
    repeated = client.get(f"{API}/gpu/metrics/usage-statistics?hours=168")
    assert repeated.headers["X-Prometheus-Queries"] == "1"
    assert repeated.get_json()["data"] == again.get_json()["data"]
    assert again.get_json()["data"]["windowEnd"] == stats["windowEnd"]
