"""The values table of the chart's README is generated from values.yaml and is current."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
import yaml

from tests.chart.chart import CHART, ROOT

_spec = importlib.util.spec_from_file_location(
    "chart_values_doc", ROOT / "scripts" / "chart_values_doc.py"
)
assert _spec is not None and _spec.loader is not None
values_doc = importlib.util.module_from_spec(_spec)
sys.modules["chart_values_doc"] = values_doc  # dataclasses look their module up there
_spec.loader.exec_module(values_doc)

SAMPLE = """\
# A plain comment: not documentation.
nameOverride: ""

# Groups without `# --` get no row.
exporter:
  # -- Run it.
  enabled: true
  # -- Tolerations; the default
  # tolerates the GPU taint | really.
  tolerations:
    - key: nvidia.com/gpu
      operator: Exists
  # Some note first.
  # -- Affinity <here>, `{a: <b>}`.
  affinity: {}
  port: 9835
"""


def test_the_readme_table_is_current() -> None:
    readme = (CHART / "README.md").read_text()
    values = (CHART / "values.yaml").read_text()
    assert values_doc.render_readme(readme, values) == readme, (
        "the chart README is stale: run scripts/chart_values_doc.py"
    )


def test_every_documented_value_has_a_row_with_its_default() -> None:
    values_text = (CHART / "values.yaml").read_text()
    values = yaml.safe_load(values_text)
    rows = {row.key: row for row in values_doc.rows(values_text)}
    assert len(rows) > 100
    for key in (
        "exporter.affinity",
        "exporter.tolerations",
        "exporter.webConfig.existingSecret",
        "analytics.podDisruptionBudget.enabled",
        "monitoring.prometheusRule.runbookBaseUrl",
        "global.imageRegistry",
    ):
        node = values
        for part in key.split("."):
            node = node[part]
        assert json.loads(rows[key].default) == node, key
    readme = (CHART / "README.md").read_text()
    for key in rows:
        assert f"| `{key}` |" in readme


def test_rows_follow_the_comment_convention() -> None:
    rows = values_doc.rows(SAMPLE)
    assert [(row.key, row.type, row.default) for row in rows] == [
        ("exporter.enabled", "bool", "true"),
        ("exporter.tolerations", "list", '[{"key":"nvidia.com/gpu","operator":"Exists"}]'),
        ("exporter.affinity", "object", "{}"),
    ]
    assert rows[1].description == "Tolerations; the default tolerates the GPU taint | really."
    table = values_doc.table(SAMPLE)
    assert "GPU taint \\| really." in table
    assert "Affinity &lt;here>, `{a: <b>}`." in table


def test_a_documented_key_that_is_not_a_value_fails() -> None:
    text = "items:\n  - name: a\n    # -- Inside a list item.\n    size: 1\n"
    with pytest.raises(values_doc.ValuesDocError, match=r"items\.size: documented but not a value"):
        values_doc.rows(text)


def test_check_reports_a_stale_readme_and_a_run_fixes_it(tmp_path: Path) -> None:
    (tmp_path / "values.yaml").write_text(SAMPLE)
    (tmp_path / "README.md").write_text(
        f"# chart\n\n{values_doc.START}\nold\n{values_doc.END}\n\nafter\n"
    )
    assert values_doc.main(["--check", "--chart", str(tmp_path)]) == 1
    assert values_doc.main(["--chart", str(tmp_path)]) == 0
    assert values_doc.main(["--check", "--chart", str(tmp_path)]) == 0
    text = (tmp_path / "README.md").read_text()
    assert text.startswith("# chart\n") and text.endswith(f"{values_doc.END}\n\nafter\n")
    assert "| `exporter.enabled` | bool | `true` | Run it. |" in text
