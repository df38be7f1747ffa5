"""Copy alerts/*.yml and dashboards/*.json into the Helm chart, which cannot read files outside it.

alerts/ and dashboards/ stay the source; charts/k8s-gpu-management/files/ holds byte-identical
copies (tests/chart/test_sync.py holds them to it). promtool's unit tests (alerts/tests/) are
not rule files and are not copied. Stale copies of removed sources are deleted.

    .venv/bin/python scripts/sync_chart.py           # or: make chart
    .venv/bin/python scripts/sync_chart.py --check   # exit 1 when the chart is out of date
"""

from __future__ import annotations

import argparse
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHART = ROOT / "charts" / "k8s-gpu-management"


@dataclass(frozen=True)
class Source:
    """One kind of generated chart file: ``pattern`` in ``directory`` → ``files/<target>/``."""

    directory: str
    pattern: str
    target: str


SOURCES = (
    Source("alerts", "*.yml", "alerts"),
    Source("dashboards", "*.json", "dashboards"),
)


def planned(root: Path = ROOT, chart: Path = CHART) -> dict[Path, Path]:
    """Every chart copy and the source it comes from."""
    plan: dict[Path, Path] = {}
    for source in SOURCES:
        for path in sorted((root / source.directory).glob(source.pattern)):
            if path.is_file():
                plan[chart / "files" / source.target / path.name] = path
    return plan


def stale(root: Path = ROOT, chart: Path = CHART) -> list[str]:
    """What differs between the sources and the chart's copies (empty: in step)."""
    plan = planned(root, chart)
    problems = [
        f"{copy.relative_to(chart)}: missing or differs from {origin.relative_to(root)}"
        for copy, origin in plan.items()
        if not copy.is_file() or copy.read_bytes() != origin.read_bytes()
    ]
    for source in SOURCES:
        directory = chart / "files" / source.target
        for copy in sorted(directory.glob("*")) if directory.is_dir() else []:
            if copy not in plan:
                problems.append(f"{copy.relative_to(chart)}: no source any more")
    return problems


def sync(root: Path = ROOT, chart: Path = CHART) -> list[Path]:
    """Bring the chart's copies in step; returns the files written or removed."""
    plan = planned(root, chart)
    changed: list[Path] = []
    for copy, origin in plan.items():
        if copy.is_file() and copy.read_bytes() == origin.read_bytes():
            continue
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(origin, copy)
        changed.append(copy)
    for source in SOURCES:
        directory = chart / "files" / source.target
        for copy in sorted(directory.glob("*")) if directory.is_dir() else []:
            if copy not in plan:
                copy.unlink()
                changed.append(copy)
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report differences, change nothing")
    args = parser.parse_args(argv)
    if args.check:
        problems = stale()
        for problem in problems:
            print(problem, file=sys.stderr)
        if problems:
            print("the chart is out of date: run `make chart`", file=sys.stderr)
        return 1 if problems else 0
    for path in sync():
        print(f"{'wrote' if path.exists() else 'removed'} {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
