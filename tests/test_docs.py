"""Generated documentation stays in step with the code it describes."""

from __future__ import annotations

from pathlib import Path

from exporter.metrics import CATALOGUE, markdown_table

ROOT = Path(__file__).resolve().parent.parent


def test_metric_table_matches_catalogue() -> None:
    assert (ROOT / "docs" / "metrics.md").read_text() == markdown_table(), (
        "docs/metrics.md is stale: run `make docs`"
    )


def test_catalogue_names_follow_prometheus_conventions() -> None:
    for metric in CATALOGUE:
        assert metric.name == metric.name.lower()
        assert metric.name.startswith("gpu_")
        assert metric.name.endswith("_total") == (metric.kind.value == "counter"), metric.name
