"""``client.cost``: cost analysis and optimisation, the price book and budgets (/gpu/cost), and
the allocation cost statistics."""

from __future__ import annotations

from k8s_gpu_client._http import path
from k8s_gpu_client.api._base import Namespace, body
from k8s_gpu_client.models.allocations import CostStatistics
from k8s_gpu_client.models.cost import Budget, CostAnalysis, CostOptimization, ModelPrice

PREFIX = "/gpu/cost"


class Cost(Namespace):
    def analyze(self, *, days: int = 30) -> CostAnalysis:
        """Daily, weekly, monthly cost by namespace and team, potential savings (USD)."""
        data = self._http.request("GET", PREFIX + "/analysis", params={"days": days})
        return CostAnalysis.from_api(data)

    def optimization(self, *, days: int | None = None) -> CostOptimization:
        """Concrete suggestions with their evidence and monthly saving (USD)."""
        data = self._http.request("GET", PREFIX + "/optimization", params={"days": days})
        return CostOptimization.from_api(data)

    def statistics(self, *, days: int | None = None) -> CostStatistics:
        """Allocation cost by team, namespace, user and model (/gpu/allocations/cost-statistics)."""
        data = self._http.request("GET", "/gpu/allocations/cost-statistics", params={"days": days})
        return CostStatistics.from_api(data)

    # -- the price book ---------------------------------------------------------------------

    def prices(self) -> list[ModelPrice]:
        """Each model's USD per GPU-hour with its source."""
        return ModelPrice.from_api_list(self._http.request("GET", PREFIX + "/prices"))

    def price(self, model_id: str) -> ModelPrice:
        return ModelPrice.from_api(self._http.request("GET", PREFIX + path("prices", model_id)))

    def set_price(
        self, model_id: str, price_per_hour: float, *, source: str | None = None
    ) -> ModelPrice:
        """Set a model's price, USD per GPU-hour (admin)."""
        payload = body(price_per_hour=price_per_hour, source=source)
        data = self._http.request("PUT", PREFIX + path("prices", model_id), body=payload)
        return ModelPrice.from_api(data)

    def reset_price(self, model_id: str) -> ModelPrice:
        """Remove the price set through the API (admin): the configured or catalogue one
        applies again."""
        data = self._http.request("DELETE", PREFIX + path("prices", model_id))
        return ModelPrice.from_api(data)

    # -- budgets ----------------------------------------------------------------------------

    def budgets(self) -> list[Budget]:
        """Budgets with their last projection."""
        return Budget.from_api_list(self._http.request("GET", PREFIX + "/budgets"))

    def budget(self, budget_id: str) -> Budget:
        return Budget.from_api(self._http.request("GET", PREFIX + path("budgets", budget_id)))

    def create_budget(self, *, scope: str, name: str, monthly_budget: float) -> Budget:
        """A monthly budget (USD) for a ``team`` or ``namespace`` scope (admin)."""
        payload = body(scope=scope, name=name, monthly_budget=monthly_budget)
        return Budget.from_api(self._http.request("POST", PREFIX + "/budgets", body=payload))

    def update_budget(self, budget_id: str, *, monthly_budget: float) -> Budget:
        payload = body(monthly_budget=monthly_budget)
        data = self._http.request("PUT", PREFIX + path("budgets", budget_id), body=payload)
        return Budget.from_api(data)

    def delete_budget(self, budget_id: str) -> Budget:
        """Delete a budget (admin); returns it as it was."""
        data = self._http.request("DELETE", PREFIX + path("budgets", budget_id))
        return Budget.from_api(data)

    def check_budgets(self) -> list[Budget]:
        """Evaluate every budget now (operator)."""
        return Budget.from_api_list(self._http.request("POST", PREFIX + "/budgets/check"))
