"""The real Prometheus starts with a generated config, scrapes real exporters and stops cleanly."""

from __future__ import annotations

import time
from pathlib import Path

from devstack.prometheus import PrometheusServer, ScrapeJob, backfill_openmetrics, query
from tests.conftest import FLEETS, ExporterFactory


def test_prometheus_scrapes_a_real_exporter(
    tmp_path: Path, exporter_process: ExporterFactory
) -> None:
    url = exporter_process(FLEETS / "test-small.yaml", "sim-node-1")
    target = url.removeprefix("http://")
    server = PrometheusServer(
        tmp_path, [ScrapeJob("gpu-exporter", (target,))], scrape_interval="1s"
    )
    with server:
        deadline = time.monotonic() + 30
        result: list[dict[str, object]] = []
        while time.monotonic() < deadline and not result:
            result = query(server.url, "gpu_up")["result"]
            time.sleep(0.5)
        assert len(result) == 3
        assert {r["metric"]["node"] for r in result} == {"sim-node-1"}  # type: ignore[index]
        process = server.process
        assert process is not None
    assert process.poll() == 0  # stopped cleanly by SIGTERM


def test_backfilled_history_is_served(tmp_path: Path) -> None:
    now = int(time.time())
    lines = ["# TYPE demo_value gauge", "# HELP demo_value A backfilled gauge."]
    start = now - 3 * 86400
    for ts in range(start, now - 3600, 3600):
        lines.append(f'demo_value{{node="n1"}} {ts % 7} {ts}')
    lines.append("# EOF")
    source = tmp_path / "history.om"
    source.write_text("\n".join(lines) + "\n")
    server = PrometheusServer(tmp_path / "prom")
    backfill_openmetrics(source, server.data_dir)
    with server:
        at = start + 86400
        data = query(server.url, "demo_value", at=at)
        (sample,) = data["result"]
        expected = max(ts for ts in range(start, now - 3600, 3600) if ts <= at) % 7
        assert float(sample["value"][1]) == expected
