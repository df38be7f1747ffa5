"""Generated documentation stays in step with the code it describes."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

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


def load_errors_doc() -> ModuleType:
    spec = importlib.util.spec_from_file_location("errors_doc", ROOT / "scripts" / "errors_doc.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_error_table_matches_the_openapi_document() -> None:
    errors_doc = load_errors_doc()
    document = errors_doc.served_document()
    committed = (ROOT / "docs" / "errors.md").read_text()
    assert committed == errors_doc.render(document), (
        "docs/errors.md is stale: run scripts/errors_doc.py"
    )
    # One row per operation, and the seed's allocation names the codes it may answer.
    rows = [line for line in committed.splitlines() if line.startswith("| `")]
    assert len(rows) == sum(
        1 for item in document["paths"].values() for method in item if method in errors_doc.METHODS
    )
    allocate = next(row for row in rows if "POST `/gpu/allocations`" in row)
    for answer in (
        "409 `GPU_NOT_AVAILABLE`, `INSUFFICIENT_RESOURCES`, `ALLOCATION_FAILED`",
        "422 `COST_LIMIT_EXCEEDED`",
        "400 `INVALID_PARAMETER`, `VALIDATION_ERROR`",
    ):
        assert answer in allocate, allocate
