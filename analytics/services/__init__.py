"""Use cases. Services take plain values, raise analytics.errors, and know nothing of HTTP."""

from __future__ import annotations

from dataclasses import dataclass

from analytics.clock import Clock
from analytics.services.allocations import AllocationService
from analytics.services.apikeys import ApiKeyService
from analytics.services.budgets import BudgetService
from analytics.services.catalog import Catalogue
from analytics.services.cost import CostService
from analytics.services.devices import DeviceService
from analytics.services.events import EventRecorder
from analytics.services.forecast import ForecastService
from analytics.services.gpu_metrics import GpuMetricsService
from analytics.services.live_views import LiveViews
from analytics.services.mig import MigService
from analytics.services.pricebook import PriceBook
from analytics.services.ratelimits import RateLimiter
from analytics.services.reconciliation import ReconciliationService
from analytics.services.sync import InventorySync
from analytics.services.webhooks import WebhookService
from analytics.services.webhooks_alerts import AlertReceiver


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
    # Events and their webhook outbox (docs/webhooks.md).
    events: EventRecorder
    webhooks: WebhookService
    alert_receiver: AlertReceiver
    # Forecasts of GPU demand and cluster resources, with their per-process cache.
    forecast: ForecastService
    # Cost: price book, analysis and optimisation, budgets (README "Cost: how the numbers
    # are made").
    price_book: PriceBook
    cost: CostService
    budgets: BudgetService
    # Fleet-wide views from Prometheus, kept per worker for live_view_seconds.
    live_views: LiveViews
