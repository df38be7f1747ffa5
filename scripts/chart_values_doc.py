"""Write the values table of the chart's README from the `# --` comments of its values.yaml.

The comment convention is helm-docs': a comment block whose first line starts with `# --`
documents the key below it; the block's other lines continue the description. Keys without such
a comment (groups like `exporter:`) get no row; their documented children do. The table goes
between the README's two marker lines; the rest of the README is written by hand.

    .venv/bin/python scripts/chart_values_doc.py           # rewrite the table
    .venv/bin/python scripts/chart_values_doc.py --check   # exit 1 when the README is stale
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
CHART = ROOT / "charts" / "k8s-gpu-management"
START = "<!-- values-table:start (scripts/chart_values_doc.py writes this part) -->"
END = "<!-- values-table:end -->"
_KEY = re.compile(r"^(\s*)([A-Za-z_][\w.-]*):(\s|$)")


class ValuesDocError(Exception):
    """values.yaml or the README cannot be turned into a table; the message says where."""


@dataclass(frozen=True)
class Row:
    """One documented value: its dotted key, its type and default as in values.yaml, its text."""

    key: str
    type: str
    default: str
    description: str


def documented_keys(values_text: str) -> Iterator[tuple[tuple[str, ...], str]]:
    """(key path, description) of every key preceded by a `# --` comment block."""
    stack: list[tuple[int, str]] = []
    block: list[str] = []
    for number, line in enumerate(values_text.splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith("#"):
            block.append(stripped.lstrip("#").strip())
            continue
        if not stripped:
            block = []
            continue
        match = _KEY.match(line)
        if match is None or stripped.startswith("-"):
            block = []
            continue
        indent, key = len(match.group(1)), match.group(2)
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, key))
        starts = [i for i, text in enumerate(block) if text.startswith("-- ") or text == "--"]
        if starts:
            text = " ".join(part for part in block[starts[-1] :] if part)
            description = text.removeprefix("--").strip()
            if not description:
                raise ValuesDocError(f"values.yaml:{number}: `# --` with no description")
            yield tuple(k for _, k in stack), description
        block = []


def _type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    return "object"


def _default(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def rows(values_text: str) -> list[Row]:
    values = yaml.safe_load(values_text)
    found: list[Row] = []
    for path, description in documented_keys(values_text):
        node: Any = values
        for key in path:
            if not isinstance(node, dict) or key not in node:
                raise ValuesDocError(f"{'.'.join(path)}: documented but not a value")
            node = node[key]
        found.append(Row(".".join(path), _type(node), _default(node), description))
    return found


def _cell(text: str) -> str:
    """Text safe in a table cell: pipes escaped, and outside `code` no `<` read as HTML."""
    parts = text.replace("|", "\\|").split("`")
    return "`".join(part if i % 2 else part.replace("<", "&lt;") for i, part in enumerate(parts))


def table(values_text: str) -> str:
    lines = ["| Key | Type | Default | Description |", "|---|---|---|---|"]
    for row in rows(values_text):
        lines.append(
            f"| `{row.key}` | {row.type} | `{_cell(row.default)}` | {_cell(row.description)} |"
        )
    return "\n".join(lines)


def render_readme(readme_text: str, values_text: str) -> str:
    """The README with the part between the markers replaced by the current table."""
    if readme_text.count(START) != 1 or readme_text.count(END) != 1:
        raise ValuesDocError(f"the README needs one `{START}` line and one `{END}` line")
    head, rest = readme_text.split(START)
    _, tail = rest.split(END)
    return f"{head}{START}\n{table(values_text)}\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when the README is stale")
    parser.add_argument("--chart", type=Path, default=CHART, help="chart directory")
    args = parser.parse_args(argv)
    readme = args.chart / "README.md"
    try:
        current = readme.read_text()
        wanted = render_readme(current, (args.chart / "values.yaml").read_text())
    except (OSError, ValuesDocError) as exc:
        print(f"chart_values_doc: {exc}", file=sys.stderr)
        return 2
    if wanted == current:
        return 0
    if args.check:
        print(f"{readme} is stale: run scripts/chart_values_doc.py", file=sys.stderr)
        return 1
    readme.write_text(wanted)
    print(f"wrote {readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
