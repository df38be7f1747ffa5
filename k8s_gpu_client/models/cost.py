"""Results of /gpu/cost: cost analysis (seed 2.5, USD), optimisation suggestions, price book, budgets."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from k8s_gpu_client.models._base import ApiModel


@dataclass(kw_only=True)
class CostSplit(ApiModel):
    """Where the money went (USD): used, allocated but idle, unallocated, stranded MIG slices."""

    used: float | None = None
    allocated_idle: float | None = None
    unallocated: float | None = None
    stranded: float | None = None
    total: float | None = None


@dataclass(kw_only=True)
class MigInstanceCost(ApiModel):
    """One MIG instance's share of its GPU's cost."""

    mig_uuid: str | None = None
    profile: str | None = None
    share: float | None = None
    held_hours: float | None = None
    idle_hours: float | None = None
    utilization_mean: float | None = None
    utilization_source: str | None = None
    """SM_ACTIVE where utilization_mean is SM activity; None without one."""


@dataclass(kw_only=True)
class DeviceCost(ApiModel):
    """One GPU's cost over the window (USD) and its split."""

    device_id: str | None = None
    node: str | None = None
    gpu_uuid: str | None = None
    model_id: str | None = None
    price_per_hour: float | None = None
    price_basis: str | None = None
    price_source: str | None = None
    hours: float | None = None
    held_hours: float | None = None
    idle_hours: float | None = None
    utilization_mean: float | None = None
    utilization_source: str | None = None
    """SM_ACTIVE or GPU_UTILIZATION: what utilization_mean (and idleness) reads."""
    cost: CostSplit | None = None
    mig_layout: list[str] = field(default_factory=list)
    stranded_share: float | None = None
    mig_instances: list[MigInstanceCost] = field(default_factory=list)


@dataclass(kw_only=True)
class PodUnitCost(ApiModel):
    """One GPU or MIG instance a pod held, and its cost (USD)."""

    device_id: str | None = None
    mig_uuid: str | None = None
    profile: str | None = None
    model_id: str | None = None
    share: float | None = None
    price_per_hour: float | None = None
    held_hours: float | None = None
    idle_hours: float | None = None
    cost: float | None = None


@dataclass(kw_only=True)
class PodCost(ApiModel):
    """One pod's GPU cost (USD) with its owner (team, user, project)."""

    namespace: str | None = None
    pod: str | None = None
    team: str | None = None
    user: str | None = None
    project: str | None = None
    owner_source: dict[str, str] = field(default_factory=dict)
    cost: float | None = None
    idle_cost: float | None = None
    gpu_hours: float | None = None
    units: list[PodUnitCost] = field(default_factory=list)


@dataclass(kw_only=True)
class CostAnalysis(ApiModel):
    """GET /gpu/cost/analysis: the seed's daily, weekly, monthly cost (USD) and more."""

    daily_cost: float | None = None
    weekly_cost: float | None = None
    monthly_cost: float | None = None
    cost_by_namespace: dict[str, float] = field(default_factory=dict)
    cost_by_team: dict[str, float] = field(default_factory=dict)
    potential_monthly_savings: float | None = None
    analysis_date: datetime | None = None
    window_days: int | None = None
    window_start: datetime | None = None
    window_end: datetime | None = None
    resolution_seconds: int | None = None
    total_cost: float | None = None
    fleet_cost: float | None = None
    cost_by_user: dict[str, float] = field(default_factory=dict)
    cost_by_project: dict[str, float] = field(default_factory=dict)
    cost_by_model: dict[str, float] = field(default_factory=dict)
    fleet_cost_by_model: dict[str, float] = field(default_factory=dict)
    split: CostSplit | None = None
    suggestion_count: int | None = None
    mig_pricing: str | None = None
    idle_utilization_threshold: float | None = None
    devices: list[DeviceCost] = field(default_factory=list)
    pods: list[PodCost] = field(default_factory=list)
    unrecognized_gpus: list[str] = field(default_factory=list)


@dataclass(kw_only=True)
class CostSuggestion(ApiModel):
    """One optimisation suggestion with its monthly saving (USD) and evidence."""

    id: str | None = None
    type: str | None = None
    title: str | None = None
    action: str | None = None
    monthly_savings: float | None = None
    device_ids: list[str] = field(default_factory=list)
    pods: list[str] = field(default_factory=list)
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(kw_only=True)
class CostOptimization(ApiModel):
    """GET /gpu/cost/optimization: suggestions and the potential monthly saving (USD)."""

    window_days: int | None = None
    window_start: datetime | None = None
    window_end: datetime | None = None
    potential_monthly_savings: float | None = None
    suggestions: list[CostSuggestion] = field(default_factory=list)
    analysis_date: datetime | None = None


@dataclass(kw_only=True)
class ModelPrice(ApiModel):
    """A model's price in the price book, USD per GPU-hour, with its source."""

    model_id: str | None = None
    model_name: str | None = None
    price_per_hour: float | None = None
    source: str | None = None
    as_of: str | None = None
    origin: str | None = None
    catalogue_price_per_hour: float | None = None
    catalogue_source: str | None = None
    set_by: str | None = None


@dataclass(kw_only=True)
class Budget(ApiModel):
    """A monthly budget (USD) of a team or namespace with its last projection."""

    budget_id: str | None = None
    scope: str | None = None
    name: str | None = None
    monthly_budget: float | None = None
    projected_monthly_cost: float | None = None
    projected_ratio: float | None = None
    exceeded: bool | None = None
    last_evaluated_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
