"""Prices: USD per hour of a whole GPU or of a MIG instance (a share of its GPU's price)."""

from __future__ import annotations

from analytics.settings import MigPricing
from gpucatalog.mig import total_slices


def mig_share(model_id: str, compute_slices: int, memory_slices: int, rule: MigPricing) -> float:
    """The fraction of the GPU a MIG instance is charged for.

    ``compute``: C / total compute slices (C/7; A30 C/4); ``memory``: M / total memory slices;
    ``max``: the larger of the two.
    """
    total_compute, total_memory = total_slices(model_id)
    compute = compute_slices / total_compute
    memory = memory_slices / total_memory
    if rule == "compute":
        return compute
    if rule == "memory":
        return memory
    return max(compute, memory)


def hourly_price(
    gpu_price_per_hour: float | None,
    model_id: str,
    compute_slices: int | None,
    memory_slices: int | None,
    rule: MigPricing,
) -> float:
    """USD per hour; a model without a price in the book costs 0 until one is set."""
    price = gpu_price_per_hour or 0.0
    if compute_slices is None or memory_slices is None:
        return round(price, 4)
    return round(price * mig_share(model_id, compute_slices, memory_slices, rule), 4)
