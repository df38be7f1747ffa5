"""The PromQL toolkit every query builder uses: string literals, regex alternatives, selectors,
durations and tagged unions. Every label value that comes from outside (node names, uuids,
namespaces) reaches a query through :func:`quote` or :func:`regex_alternatives`, never through
string formatting.

A *tagged union* answers several expressions in one round trip: each part's rows get a label
naming the part (``stat`` in the GPU builders, ``part`` in the /resources ones) and the parts are
joined with ``or``, which keeps them all because the tag makes their label sets distinct.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping

_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


def quote(value: str) -> str:
    """A PromQL double-quoted string literal holding ``value`` exactly (backslash, double
    quote and line breaks escaped)."""
    escaped = (
        value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    )
    return f'"{escaped}"'


def regex_alternatives(values: Iterable[str]) -> str:
    """A string literal for ``=~`` that matches exactly these values (RE2-escaped)."""
    unique = sorted(set(values))
    return quote("|".join(re.escape(v) for v in unique))


def select(metric: str, *matchers: str) -> str:
    """``metric{m1,m2}``; empty matchers are dropped."""
    inside = ",".join(m for m in matchers if m)
    return f"{metric}{{{inside}}}" if inside else metric


def label_name(name: str) -> str:
    """``name`` when it is a valid label name; ValueError otherwise."""
    if not _LABEL_NAME.match(name):
        raise ValueError(f"not a label name: {name!r}")
    return name


def tagged(parts: Mapping[str, str], label: str) -> str:
    """One query answering every part, each row labelled ``label="<part name>"``."""
    if not parts:
        raise ValueError("a tagged union needs at least one part")
    label_name(label)
    return " or ".join(
        f"label_replace({expr}, {quote(label)}, {quote(name)}, {quote('')}, {quote('')})"
        for name, expr in parts.items()
    )


def seconds(value: float) -> str:
    """A range or offset of ``value`` seconds as PromQL writes it in whole seconds (at least
    ``1s``): ``3600s``. For windows computed from times."""
    return f"{max(1, math.ceil(value))}s"


def duration(value: int) -> str:
    """A whole number of seconds in the largest exact unit (``1d``, ``90m``, ``45s``). For
    windows given in whole units (a restart window, an hour)."""
    if value <= 0:
        raise ValueError("a duration must be positive")
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if value % size == 0:
            return f"{value // size}{unit}"
    return f"{value}s"
