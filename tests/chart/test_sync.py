"""The chart's copies of alerts/ and dashboards/ are identical to the sources (scripts/sync_chart.py)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from tests.chart.chart import CHART, ROOT

_spec = importlib.util.spec_from_file_location("sync_chart", ROOT / "scripts" / "sync_chart.py")
assert _spec is not None and _spec.loader is not None
sync_chart = importlib.util.module_from_spec(_spec)
sys.modules["sync_chart"] = sync_chart  # dataclasses look their module up there
_spec.loader.exec_module(sync_chart)


def test_chart_copies_are_identical_to_the_sources() -> None:
    assert sync_chart.stale() == [], "the chart is out of date: run `make chart`"
    copies = sorted(
        p.relative_to(CHART).as_posix() for p in (CHART / "files").rglob("*") if p.is_file()
    )
    expected = [f"files/alerts/{p.name}" for p in sorted((ROOT / "alerts").glob("*.yml"))] + [
        f"files/dashboards/{p.name}" for p in sorted((ROOT / "dashboards").glob("*.json"))
    ]
    assert copies == expected
    for copy in copies:
        source = ROOT / copy.removeprefix("files/")
        assert (CHART / copy).read_bytes() == source.read_bytes()


def _tree(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_sync_copies_updates_and_removes(tmp_path: Path) -> None:
    root, chart = tmp_path / "repo", tmp_path / "repo" / "chart"
    _tree(
        root,
        {
            "alerts/a.yml": "groups: []\n",
            "alerts/tests/a.test.yml": "tests: []\n",
            "dashboards/d.json": "{}\n",
            "dashboards/generate.py": "",
            "chart/files/alerts/gone.yml": "groups: []\n",
            "chart/files/dashboards/d.json": '{"old": 1}\n',
        },
    )
    assert len(sync_chart.stale(root, chart)) == 3
    changed = sync_chart.sync(root, chart)
    assert {p.relative_to(chart).as_posix() for p in changed} == {
        "files/alerts/a.yml",
        "files/alerts/gone.yml",
        "files/dashboards/d.json",
    }
    assert sorted(p.relative_to(chart).as_posix() for p in chart.rglob("*") if p.is_file()) == [
        "files/alerts/a.yml",
        "files/dashboards/d.json",
    ]
    assert (chart / "files/dashboards/d.json").read_text() == "{}\n"
    assert sync_chart.stale(root, chart) == []
    assert sync_chart.sync(root, chart) == []
