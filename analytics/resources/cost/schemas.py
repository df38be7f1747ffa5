"""Schemas of the cost endpoints: analysis, optimisation, price book and budgets."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from analytics.api.fields import Text, UtcDateTime, doc
from analytics.prom.utilization import SOURCES

MAX_WINDOW_DAYS = 90
# Kubernetes namespace names, and team names as the ledger takes them.
_NAME = validate.Length(1, 128)
_MONEY_MAX = 1e9


def _money_map(data_key: str, description: str) -> fields.Dict:
    return fields.Dict(
        keys=fields.String(), values=fields.Float(), data_key=data_key, metadata=doc(description)
    )


class AnalysisQuerySchema(Schema):
    days = fields.Integer(
        load_default=30,
        validate=validate.Range(1, MAX_WINDOW_DAYS),
        metadata=doc("Window length in days, ending now (1-90, default 30)."),
    )


class OptimizationQuerySchema(Schema):
    days = fields.Integer(
        load_default=7,
        validate=validate.Range(1, MAX_WINDOW_DAYS),
        metadata=doc("Evidence window in days, ending now (1-90, default 7)."),
    )


class SplitSchema(Schema):
    used = fields.Float(metadata=doc("Held by a pod while busy, USD."))
    allocated_idle = fields.Float(
        data_key="allocatedIdle", metadata=doc("Held by a pod while idle, USD.")
    )
    unallocated = fields.Float(metadata=doc("Not held by any pod (usable capacity), USD."))
    stranded = fields.Float(metadata=doc("MIG slices no profile can use, USD."))
    total = fields.Float(metadata=doc("Price x hours present: the sum of the four, USD."))


class MigInstanceCostSchema(Schema):
    mig_uuid = fields.String(data_key="migUuid", metadata=doc("NVML UUID of the MIG device."))
    profile = fields.String(metadata=doc("MIG profile, e.g. 1g.10gb."))
    share = fields.Float(metadata=doc("Fraction of the GPU's price charged for it, 0-1."))
    held_hours = fields.Float(data_key="heldHours", metadata=doc("Hours a pod held it."))
    idle_hours = fields.Float(
        data_key="idleHours",
        metadata=doc(
            "Hours held while idle: SM activity below the threshold where the instance "
            "measures it (utilizationSource SM_ACTIVE), else its memory in use."
        ),
    )
    utilization_mean = fields.Float(
        data_key="utilizationMean",
        allow_none=True,
        metadata=doc("Mean SM activity, 0-1; null where the instance does not measure it."),
    )
    utilization_source = fields.String(
        data_key="utilizationSource",
        allow_none=True,
        validate=validate.OneOf(SOURCES),
        metadata=doc("SM_ACTIVE when utilizationMean is SM activity; null without one."),
    )


class DeviceCostSchema(Schema):
    device_id = fields.String(data_key="deviceId", metadata=doc("Device id, node-GPU-NN."))
    node = fields.String(metadata=doc("Kubernetes node."))
    gpu_uuid = fields.String(data_key="gpuUuid", metadata=doc("NVML UUID."))
    model_id = fields.String(data_key="modelId", metadata=doc("GPU model id."))
    price_per_hour = fields.Float(data_key="pricePerHour", metadata=doc("USD per GPU-hour."))
    price_basis = fields.String(
        data_key="priceBasis", metadata=doc("book, amortized (purchaseCost) or unpriced.")
    )
    price_source = fields.String(data_key="priceSource", metadata=doc("Where the price is from."))
    hours = fields.Float(metadata=doc("Hours the exporter reported the GPU in the window."))
    held_hours = fields.Float(data_key="heldHours", metadata=doc("Hours a pod held it whole."))
    idle_hours = fields.Float(data_key="idleHours", metadata=doc("Of those, hours idle."))
    utilization_mean = fields.Float(
        data_key="utilizationMean",
        allow_none=True,
        metadata=doc("Mean utilisation, 0-1, from utilizationSource; idleness reads the same."),
    )
    utilization_source = fields.String(
        data_key="utilizationSource",
        validate=validate.OneOf(SOURCES),
        metadata=doc(
            "SM_ACTIVE (gpu_prof_sm_active_ratio, where the GPU reported it in the window) or "
            "GPU_UTILIZATION (NVML utilization.gpu)."
        ),
    )
    cost = fields.Nested(SplitSchema, metadata=doc("Its cost in the window, split four ways."))
    mig_layout = fields.List(
        fields.String(),
        data_key="migLayout",
        allow_none=True,
        metadata=doc("MIG instances as profile@start slice; null without MIG."),
    )
    stranded_share = fields.Float(
        data_key="strandedShare", metadata=doc("Fraction of the GPU stranded by its layout.")
    )
    mig_instances = fields.Nested(
        MigInstanceCostSchema, many=True, data_key="migInstances", metadata=doc("Its instances.")
    )


class PodUnitCostSchema(Schema):
    device_id = fields.String(data_key="deviceId", metadata=doc("The GPU."))
    mig_uuid = fields.String(
        data_key="migUuid", allow_none=True, metadata=doc("The MIG device; null: whole GPU.")
    )
    profile = fields.String(allow_none=True, metadata=doc("MIG profile, or null."))
    model_id = fields.String(data_key="modelId", metadata=doc("GPU model id."))
    share = fields.Float(metadata=doc("Fraction of the GPU this unit is, 0-1."))
    price_per_hour = fields.Float(data_key="pricePerHour", metadata=doc("USD/hour of the unit."))
    held_hours = fields.Float(
        data_key="heldHours", metadata=doc("Hours held; a unit shared by k pods counts 1/k.")
    )
    idle_hours = fields.Float(data_key="idleHours", metadata=doc("Of those, hours idle."))
    cost = fields.Float(metadata=doc("USD in the window."))


class PodCostSchema(Schema):
    namespace = fields.String(metadata=doc("Namespace."))
    pod = fields.String(metadata=doc("Pod name."))
    team = fields.String(metadata=doc("Team charged (ledger teamId, else pod label)."))
    user = fields.String(metadata=doc("User charged."))
    project = fields.String(metadata=doc("Project charged."))
    owner_source = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        data_key="ownerSource",
        metadata=doc("Where team, user and project came from: ledger, label or none."),
    )
    cost = fields.Float(metadata=doc("USD in the window."))
    idle_cost = fields.Float(data_key="idleCost", metadata=doc("Of which idle, USD."))
    gpu_hours = fields.Float(data_key="gpuHours", metadata=doc("GPU-equivalent hours held."))
    units = fields.Nested(PodUnitCostSchema, many=True, metadata=doc("What it held."))


class CostAnalysisSchema(Schema):
    daily_cost = fields.Float(
        data_key="dailyCost", metadata=doc("Attributed cost per day (window mean), USD.")
    )
    weekly_cost = fields.Float(data_key="weeklyCost", metadata=doc("dailyCost x 7, USD."))
    monthly_cost = fields.Float(data_key="monthlyCost", metadata=doc("dailyCost x 30, USD."))
    cost_by_namespace = _money_map("costByNamespace", "Attributed cost per namespace, USD.")
    cost_by_team = _money_map("costByTeam", "Attributed cost per team, USD (unassigned: none).")
    potential_monthly_savings = fields.Float(
        data_key="potentialMonthlySavings",
        metadata=doc("Sum of the optimisation suggestions' monthly estimates, USD."),
    )
    analysis_date = UtcDateTime(data_key="analysisDate", metadata=doc("When computed, UTC."))
    window_days = fields.Integer(data_key="windowDays", metadata=doc("Window length, days."))
    window_start = UtcDateTime(data_key="windowStart", metadata=doc("Window start, UTC."))
    window_end = UtcDateTime(data_key="windowEnd", metadata=doc("Window end, UTC."))
    resolution_seconds = fields.Integer(
        data_key="resolutionSeconds", metadata=doc("Step at which usage is sampled, seconds.")
    )
    total_cost = fields.Float(
        data_key="totalCost", metadata=doc("Attributed (held by pods) cost in the window, USD.")
    )
    fleet_cost = fields.Float(
        data_key="fleetCost", metadata=doc("Price x hours of every GPU in the window, USD.")
    )
    cost_by_user = _money_map("costByUser", "Attributed cost per user, USD.")
    cost_by_project = _money_map("costByProject", "Attributed cost per project, USD.")
    cost_by_model = _money_map("costByModel", "Attributed cost per GPU model, USD.")
    fleet_cost_by_model = _money_map(
        "fleetCostByModel", "Price x hours of every GPU per model (held or not), USD."
    )
    split = fields.Nested(SplitSchema, metadata=doc("The fleet's cost split four ways, USD."))
    suggestion_count = fields.Integer(
        data_key="suggestionCount", metadata=doc("Suggestions behind potentialMonthlySavings.")
    )
    mig_pricing = fields.String(
        data_key="migPricing", metadata=doc("MIG share rule: compute, memory or max.")
    )
    idle_utilization_threshold = fields.Float(
        data_key="idleUtilizationThreshold", metadata=doc("Below it a held GPU is idle, 0-1.")
    )
    devices = fields.Nested(DeviceCostSchema, many=True, metadata=doc("Every GPU's cost."))
    pods = fields.Nested(PodCostSchema, many=True, metadata=doc("Every pod's cost."))
    unrecognized_gpus = fields.List(
        fields.String(),
        data_key="unrecognizedGpus",
        metadata=doc("UUIDs of GPUs whose model is not in the catalogue (not costed)."),
    )


class SuggestionSchema(Schema):
    id = fields.String(metadata=doc("Stable id: type, devices and pods."))
    type = fields.String(
        metadata=doc(
            "IDLE_ALLOCATED_GPU, MIG_RIGHTSIZE, CONSOLIDATE_GPUS, CHEAPER_MODEL, "
            "PAST_PLANNED_RELEASE or STRANDED_MIG_SLICES."
        )
    )
    title = fields.String(metadata=doc("One line."))
    action = fields.String(metadata=doc("What to do."))
    monthly_savings = fields.Float(
        data_key="monthlySavings", metadata=doc("Estimated saving, USD per month (730 h).")
    )
    device_ids = fields.List(fields.String(), data_key="deviceIds", metadata=doc("GPUs."))
    pods = fields.List(fields.String(), metadata=doc("Pods, namespace/name."))
    evidence = fields.Dict(
        metadata=doc(
            "The window and metric values behind it (per type; units in names). Where it "
            "quotes a utilisation, utilizationSource says which: SM_ACTIVE or GPU_UTILIZATION "
            "(null for a MIG instance judged by its memory in use, idleRule)."
        )
    )


class OptimizationSchema(Schema):
    window_days = fields.Integer(data_key="windowDays", metadata=doc("Evidence window, days."))
    window_start = UtcDateTime(data_key="windowStart", metadata=doc("Window start, UTC."))
    window_end = UtcDateTime(data_key="windowEnd", metadata=doc("Window end, UTC."))
    potential_monthly_savings = fields.Float(
        data_key="potentialMonthlySavings",
        metadata=doc("Sum of the estimates, each GPU or instance counted once, USD/month."),
    )
    suggestions = fields.Nested(SuggestionSchema, many=True, metadata=doc("By saving."))
    analysis_date = UtcDateTime(data_key="analysisDate", metadata=doc("When computed, UTC."))


class ModelPriceSchema(Schema):
    model_id = fields.String(data_key="modelId", metadata=doc("GPU model id."))
    model_name = fields.String(data_key="modelName", metadata=doc("Display name."))
    price_per_hour = fields.Float(
        data_key="pricePerHour", allow_none=True, metadata=doc("Effective USD per GPU-hour.")
    )
    source = fields.String(metadata=doc("Where the effective price came from."))
    as_of = fields.String(data_key="asOf", metadata=doc("When it was read or set (date/year)."))
    origin = fields.String(metadata=doc("api (PUT), settings (price_overrides) or catalogue."))
    catalogue_price_per_hour = fields.Float(
        data_key="cataloguePricePerHour",
        allow_none=True,
        metadata=doc("The catalogue's default, USD per GPU-hour (REFERENCE.md)."),
    )
    catalogue_source = fields.String(
        data_key="catalogueSource", metadata=doc("Source of the catalogue default.")
    )
    set_by = fields.String(
        data_key="setBy", allow_none=True, metadata=doc("API key that set an api price.")
    )


class PriceUpdateSchema(Schema):
    price_per_hour = fields.Float(
        data_key="pricePerHour",
        required=True,
        validate=validate.Range(0, 10000),
        metadata=doc("USD per GPU-hour (0-10000).", example=2.5),
    )
    source = Text(
        load_default=None,
        validate=validate.Length(1, 256),
        metadata=doc("Where the number comes from (contract, quote).", example="2026 contract"),
    )


class BudgetRequestSchema(Schema):
    scope = Text(
        required=True,
        validate=validate.OneOf(["team", "namespace"]),
        metadata=doc("team or namespace."),
    )
    name = Text(
        required=True, validate=_NAME, metadata=doc("Team id or namespace.", example="ml-team")
    )
    monthly_budget = fields.Float(
        data_key="monthlyBudget",
        required=True,
        validate=validate.Range(0, _MONEY_MAX, min_inclusive=False),
        metadata=doc("USD per month (> 0).", example=5000),
    )


class BudgetUpdateSchema(Schema):
    monthly_budget = fields.Float(
        data_key="monthlyBudget",
        required=True,
        validate=validate.Range(0, _MONEY_MAX, min_inclusive=False),
        metadata=doc("USD per month (> 0).", example=5000),
    )


class BudgetSchema(Schema):
    budget_id = fields.String(data_key="budgetId", metadata=doc("BUDGET- and 8 characters."))
    scope = fields.String(metadata=doc("team or namespace."))
    name = fields.String(metadata=doc("Team id or namespace."))
    monthly_budget = fields.Float(data_key="monthlyBudget", metadata=doc("USD per month."))
    projected_monthly_cost = fields.Float(
        data_key="projectedMonthlyCost",
        allow_none=True,
        metadata=doc("At the last evaluation: last N days' cost / N x 30, USD; null: never."),
    )
    projected_ratio = fields.Float(
        data_key="projectedRatio",
        allow_none=True,
        metadata=doc("projectedMonthlyCost / monthlyBudget."),
    )
    exceeded = fields.Boolean(metadata=doc("Projection above the budget at the last evaluation."))
    last_evaluated_at = UtcDateTime(
        data_key="lastEvaluatedAt", allow_none=True, metadata=doc("Last evaluation, UTC.")
    )
    created_at = UtcDateTime(data_key="createdAt", metadata=doc("Created, UTC."))
    updated_at = UtcDateTime(data_key="updatedAt", metadata=doc("Changed, UTC."))
