"""``client.batch``: many allocations in one call, metrics collection for a list of nodes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from k8s_gpu_client.api._base import Namespace, body
from k8s_gpu_client.models.allocations import AllocationRequest
from k8s_gpu_client.models.batch import BatchAllocationResult, BatchMetricsCollectResult

PREFIX = "/batch"


class Batch(Namespace):
    def allocations(
        self, requests: Sequence[AllocationRequest | Mapping[str, Any]]
    ) -> BatchAllocationResult:
        """Up to 100 allocations, all or none (the error's ``details.index`` names the first
        that failed). Mappings are sent as they are (camelCase keys)."""
        data = self._http.request("POST", PREFIX + "/allocations", body={"allocations": requests})
        return BatchAllocationResult.from_api(data)

    def collect_metrics(
        self,
        nodes: Sequence[str],
        *,
        collect_gpu_metrics: bool = True,
        collect_node_metrics: bool = True,
        time_range: str = "1h",
    ) -> BatchMetricsCollectResult:
        """Sync these nodes, then their GPU and node averages over ``time_range`` (1h, 24h, 7d)."""
        payload = body(
            nodes=list(nodes),
            collect_gpu_metrics=collect_gpu_metrics,
            collect_node_metrics=collect_node_metrics,
            time_range=time_range,
        )
        data = self._http.request("POST", PREFIX + "/metrics/collect", body=payload)
        return BatchMetricsCollectResult.from_api(data)
