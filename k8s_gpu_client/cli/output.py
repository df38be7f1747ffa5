"""Rendering results for ``gpuctl``: tables (``-o table``, ``-o wide``, ``--no-headers``), the
API's own fields as JSON or YAML, and ``-o name``.

A list with no rows prints nothing on stdout, as kubectl does (its notice goes to stderr), so
``gpuctl get devices --no-headers | wc -l`` counts devices.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from k8s_gpu_client.models._base import to_api_value

OUTPUTS = ("table", "wide", "json", "yaml", "name")


@dataclass(frozen=True)
class Column:
    header: str
    value: Callable[[Any], Any]
    wide: bool = False


@dataclass(frozen=True)
class Style:
    """How tables are drawn: ``wide`` adds the wide columns, ``headers`` the header row."""

    wide: bool = False
    headers: bool = True


def column(header: str, attribute: str, *, wide: bool = False) -> Column:
    return Column(header, lambda item: getattr(item, attribute, None), wide)


def to_json(result: Any) -> str:
    return json.dumps(to_api_value(result), indent=2, ensure_ascii=False)


def to_yaml(result: Any) -> str:
    text: str = yaml.safe_dump(
        to_api_value(result), sort_keys=False, allow_unicode=True, default_flow_style=False
    )
    return text.rstrip("\n")


def cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip(".") if value != int(value) else f"{value:.0f}"
    if isinstance(value, list | tuple):
        return ",".join(cell(v) for v in value) or "-"
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={cell(v)}" for k, v in value.items()) or "-"
    text = to_api_value(value)
    return text if isinstance(text, str) else json.dumps(text, ensure_ascii=False)


def table(rows: Sequence[Sequence[str]], headers: Sequence[str], style: Style = Style()) -> str:
    """Columns padded to their widest cell; no text at all when there are no rows."""
    if not rows:
        return ""
    shown = [list(headers)] if style.headers else []
    widths = [max(len(row[i]) for row in [*shown, *rows]) for i in range(len(headers))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        for row in [*shown, *rows]
    )


def render_list(
    items: Sequence[Any], columns: Sequence[Column], style: Style = Style(), empty: str = ""
) -> str:
    """A table of ``items``; ``empty`` when there are none (a sub-table of an object shows
    "(none)"; a listing shows nothing)."""
    if not items:
        return empty
    shown = [c for c in columns if style.wide or not c.wide]
    rows = [[cell(c.value(item)) for c in shown] for item in items]
    return table(rows, [c.header for c in shown], style)


def render_object(result: Any, fields: Sequence[str] | None = None, style: Style = Style()) -> str:
    """Two columns, FIELD and VALUE, in the API's names; ``fields`` picks and orders them
    (``-o wide`` shows every field)."""
    data = to_api_value(result)
    if not isinstance(data, Mapping):
        return cell(data)
    keys = list(fields) if fields is not None and not style.wide else list(data)
    rows = [[key, cell(data.get(key))] for key in keys]
    return table(rows, ["FIELD", "VALUE"], style)
