"""Typed results of the API: dataclasses with the API's fields in snake_case.

Every result is an :class:`ApiModel`: unknown fields are kept in ``extra``, ``to_api()`` gives
the API's JSON back.
"""

from __future__ import annotations

from k8s_gpu_client.models._base import ApiModel, to_api_value
from k8s_gpu_client.models.accounts import ApiKey, NewApiKey, Token, User
from k8s_gpu_client.models.allocations import (
    Allocation,
    AllocationRequest,
    CostStatistics,
    KubernetesRequest,
    Reconciliation,
)
from k8s_gpu_client.models.batch import BatchAllocationResult, BatchMetricsCollectResult
from k8s_gpu_client.models.cost import (
    Budget,
    CostAnalysis,
    CostOptimization,
    CostSuggestion,
    ModelPrice,
)
from k8s_gpu_client.models.devices import Device, DeviceHealth, DeviceStatistics, OverheatingDevice
from k8s_gpu_client.models.forecast import (
    ForecastPoint,
    GpuForecast,
    ResourceForecast,
    SeriesForecast,
)
from k8s_gpu_client.models.metrics import (
    CollectionStatus,
    GpuClusterHealth,
    GpuOverview,
    OverheatingAlerts,
    SyncResult,
    UsageStatistics,
)
from k8s_gpu_client.models.mig import MigInstance, MigLayout, MigStatistics
from k8s_gpu_client.models.paging import Page, PagedModel, Pagination
from k8s_gpu_client.models.resources import (
    ClusterHealth,
    ClusterStatistics,
    ClusterUsage,
    MetricsStatus,
    NamespaceUsage,
    Node,
    NodeDetail,
    Pod,
    PodDetail,
    ResourceAlert,
    TopPod,
)
from k8s_gpu_client.models.webhooks import Receipt, Webhook, WebhookDelivery, WebhookTestEvent

__all__ = [
    "Allocation",
    "AllocationRequest",
    "ApiKey",
    "ApiModel",
    "BatchAllocationResult",
    "BatchMetricsCollectResult",
    "Budget",
    "ClusterHealth",
    "ClusterStatistics",
    "ClusterUsage",
    "CollectionStatus",
    "CostAnalysis",
    "CostOptimization",
    "CostStatistics",
    "CostSuggestion",
    "Device",
    "DeviceHealth",
    "DeviceStatistics",
    "ForecastPoint",
    "GpuClusterHealth",
    "GpuForecast",
    "GpuOverview",
    "KubernetesRequest",
    "MetricsStatus",
    "MigInstance",
    "MigLayout",
    "MigStatistics",
    "ModelPrice",
    "NamespaceUsage",
    "NewApiKey",
    "Node",
    "NodeDetail",
    "OverheatingAlerts",
    "OverheatingDevice",
    "Page",
    "PagedModel",
    "Pagination",
    "Pod",
    "PodDetail",
    "Receipt",
    "Reconciliation",
    "ResourceAlert",
    "ResourceForecast",
    "SeriesForecast",
    "SyncResult",
    "Token",
    "TopPod",
    "UsageStatistics",
    "User",
    "Webhook",
    "WebhookDelivery",
    "WebhookTestEvent",
    "to_api_value",
]
