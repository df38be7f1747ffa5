"""Use cases. Services take plain values, raise analytics.errors, and know nothing of HTTP."""

from __future__ import annotations

from dataclasses import dataclass

from analytics.clock import Clock
from analytics.services.allocations import AllocationService
from analytics.services.apikeys import ApiKeyService
from analytics.services.catalog import Catalogue
from analytics.services.devices import DeviceService
from analytics.services.gpu_metrics import GpuMetricsService
from analytics.services.mig import MigService
from analytics.services.ratelimits import RateLimiter
from analytics.services.reconciliation import ReconciliationService
from analytics.services.sync import InventorySync


@dataclass(frozen=True)
class Services:
    clock: Clock
    catalogue: Catalogue
    devices: DeviceService
    mig: MigService
    allocations: AllocationService
    api_keys: ApiKeyService
    rate_limiter: RateLimiter
    gpu_metrics: GpuMetricsService
    inventory_sync: InventorySync
    reconciliation: ReconciliationService
