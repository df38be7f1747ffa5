"""The Prometheus client: result parsing, retries, the overall deadline, auth, POST, errors."""

from __future__ import annotations

import base64
import time

import pytest

from analytics.errors import MetricsUnavailable, PromQueryError
from analytics.prom import PromClient, collect_stats, prom_client_for
from analytics.settings import Secret, Settings
from tests.analytics.prom_fake import FakePrometheus, Reply, Seen, vector
from tests.conftest import free_port


def test_instant_vector_becomes_samples(fake_prometheus: FakePrometheus) -> None:
    fake_prometheus.answer_vector(({"uuid": "GPU-1", "node": "n"}, 0.5), ({"uuid": "GPU-2"}, 1))
    samples = PromClient(fake_prometheus.url).query("gpu_utilization_ratio", at=1234.5)
    assert [(s.labels["uuid"], s.value) for s in samples] == [("GPU-1", 0.5), ("GPU-2", 1.0)]
    assert fake_prometheus.seen[0].params["time"] == "1234.500"
    assert fake_prometheus.seen[0].path == "/api/v1/query"


def test_scalar_result_is_one_unlabelled_sample(fake_prometheus: FakePrometheus) -> None:
    fake_prometheus.answer(
        Reply(200, {"status": "success", "data": {"resultType": "scalar", "result": [5, "42"]}})
    )
    [sample] = PromClient(fake_prometheus.url).query("scalar(42)")
    assert (sample.labels, sample.value, sample.timestamp) == ({}, 42.0, 5.0)


def test_range_query_returns_series_and_counts_samples(fake_prometheus: FakePrometheus) -> None:
    body = {
        "status": "success",
        "data": {
            "resultType": "matrix",
            "result": [{"metric": {"uuid": "a"}, "values": [[60, "1"], [120, "NaN"]]}],
        },
    }
    fake_prometheus.answer(Reply(200, body))
    with collect_stats() as stats:
        [series] = PromClient(fake_prometheus.url).query_range("x", 60, 120, 60)
    assert series.points[0] == (60.0, 1.0)
    assert series.points[1][1] != series.points[1][1]  # NaN survives
    assert (stats.queries, stats.samples_returned) == (1, 2)
    assert fake_prometheus.seen[0].params["step"] == "60"


def test_retries_once_on_503_then_succeeds(fake_prometheus: FakePrometheus) -> None:
    fake_prometheus.answer(Reply(503, {"status": "error"}), Reply(200, vector(({}, 1))))
    assert PromClient(fake_prometheus.url, retries=1).query("up")[0].value == 1.0
    assert len(fake_prometheus.seen) == 2


def test_bad_query_is_not_retried_and_is_our_error(fake_prometheus: FakePrometheus) -> None:
    fake_prometheus.answer(
        Reply(400, {"status": "error", "errorType": "bad_data", "error": "parse error"})
    )
    with pytest.raises(PromQueryError) as caught:
        PromClient(fake_prometheus.url, retries=3).query("sum(")
    assert len(fake_prometheus.seen) == 1
    assert caught.value.code == "INTERNAL_ERROR"
    assert caught.value.query == "sum("
    assert "parse error" in caught.value.reason


def test_server_error_status_is_metrics_unavailable(fake_prometheus: FakePrometheus) -> None:
    fake_prometheus.answer(Reply(500, {"status": "error", "error": "boom"}))
    with pytest.raises(MetricsUnavailable):
        PromClient(fake_prometheus.url).query("up")


def test_persistent_502_exhausts_retries(fake_prometheus: FakePrometheus) -> None:
    fake_prometheus.answer(Reply(502, "bad gateway"))
    with pytest.raises(MetricsUnavailable, match="502"):
        PromClient(fake_prometheus.url, retries=2).query("up")
    assert len(fake_prometheus.seen) == 3


def test_unreachable_server_fails_fast() -> None:
    client = PromClient(f"http://127.0.0.1:{free_port()}", timeout_seconds=2, retries=1)
    started = time.monotonic()
    with pytest.raises(MetricsUnavailable, match="unreachable"):
        client.query("up")
    assert time.monotonic() - started < 2
    assert client.ready() is False


def test_slow_server_is_cut_off_at_the_deadline(fake_prometheus: FakePrometheus) -> None:
    fake_prometheus.answer(Reply(200, vector(({}, 1)), delay_seconds=3))
    client = PromClient(fake_prometheus.url, timeout_seconds=1.0, retries=3)
    started = time.monotonic()
    with pytest.raises(MetricsUnavailable, match="within 1 s"):
        client.query("up")
    # All retries together stay within the configured timeout (plus scheduling slack).
    assert time.monotonic() - started < 1.5
    # Prometheus is told the same deadline, so it stops evaluating too.
    assert fake_prometheus.seen[0].params["timeout"].endswith("ms")


def test_prometheus_timeout_answer_is_unavailable(fake_prometheus: FakePrometheus) -> None:
    fake_prometheus.answer(
        Reply(422, {"status": "error", "errorType": "timeout", "error": "query timed out"})
    )
    with pytest.raises(MetricsUnavailable):
        PromClient(fake_prometheus.url).query("up")


def test_bearer_token_and_tenant_headers(fake_prometheus: FakePrometheus) -> None:
    PromClient(fake_prometheus.url, bearer_token="s3cret", org_id="team-a").query("up")
    headers = fake_prometheus.seen[0].headers
    assert headers["Authorization"] == "Bearer s3cret"
    assert headers["X-Scope-OrgID"] == "team-a"


def test_victoriametrics_instant_queries_ask_for_the_time_given(
    fake_prometheus: FakePrometheus,
) -> None:
    """nocache=1 on VictoriaMetrics' instant queries only (its -search.latencyOffset would
    evaluate "now" 30 s ago; tests/integration/test_victoriametrics.py shows it on the real
    server); Prometheus gets no parameter it does not know."""
    matrix = {"status": "success", "data": {"resultType": "matrix", "result": []}}
    fake_prometheus.answer(
        Reply(200, vector(({}, 1))), Reply(200, matrix), Reply(200, vector(({}, 1)))
    )
    settings = Settings(prometheus_url=fake_prometheus.url, prometheus_flavor="victoriametrics")
    client = prom_client_for(settings)
    client.query("up")
    client.query_range("up", 60, 120, 60)
    PromClient(fake_prometheus.url).query("up")
    instant, ranged, plain = fake_prometheus.seen
    assert instant.params["nocache"] == "1"
    assert "nocache" not in ranged.params
    assert "nocache" not in plain.params


def test_basic_auth_from_settings(fake_prometheus: FakePrometheus) -> None:
    settings = Settings(
        prometheus_url=fake_prometheus.url + "/",
        prometheus_basic_auth_user="grafana",
        prometheus_basic_auth_password=Secret("pw"),
        prometheus_timeout_seconds=2.5,
    )
    client = prom_client_for(settings)
    assert client.timeout_seconds == 2.5
    client.query("up")
    expected = "Basic " + base64.b64encode(b"grafana:pw").decode()
    assert fake_prometheus.seen[0].headers["Authorization"] == expected
    assert "pw" not in repr(client)


def test_long_query_goes_as_post_form(fake_prometheus: FakePrometheus) -> None:
    long_query = " or ".join(f'up{{instance="host-{i}:9400"}}' for i in range(100))
    PromClient(fake_prometheus.url).query(long_query)
    seen = fake_prometheus.seen[0]
    assert seen.method == "POST"
    assert seen.params["query"] == long_query


def test_targets_and_alerts(fake_prometheus: FakePrometheus) -> None:
    fake_prometheus.answer(
        Reply(200, {"status": "success", "data": {"activeTargets": [{"health": "up"}]}}),
        Reply(200, {"status": "success", "data": {"alerts": [{"state": "firing"}]}}),
    )
    client = PromClient(fake_prometheus.url)
    assert client.targets() == [{"health": "up"}]
    assert client.alerts() == [{"state": "firing"}]
    assert [s.path for s in fake_prometheus.seen] == ["/api/v1/targets", "/api/v1/alerts"]


def test_non_json_success_is_unavailable(fake_prometheus: FakePrometheus) -> None:
    fake_prometheus.answer(Reply(200, "<html>proxy login</html>"))
    with pytest.raises(MetricsUnavailable):
        PromClient(fake_prometheus.url).query("up")


def test_parallel_range_queries_keep_order_and_count_in_the_caller(
    fake_prometheus: FakePrometheus,
) -> None:
    def answer(request: Seen) -> Reply:
        start = float(request.params["start"])
        return Reply(
            200,
            {
                "status": "success",
                "data": {
                    "resultType": "matrix",
                    "result": [
                        {"metric": {"q": request.params["query"]}, "values": [[start, "1"]]}
                    ],
                },
            },
        )

    fake_prometheus.answer(answer)
    client = PromClient(fake_prometheus.url)
    requests_ = [(f"q{i}", float(i), float(i + 1), 1.0) for i in range(6)]
    with collect_stats() as stats:
        answers = client.query_ranges(requests_, max_parallel=3)
    assert [a[0].labels["q"] for a in answers] == [f"q{i}" for i in range(6)]
    assert [a[0].points[0][0] for a in answers] == [float(i) for i in range(6)]
    assert (stats.queries, stats.samples_returned) == (6, 6)


def test_prometheus_settings_from_the_environment() -> None:
    from analytics.settings import SettingsError

    settings = Settings.load(
        {
            "GPU_ANALYTICS_PROMETHEUS_URL": "https://mimir.example/prometheus",
            "GPU_ANALYTICS_PROMETHEUS_TIMEOUT_SECONDS": "2.5",
            "GPU_ANALYTICS_PROMETHEUS_BEARER_TOKEN": "s3cr3t-value",
            "GPU_ANALYTICS_PROMETHEUS_ORG_ID": "tenant-1",
            "GPU_ANALYTICS_SYNC_INTERVAL_SECONDS": "0",
        }
    )
    assert settings.prometheus_timeout_seconds == 2.5
    assert settings.sync_interval_seconds == 0
    assert "s3cr3t-value" not in repr(settings)
    with pytest.raises(SettingsError, match="prometheus_timeout_seconds"):
        Settings.load({"GPU_ANALYTICS_PROMETHEUS_TIMEOUT_SECONDS": "0"})
    with pytest.raises(SettingsError, match="exclusive"):
        Settings.load(
            {
                "GPU_ANALYTICS_PROMETHEUS_BEARER_TOKEN": "tok",
                "GPU_ANALYTICS_PROMETHEUS_BASIC_AUTH_USER": "u",
            }
        )
    with pytest.raises(SettingsError, match="sync_interval_seconds"):
        Settings.load({"GPU_ANALYTICS_SYNC_INTERVAL_SECONDS": "-1"})
