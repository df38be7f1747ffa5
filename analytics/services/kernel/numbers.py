"""Numbers as every answer gives them: percentages and means with one decimal (as the API
document's examples), NaN and infinities (PromQL's empty divisions) as null."""

from __future__ import annotations

import math
from collections.abc import Iterable


def finite(value: float | None) -> float | None:
    """NaN and infinities become None."""
    if value is None or math.isnan(value) or math.isinf(value):
        return None
    return value


def round_or_none(value: float | None, digits: int) -> float | None:
    value = finite(value)
    return None if value is None else round(value, digits)


def percent(numerator: float | None, denominator: float | None = 1.0) -> float | None:
    """``numerator / denominator`` as a percentage with one decimal (a ratio alone: ``ratio``
    x 100); None when either is unknown or the denominator is not positive."""
    if numerator is None or denominator is None or denominator <= 0:
        return None
    return round_or_none(100.0 * numerator / denominator, 1)


def mean(values: Iterable[float | None]) -> float | None:
    """The mean of the known values, one decimal; None when none is known."""
    known = [v for v in values if v is not None]
    return round_or_none(sum(known) / len(known), 1) if known else None
