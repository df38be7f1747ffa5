"""Cost endpoints: analysis, optimisation suggestions, the price book and budgets."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from analytics.api.context import actor, principal, services
from analytics.api.envelope import ApiBlueprint
from analytics.api.expensive import expensive
from analytics.errors import Forbidden
from analytics.resources.cost.schemas import (
    AnalysisQuerySchema,
    BudgetRequestSchema,
    BudgetSchema,
    BudgetUpdateSchema,
    CostAnalysisSchema,
    ModelPriceSchema,
    OptimizationQuerySchema,
    OptimizationSchema,
    PriceUpdateSchema,
)

blp = ApiBlueprint(
    "cost",
    __name__,
    url_prefix="/k8s-monitor/api/v1/gpu/cost",
    description="GPU cost: analysis, optimisation, price book, budgets.",
)

ADMIN = "admin"


def require_admin() -> None:
    caller = principal()
    if not caller.has_role(ADMIN):
        raise Forbidden(
            "Only the admin role may change prices and budgets.",
            {"role": caller.role, "requiredRole": ADMIN},
        )


@blp.route("/analysis")
class Analysis(MethodView):
    @blp.doc(operationId="getCostAnalysis")
    @blp.arguments(AnalysisQuerySchema, location="query")
    @blp.envelope_response(200, CostAnalysisSchema)
    @expensive
    def get(self, query: dict[str, Any]) -> Any:
        """Cost of the last `days` days by namespace, team, user, project and model

        **Method.** Usage comes from Prometheus, aggregated there: every step of the window
        (5 minutes for windows up to 3 days, else 1 hour) Prometheus evaluates which pod holds
        which GPU or MIG instance (`gpu_pod_allocation_info`, the kubelet's assignment), and
        `sum_over_time`/`count_over_time` add the steps up per pod and device. A unit held by k
        pods at a step (time-slicing) counts 1/k for each. A pod's cost is, over the units it
        held, unit price x hours held; a whole GPU's unit price is its price-book price (or its
        amortised purchaseCost, when configured), a MIG instance's is that x its share
        (`mig_pricing`: C/7 by default, M/8, or the larger).

        **Four-way split.** Every GPU's price x hours present is split into *used* (held by a
        pod while busy), *allocatedIdle* (held while idle: utilisation below
        `idleUtilizationThreshold`; for a MIG instance, memory in use below it, as NVML has no
        per-instance utilisation), *unallocated* (no pod held it; free MIG slices a new instance
        could use) and *stranded* (MIG slices no profile can use given the layout); the four add
        up to price x hours.

        **Owners.** Team, user and project come from the ledger allocation of that namespace and
        pod overlapping the window (latest first), else from the pod labels `team`, `user`,
        `project` (kube_pod_labels; names are settings), else `unassigned`.

        dailyCost is the attributed cost per day over the window; weeklyCost and monthlyCost are
        7 and 30 times it; costByNamespace and costByTeam add up to totalCost. fleetCost includes
        unallocated and stranded capacity. potentialMonthlySavings is the sum of
        GET /gpu/cost/optimization's estimates. 503 METRICS_UNAVAILABLE without Prometheus.
        """
        return services().cost.analysis(query["days"])


@blp.route("/optimization")
class Optimization(MethodView):
    @blp.doc(operationId="getCostOptimization")
    @blp.arguments(OptimizationQuerySchema, location="query")
    @blp.envelope_response(200, OptimizationSchema)
    @expensive
    def get(self, query: dict[str, Any]) -> Any:
        """Cost optimisation suggestions with their evidence and monthly USD estimates

        Types: IDLE_ALLOCATED_GPU (held >= 24 h of the window, idle >= 90 % of it),
        MIG_RIGHTSIZE (one pod on a whole MIG-capable GPU whose peak memory x 1.2 fits a
        profile whose compute share covers the mean utilisation; the profile is named),
        CONSOLIDATE_GPUS (two GPUs of a model below 30 % mean utilisation, together <= 80 %),
        CHEAPER_MODEL (<= 30 % busy and fits a cheaper model of the fleet), PAST_PLANNED_RELEASE
        (a ledger allocation expired but its pod still holds GPUs) and STRANDED_MIG_SLICES (a
        layout leaves slices no profile can use). Each carries the window, devices, pods and
        metric values it rests on; estimates use 730 hours a month and count a GPU once.
        """
        return services().cost.optimization(query["days"])


@blp.route("/prices")
class Prices(MethodView):
    @blp.doc(operationId="listPrices")
    @blp.envelope_response(200, ModelPriceSchema, many=True)
    def get(self) -> Any:
        """The price book: each model's USD per GPU-hour, with source and date

        Precedence: a price set with PUT (admin), the `price_overrides` setting, the
        catalogue's default (REFERENCE.md: median public on-demand offers, 2026).
        """
        return list(services().price_book.prices().values())


@blp.route("/prices/<string:modelId>")
class Price(MethodView):
    @blp.doc(operationId="getPrice")
    @blp.envelope_response(200, ModelPriceSchema)
    def get(self, modelId: str) -> Any:
        """One model's price"""
        return services().price_book.price(modelId)

    @blp.doc(operationId="setPrice")
    @blp.arguments(PriceUpdateSchema)
    @blp.envelope_response(200, ModelPriceSchema)
    def put(self, body: dict[str, Any], modelId: str) -> Any:
        """Set a model's price (admin); it applies to every cost computed from now on

        Costs are recomputed from usage at each request, so a window's cost uses the current
        book. Allocations already made keep the costPerHour they were made with.
        """
        require_admin()
        return services().price_book.set_price(
            modelId, body["price_per_hour"], body.get("source"), actor()
        )

    @blp.doc(operationId="deletePrice")
    @blp.envelope_response(200, ModelPriceSchema)
    def delete(self, modelId: str) -> Any:
        """Remove the price set through the API (admin): the setting or catalogue price applies"""
        require_admin()
        return services().price_book.clear_price(modelId)


@blp.route("/budgets")
class Budgets(MethodView):
    @blp.doc(operationId="listBudgets")
    @blp.envelope_response(200, BudgetSchema, many=True)
    def get(self) -> Any:
        """Budgets with their last projection"""
        return services().budgets.list_budgets()

    @blp.doc(operationId="createBudget")
    @blp.arguments(BudgetRequestSchema)
    @blp.envelope_response(201, BudgetSchema)
    def post(self, body: dict[str, Any]) -> Any:
        """Create a monthly budget for a team or namespace (admin)

        409 RESOURCE_ALREADY_EXISTS when that scope and name has one.
        """
        require_admin()
        return services().budgets.create(body["scope"], body["name"], body["monthly_budget"])


@blp.route("/budgets/check")
class BudgetCheck(MethodView):
    @blp.doc(operationId="checkBudgets")
    @blp.envelope_response(200, BudgetSchema, many=True)
    def post(self) -> Any:
        """Evaluate every budget now (operator or admin)

        Projected monthly cost = the last N days' attributed cost / N x 30 (N:
        `budget_projection_days`, default 7). A budget whose projection goes above it records
        one COST_THRESHOLD_EXCEEDED event (delivered to webhooks), once per budget and month.
        """
        return services().budgets.check()


@blp.route("/budgets/<string:budgetId>")
class Budget(MethodView):
    @blp.doc(operationId="getBudget")
    @blp.envelope_response(200, BudgetSchema)
    def get(self, budgetId: str) -> Any:
        """One budget"""
        return services().budgets.get(budgetId)

    @blp.doc(operationId="updateBudget")
    @blp.arguments(BudgetUpdateSchema)
    @blp.envelope_response(200, BudgetSchema)
    def put(self, body: dict[str, Any], budgetId: str) -> Any:
        """Change a budget's amount (admin)"""
        require_admin()
        return services().budgets.update(budgetId, body["monthly_budget"])

    @blp.doc(operationId="deleteBudget")
    @blp.envelope_response(200, BudgetSchema)
    def delete(self, budgetId: str) -> Any:
        """Delete a budget (admin); returns it as it was"""
        require_admin()
        return services().budgets.delete(budgetId)
