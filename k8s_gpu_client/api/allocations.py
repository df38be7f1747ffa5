"""``client.allocations``: the allocation ledger (/gpu/allocations)."""

from __future__ import annotations

from datetime import datetime

from k8s_gpu_client._http import path
from k8s_gpu_client.api._base import Namespace, body
from k8s_gpu_client.models.allocations import Allocation, CostStatistics, Reconciliation
from k8s_gpu_client.models.paging import Page

PREFIX = "/gpu/allocations"


class Allocations(Namespace):
    def create(
        self,
        *,
        namespace: str,
        pod_name: str,
        required_memory_gb: float,
        workload_type: str | None = None,
        use_mig: bool | None = None,
        container_name: str | None = None,
        preferred_model_id: str | None = None,
        planned_release_time: datetime | None = None,
        user_id: str | None = None,
        team_id: str | None = None,
        project_id: str | None = None,
        max_cost_per_hour: float | None = None,
    ) -> Allocation:
        """Allocate a whole GPU (``use_mig=False``) or a MIG instance with enough memory (GB).

        Raises InsufficientResourcesError when nothing free fits, CostLimitExceededError when
        all that fits costs more than ``max_cost_per_hour`` (USD). Never retried on 503.
        """
        payload = body(
            namespace=namespace,
            pod_name=pod_name,
            container_name=container_name,
            workload_type=workload_type,
            use_mig=use_mig,
            required_memory_gb=required_memory_gb,
            preferred_model_id=preferred_model_id,
            planned_release_time=planned_release_time,
            user_id=user_id,
            team_id=team_id,
            project_id=project_id,
            max_cost_per_hour=max_cost_per_hour,
        )
        return Allocation.from_api(self._http.request("POST", PREFIX, body=payload))

    def release(self, allocation_id: str) -> Allocation:
        """Release (idempotent: an ended allocation is returned as it is)."""
        data = self._http.request("DELETE", PREFIX + path(allocation_id))
        return Allocation.from_api(data)

    def get(self, allocation_id: str) -> Allocation:
        """One allocation with its status history."""
        return Allocation.from_api(self._http.request("GET", PREFIX + path(allocation_id)))

    def list(
        self,
        *,
        namespace: str | None = None,
        user_id: str | None = None,
        team_id: str | None = None,
        status: str | None = None,
        page: int | None = None,
        size: int | None = None,
    ) -> Page[Allocation]:
        """Live allocations (``status``: ALLOCATED by default, RELEASED, EXPIRED or ALL) by
        allocation time; all of them, or with ``page`` (from 1) and ``size`` one page."""
        params = {"namespace": namespace, "userId": user_id, "teamId": team_id, "status": status}
        return self._list(Allocation, PREFIX, {**params, "page": page, "size": size})

    def expiring(
        self, *, hours: int = 24, page: int | None = None, size: int | None = None
    ) -> Page[Allocation]:
        """Live allocations whose planned release falls within the next ``hours``, soonest
        first; all, or one page."""
        params = {"hours": hours, "page": page, "size": size}
        return self._list(Allocation, PREFIX + "/expiring", params)

    def cost_statistics(self, *, days: int | None = None) -> CostStatistics:
        """Cost (USD) by team, namespace, user and model; ``days`` limits the window."""
        data = self._http.request("GET", PREFIX + "/cost-statistics", params={"days": days})
        return CostStatistics.from_api(data)

    def reconciliation(self, *, namespace: str | None = None) -> Reconciliation:
        """The ledger against the kubelet's assignments."""
        data = self._http.request(
            "GET", PREFIX + "/reconciliation", params={"namespace": namespace}
        )
        return Reconciliation.from_api(data)
