"""Choosing what to allocate: best fit on memory, preferred model first, cost limit. Pure."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from analytics.errors import CostLimitExceeded, InsufficientResources
from analytics.store.allocations import Candidate

CLOSEST_CANDIDATES = 3


@dataclass(frozen=True)
class Demand:
    required_memory_gb: float
    use_mig: bool
    preferred_model_id: str | None
    max_cost_per_hour: float | None


def _describe(candidate: Candidate, price: float) -> dict[str, Any]:
    return {
        "resourceType": candidate.resource_type,
        "resource": candidate.resource_id,
        "nodeName": candidate.node_name,
        "modelId": candidate.model_id,
        "migProfile": candidate.mig_profile,
        "memoryGb": candidate.memory_gb,
        "costPerHour": price,
    }


def represented(candidates: Sequence[Candidate]) -> int:
    """How many resources ``candidates`` stand for: the store returns a sample of each class of
    interchangeable resources with the class's size (``peers``), counted here once a class."""
    classes = {
        (c.resource_type, c.model_id, c.mig_profile, c.observed, c.held_by_requester): c.peers
        for c in candidates
    }
    return sum(classes.values())


def choose(
    candidates: Sequence[Candidate],
    demand: Demand,
    price_of: Callable[[Candidate], float],
    mig_capable: Callable[[str], bool] | None = None,
) -> tuple[Candidate, float]:
    """The smallest free resource with enough memory, and its price.

    Order: the preferred model before others; for whole GPUs, models without MIG before
    MIG-capable ones (``mig_capable`` by model id), so MIG-capable GPUs stay free for MIG work;
    then least memory (best fit), then lowest price,
    then resources the exporter has already observed before PENDING MIG instances, then node,
    index and id so the choice is deterministic. INSUFFICIENT_RESOURCES when nothing has enough
    memory (``details`` lists the closest free resources); COST_LIMIT_EXCEEDED when everything
    that fits costs more than ``max_cost_per_hour``.
    """
    priced = [(c, price_of(c)) for c in candidates]
    fitting = [(c, p) for c, p in priced if c.memory_gb >= demand.required_memory_gb]
    kind = "MIG_INSTANCE" if demand.use_mig else "GPU"
    if not fitting:
        closest = sorted(priced, key=lambda cp: (-cp[0].memory_gb, cp[1], cp[0].resource_id))
        raise InsufficientResources(
            f"No free {'MIG instance' if demand.use_mig else 'GPU'} has "
            f"{demand.required_memory_gb:g} GB of memory.",
            {
                "requiredMemoryGb": demand.required_memory_gb,
                "resourceType": kind,
                "freeResources": represented(candidates),
                "closestCandidates": [_describe(c, p) for c, p in closest[:CLOSEST_CANDIDATES]],
            },
        )
    limit = demand.max_cost_per_hour
    affordable = [(c, p) for c, p in fitting if limit is None or p <= limit]
    if not affordable:
        cheapest = sorted(fitting, key=lambda cp: (cp[1], cp[0].memory_gb, cp[0].resource_id))
        raise CostLimitExceeded(
            f"Every free {'MIG instance' if demand.use_mig else 'GPU'} with "
            f"{demand.required_memory_gb:g} GB costs more than ${limit:g}/hour "
            f"(cheapest: ${cheapest[0][1]:g}/hour).",
            {
                "maxCostPerHour": limit,
                "cheapestCostPerHour": cheapest[0][1],
                "closestCandidates": [_describe(c, p) for c, p in cheapest[:CLOSEST_CANDIDATES]],
            },
        )
    return min(
        affordable,
        key=lambda cp: (
            cp[0].model_id != demand.preferred_model_id,
            mig_capable is not None and not demand.use_mig and mig_capable(cp[0].model_id),
            cp[0].memory_gb,
            cp[1],
            not cp[0].observed,
            cp[0].node_name,
            cp[0].device_index,
            cp[0].resource_id,
        ),
    )
