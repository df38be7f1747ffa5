"""Rendering results for ``gpuctl``: JSON (the API's own fields) or plain-text tables."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from k8s_gpu_client.models._base import to_api_value


@dataclass(frozen=True)
class Column:
    header: str
    value: Callable[[Any], Any]


def column(header: str, attribute: str) -> Column:
    return Column(header, lambda item: getattr(item, attribute, None))


def to_json(result: Any) -> str:
    return json.dumps(to_api_value(result), indent=2, ensure_ascii=False)


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


def table(rows: Sequence[Sequence[str]], headers: Sequence[str]) -> str:
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    return "\n".join(lines)


def render_list(items: Sequence[Any], columns: Sequence[Column]) -> str:
    if not items:
        return "(none)"
    rows = [[cell(c.value(item)) for c in columns] for item in items]
    return table(rows, [c.header for c in columns])


def render_object(result: Any, fields: Sequence[str] | None = None) -> str:
    """Two columns, FIELD and VALUE, in the API's names; ``fields`` picks and orders them."""
    data = to_api_value(result)
    if not isinstance(data, Mapping):
        return cell(data)
    keys = list(fields) if fields is not None else list(data)
    rows = [[key, cell(data.get(key))] for key in keys]
    return table(rows, ["FIELD", "VALUE"])


def emit(stream: TextIO, text: str) -> None:
    stream.write(text + "\n")
